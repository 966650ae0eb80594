"""CyTube-compatible stand-in server for the cytube.shipit sandbox and CI.

Run with ``python -m sandbox.cytube --config sandbox/cytube.sandbox.json``.
Behaviour follows /work/shared/CYTUBE_PROTOCOL.md; see docs/cytube-standin.md.
"""

"""Library behind ``sandbox/sandbox``: systemd-nspawn hosts for the cytube.shipit sandbox.

Standard library only: it runs with the system ``/usr/bin/python3``, never the .venv.
"""

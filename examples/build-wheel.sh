#!/usr/bin/env bash
# Build an example bot's wheel with a given version and print its path:
#   examples/build-wheel.sh VERSION OUTDIR [PROJECT]     (PROJECT: refbot (default) or chatbot)
# Uses the controller venv's setuptools (no download); PYTHON overrides the interpreter.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-"$here/../.venv/bin/python"}
exec "$python" "$here/build_wheel.py" "$@"

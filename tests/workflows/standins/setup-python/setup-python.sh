#!/usr/bin/env bash
# See action.yml.
set -euo pipefail
found=$(command -v "python$WANTED") || { echo "setup-python stand-in: no python$WANTED on this machine" >&2; exit 1; }
dirname "$found" >>"$GITHUB_PATH"
echo "setup-python stand-in: $("$found" --version) at $found"

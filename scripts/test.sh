#!/usr/bin/env bash
# The whole test suite: static checks, unit tests, the CyTube stand-in and reference
# bot suites, the sandbox integration tests (real hosts over SSH) and molecule.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export PATH="$repo/.venv/bin:$PATH" ANSIBLE_CONFIG="$repo/ansible.cfg"

if [[ $(id -u) -ne 0 ]]; then
  echo "test: the sandbox tests boot systemd-nspawn hosts and need root: run 'sudo make test'" >&2
  exit 2
fi

start=$(date +%s)
scripts/lint.sh

printf '\n== pytest\n'
pytest

printf '\n== molecule\n'
molecule test --all
# The dashboard scenario leaves the shared sandbox up (its destroy removes only what its role installed).
sandbox/sandbox down

echo
echo "test: everything passed in $(( $(date +%s) - start )) s"

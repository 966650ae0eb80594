#!/usr/bin/env bash
# The ci workflow's quick suite (suite: quick), for runs that exercise the pipeline itself (the act scenarios
# of `make test` use it so that `make test` does not run inside itself): the workflow invariants and a syntax
# check of every playbook. The full suite is `sudo make test`.
set -euo pipefail
cd "$(dirname "$0")/../.."
python scripts/ci/check_workflows.py
playbooks=(playbooks/*.yml)
ansible-playbook --syntax-check -i localhost, "${playbooks[@]}" >/dev/null
echo "quick-tests: workflow invariants hold; ${#playbooks[@]} playbooks pass the syntax check"

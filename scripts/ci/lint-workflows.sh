#!/usr/bin/env bash
# The workflows and the composite action: actionlint (syntax, expressions, job and permission wiring of reusable
# workflows), zizmor (security: pinning, permissions, injection, credentials; config in .github/zizmor.yml) and
# the repository's own invariants (scripts/ci/check_workflows.py: pins, timeouts, concurrency, ci before deploy).
set -euo pipefail
cd "$(dirname "$0")/../.."
echo "actionlint: $(actionlint --version | head -1)"
actionlint
zizmor --offline --no-progress --min-severity low .github/
python scripts/ci/check_workflows.py

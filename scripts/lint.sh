#!/usr/bin/env bash
# Every static check in one command: ruff, yamllint, the workflows (actionlint, zizmor,
# scripts/ci/check_workflows.py), ansible-lint (production profile), ansible-test sanity,
# and a collection build that installs and resolves.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
bin="$repo/.venv/bin"
export PATH="$bin:$PATH" ANSIBLE_CONFIG="$repo/ansible.cfg"

step() { printf '\n== %s\n' "$*"; }

step "ruff"
ruff check .
ruff format --check plugins sandbox examples tests scripts || {
  echo "lint: run '.venv/bin/ruff format plugins sandbox examples tests scripts' to fix formatting" >&2
  exit 1
}

step "yamllint"
yamllint -s .

step "workflows (actionlint, zizmor, the pipeline's invariants)"
scripts/ci/lint-workflows.sh

step "ansible-lint (production profile)"
ansible-lint --profile production

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

step "ansible-test sanity"
# ansible-test needs the tree at ansible_collections/<namespace>/<name>; copy what git
# would commit (tracked plus new, not ignored) so no venv or cache is scanned.
dest="$work/ansible_collections/cytube/shipit"
mkdir -p "$dest"
git ls-files -co --exclude-standard -z | grep -zv '^\.collections/' | tar --null -T - -cf - | tar -xf - -C "$dest"
git -C "$dest" init -q && git -C "$dest" add -A
(cd "$dest" && ansible-test sanity --local --python 3.11 --color no \
  --exclude .ci/ --exclude scripts/ --exclude sandbox/ --exclude examples/ --exclude tests/ --exclude docs/ \
  --exclude dashboard/)

step "collection build and install"
ansible-galaxy collection build --force --output-path "$work/build" >/dev/null
tarball=$(ls "$work"/build/cytube-shipit-*.tar.gz)
ansible-galaxy collection install --force -p "$work/installed" "$tarball" >/dev/null
for module in $(cd plugins/modules && ls ./*.py | sed 's|^\./||; s|\.py$||'); do
  [[ "$module" == __init__ ]] && continue
  ANSIBLE_COLLECTIONS_PATH="$work/installed" ansible-doc -t module "cytube.shipit.$module" >/dev/null
done
echo "built and installed $(basename "$tarball"); ansible-doc resolves every module from it"
echo
echo "lint: all checks passed"

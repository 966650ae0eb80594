#!/usr/bin/env bash
# Controller-only setup for the deploy, rollback and release jobs (.github/actions/setup runs it): no root,
# the runner's python3, a virtualenv with requirements/deploy.txt, the collection this script belongs to,
# and SSH that trusts only the pinned host keys.
#
# Environment (all optional unless said):
#   SHIPIT_VENV          where the virtualenv goes (default $RUNNER_TEMP/shipit-venv); an existing one with the
#                        same requirements is reused
#   SHIPIT_PYTHON        the interpreter (default python3; ansible-core needs >= 3.11)
#   SHIPIT_DEPLOY_KEY    the SSH private key of the deploy user (a secret); with it, SHIPIT_KNOWN_HOSTS is required
#   SHIPIT_KNOWN_HOSTS   known_hosts lines of the bot hosts (ssh-keyscan output checked out of band)
#   SHIPIT_EXTRA_REQUIREMENTS  more requirement files to install, space-separated (the release job's)
# Writes to $GITHUB_ENV / $GITHUB_PATH (or prints the exports when run by hand).
set -euo pipefail

collection=$(cd "$(dirname "$0")/../.." && pwd)
work=${RUNNER_TEMP:-${TMPDIR:-/tmp}}
venv=${SHIPIT_VENV:-$work/shipit-venv}
python=${SHIPIT_PYTHON:-python3}
ssh_dir="$work/shipit-ssh"

fail() { echo "setup-controller: $*" >&2; exit 2; }

check_python() {
  command -v "$python" >/dev/null || fail "no $python on PATH: set SHIPIT_PYTHON to a Python >= 3.11"
  "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
    fail "$("$python" --version 2>&1) is too old for ansible-core 2.19: set SHIPIT_PYTHON to a Python >= 3.11"
}

install_venv() {
  local files=("$collection/requirements/deploy.txt") extra
  for extra in ${SHIPIT_EXTRA_REQUIREMENTS:-}; do files+=("$collection/$extra"); done
  # One stamp per set of requirement files: jobs with different extras can share one virtualenv.
  local wanted stamp
  wanted=$(cat "${files[@]}" "$collection/requirements/controller.lock" | sha256sum | cut -d' ' -f1)
  stamp="$venv/.shipit-requirements-$wanted"
  if [[ -x "$venv/bin/python" && -f "$stamp" ]]; then
    echo "setup-controller: $venv is up to date"
    return
  fi
  # Jobs that share one virtualenv (a self-hosted runner, the act scenarios) install one at a time.
  mkdir -p "$(dirname "$venv")"
  exec 9>"$venv.lock"
  flock 9
  if [[ -x "$venv/bin/python" && -f "$stamp" ]]; then
    echo "setup-controller: $venv is up to date"
    return
  fi
  [[ -x "$venv/bin/python" ]] || "$python" -m venv "$venv"
  local args=() file
  for file in "${files[@]}"; do args+=(-r "$file"); done
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${args[@]}" -c "$collection/requirements/controller.lock"
  touch "$stamp"
  echo "setup-controller: installed ${files[*]#"$collection/"} into $venv"
}

install_ssh() {
  if [[ -z "${SHIPIT_DEPLOY_KEY:-}" ]]; then
    echo "setup-controller: no SHIPIT_DEPLOY_KEY: SSH is left as it is (fine for jobs that reach no host)"
    return
  fi
  [[ -n "${SHIPIT_KNOWN_HOSTS:-}" ]] ||
    fail "SHIPIT_DEPLOY_KEY is set but SHIPIT_KNOWN_HOSTS is empty: store the bot hosts' keys (ssh-keyscan HOST, checked against the host) in the secret or variable SHIPIT_KNOWN_HOSTS; host keys are never trusted on first use"
  install -m 0700 -d "$ssh_dir"
  (umask 077 && printf '%s\n' "$SHIPIT_DEPLOY_KEY" >"$ssh_dir/id_deploy")
  printf '%s\n' "$SHIPIT_KNOWN_HOSTS" >"$ssh_dir/known_hosts"
  export_var ANSIBLE_PRIVATE_KEY_FILE "$ssh_dir/id_deploy"
  export_var ANSIBLE_HOST_KEY_CHECKING True
  export_var ANSIBLE_SSH_ARGS "-o ControlMaster=auto -o ControlPersist=120s -o ServerAliveInterval=15 -o LogLevel=ERROR -o StrictHostKeyChecking=yes -o UserKnownHostsFile=$ssh_dir/known_hosts"
  echo "setup-controller: deploy key installed; host keys pinned from SHIPIT_KNOWN_HOSTS ($(grep -c . "$ssh_dir/known_hosts") lines)"
}

export_var() {
  if [[ -n "${GITHUB_ENV:-}" ]]; then
    printf '%s=%s\n' "$1" "$2" >>"$GITHUB_ENV"
  else
    printf 'export %s=%q\n' "$1" "$2"
  fi
}

export_path() {
  if [[ -n "${GITHUB_PATH:-}" ]]; then echo "$1" >>"$GITHUB_PATH"; else echo "export PATH=$1:\$PATH"; fi
}

check_python
install_venv
install_ssh
export_path "$venv/bin"
export_var SHIPIT_COLLECTION_ROOT "$collection"
# The collection runs from this checkout: ansible.cfg's collections_path points at .collections/, a symlink
# to the repository root. A job with an ansible.cfg of its own keeps it.
[[ -n "${ANSIBLE_CONFIG:-}" ]] || export_var ANSIBLE_CONFIG "$collection/ansible.cfg"
export_var ANSIBLE_COLLECTIONS_PATH "$collection/.collections"
export_var SHIPIT_OUTCOME_DIR "$work/shipit-outcomes"

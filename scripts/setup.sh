#!/usr/bin/env bash
# One setup step for the controller: Debian packages the sandbox needs, and the
# project virtualenv with pinned Python dependencies. Safe to re-run: it only
# does work when something is missing or a pin changed.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
venv="$repo/.venv"
apt_packages=(debootstrap systemd-container openssh-client iproute2 util-linux tar sqlite3 postgresql chromium)

need_apt=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done
if ((${#need_apt[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing Debian packages ${need_apt[*]}; run as root (sudo make setup) or apt-get install them" >&2
    exit 2
  fi
  echo "setup: installing Debian packages: ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# The machine's python3 may be a pyenv shim; pick a real interpreter explicitly.
python=${SHIPIT_PYTHON:-$(command -v python3.11 || command -v python3)}
stamp="$venv/.requirements.sha256"
wanted=$(cat "$repo/requirements/controller.txt" "$repo/requirements/controller.lock" | sha256sum | cut -d' ' -f1)
if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
  echo "setup: .venv is up to date"
else
  echo "setup: creating .venv with $("$python" --version)"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip==23.2.1
  "$venv/bin/pip" install -q -r "$repo/requirements/controller.txt" -c "$repo/requirements/controller.lock"
  echo "$wanted" > "$stamp"
fi

# ansible-test sanity wants get-pip from a host we cannot reach; it looks for a
# cached copy first. This stand-in bootstraps pip with ensurepip and keeps the
# machine's pip settings (ensurepip clears PIP_* variables, so pass them on).
cache="$HOME/.ansible/test/cache"
mkdir -p "$cache"
install -m 0644 "$repo/scripts/get_pip_standin.py" "$cache/get_pip_24_2.py"

# GitHub's OpenAPI description for the GitHub API stand-in (sandbox/github validates every
# request and response against it). Only generated/api.github.com.json is used, but the
# npm package is ~385 MB, so it lives in a git-ignored cache outside the checkout.
octokit_version=23.0.2
octokit_dir=${SHIPIT_OCTOKIT_OPENAPI:-/var/cache/cytube-shipit/octokit-openapi}
if [[ -f "$octokit_dir/node_modules/@octokit/openapi/generated/api.github.com.json" &&
  "$(cat "$octokit_dir/.version" 2>/dev/null)" == "$octokit_version" ]]; then
  echo "setup: @octokit/openapi $octokit_version is cached in $octokit_dir"
elif ! command -v npm >/dev/null; then
  echo "setup: npm is missing, so the GitHub stand-in cannot start: apt-get install npm, then re-run" >&2
  exit 2
else
  echo "setup: installing @octokit/openapi $octokit_version into $octokit_dir"
  mkdir -p "$octokit_dir"
  npm install --prefix "$octokit_dir" --no-audit --no-fund --ignore-scripts --silent "@octokit/openapi@$octokit_version"
  echo "$octokit_version" >"$octokit_dir/.version"
fi

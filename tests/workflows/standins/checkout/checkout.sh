#!/usr/bin/env bash
# See action.yml. act copies the repository into the workspace only when it skips actions/checkout itself;
# with this stand-in in its place, the stand-in clones the scenario's repository (ACT_SCENARIO_REPO, given
# to act with --env) and keeps its remote: origin named like GitHub, pushing to the scenario's bare origin.
# Fails, like actions/checkout, when the ref exists nowhere.
set -euo pipefail
: "${ACT_SCENARIO_REPO:?the act scenarios pass --env ACT_SCENARIO_REPO=<the scenario repository>}"
if [[ ! -d .git ]]; then
  git clone -q --no-hardlinks "$ACT_SCENARIO_REPO" .
  git remote set-url origin "$(git -C "$ACT_SCENARIO_REPO" config remote.origin.url)"
  git config remote.origin.pushurl "$(git -C "$ACT_SCENARIO_REPO" config remote.origin.pushurl)"
  git checkout -q --detach "$(git -C "$ACT_SCENARIO_REPO" rev-parse HEAD)"
fi
[[ -n "${REF:-}" ]] || { echo "checkout stand-in: at the event's commit $(git rev-parse HEAD)"; exit 0; }
bare=$(git config remote.origin.pushurl)
if ! git rev-parse -q --verify "$REF^{commit}" >/dev/null; then
  git fetch -q "$bare" "+refs/tags/*:refs/tags/*" "+refs/heads/*:refs/remotes/origin/*"
fi
commit=$(git rev-parse --verify -q "$REF^{commit}") || { echo "checkout stand-in: $REF is not in the repository" >&2; exit 1; }
git checkout -q --detach "$commit"
echo "checkout stand-in: at $REF ($commit)"

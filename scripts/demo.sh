#!/usr/bin/env bash
# The demo: boot the sandbox (a systemd host over SSH and the CyTube stand-in), build the
# reference bot, deploy it to the sandbox channel, verify it from outside, and show what
# an operator would want to see.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export PATH="$repo/.venv/bin:$PATH" ANSIBLE_CONFIG="$repo/ansible.cfg"

if [[ $(id -u) -ne 0 ]]; then
  echo "demo: the sandbox boots systemd-nspawn hosts and needs root: run 'sudo make demo'" >&2
  exit 2
fi

version=${DEMO_VERSION:-1.0.0}
channel=shipit-sandbox
host=sandbox-1

printf '== sandbox\n'
hosts=$(sandbox/sandbox status 2>/dev/null | grep -c '^sandbox-' || true)
sandbox/sandbox up --hosts "$(( hosts > 1 ? hosts : 1 ))"

printf '\n== the deployment dashboard on %s\n' "$host"
ansible-playbook -i inventories/sandbox playbooks/dashboard.yml

printf '\n== build the reference bot %s\n' "$version"
wheel=$(examples/build-wheel.sh "$version" "$repo/build/wheels")
echo "$wheel"

printf '\n== deploy %s to channel %s on %s\n' "$version" "$channel" "$host"
start=$SECONDS
ansible-playbook -i inventories/sandbox playbooks/deploy.yml \
  -e "shipit_channel=$channel" -e "shipit_hosts=$host" -e "shipit_bot_source=$wheel"
deploy_s=$(( SECONDS - start ))

printf '\n== verify channel %s from outside\n' "$channel"
ansible-playbook -i inventories/sandbox playbooks/verify.yml -e "shipit_channel=$channel" -e "shipit_hosts=$host"

printf '\n== releases of channel %s\n' "$channel"
ansible-playbook -i inventories/sandbox playbooks/rollback.yml -e "shipit_channel=$channel" -e "shipit_hosts=$host" \
  -e rollback_to=list

dashboard=$(sed -n 's/^ *ansible_host: "\(.*\)"$/\1/p' inventories/sandbox/hosts.yml | head -1)
echo
echo "demo: channel $channel on $host runs cytube-refbot $version (deployed and verified in ${deploy_s} s)"
echo "demo: every run above is on the dashboard: http://${dashboard}:8095/ (API: /api/status, metrics: /metrics)"
echo "demo: 'sudo make sandbox-down' stops the sandbox"

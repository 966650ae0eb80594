# The same-run baseline of scripts/benchmark.py: what a deploy, a rollback and a verification cost when
# done by one plain shell script over ONE SSH connection, with none of cytube.shipit's checks, lock or
# records. Not run by itself: scripts/benchmark.py sends this file, then one call of a function below, to
# `ssh HOST bash -s`. A baseline channel is a cytube-bot@CHANNEL instance of the unit shipit installs
# (same sandboxing), under /srv/cytube-bots/CHANNEL, with the bot account's password set up once by
# baseline_setup (read from stdin, never an argument).
set -euo pipefail
export LC_ALL=C.UTF-8 PIP_NO_INPUT=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1

baseline_root() { printf '/srv/cytube-bots/%s' "$1"; }

# baseline_setup CHANNEL < password: the instance's directories and its systemd credential.
baseline_setup() {
    local channel=$1 root
    root=$(baseline_root "$channel")
    install -d -m 0755 "$root" "$root/releases"
    install -d -m 0750 -o cytube-bot -g cytube-bot "$root/shared"
    install -d -m 0700 "/etc/cytube-shipit/$channel"
    (umask 077 && cat >"/etc/cytube-shipit/$channel/bot-password")
}

# Poll the bot's health endpoint until it says it joined its channel (HTTP 200), at most 20 s.
baseline_wait_ready() {
    python3 - "$1" <<'PY'
import sys, time, urllib.request
url, deadline = "http://127.0.0.1:%s/health" % sys.argv[1], time.monotonic() + 20
while True:
    try:
        with urllib.request.urlopen(url, timeout=1) as answer:
            if answer.status == 200:
                break
    except OSError:
        pass
    if time.monotonic() > deadline:
        sys.exit("not ready within 20 s: " + url)
    time.sleep(0.05)
PY
}

baseline_switch() {
    local channel=$1 release=$2 root
    root=$(baseline_root "$channel")
    ln -sfn "releases/$release" "$root/current.new"
    mv -T "$root/current.new" "$root/current"
    systemctl restart "cytube-bot@$channel.service"
}

# baseline_new_release CHANNEL RELEASE PORT REQUIREMENT PIP_WHEEL CONFIG_B64 < base64 wheelhouse tar:
# build a venv with the bot in a new release directory, switch, restart, wait until ready.
baseline_new_release() {
    local channel=$1 release=$2 port=$3 requirement=$4 pip_wheel=$5 config_b64=$6 root dir
    root=$(baseline_root "$channel")
    dir=$root/releases/$release
    rm -rf "$dir"
    mkdir -p "$dir/.wheelhouse"
    base64 -d | tar -x -C "$dir/.wheelhouse"
    python3 -m venv --without-pip "$dir/venv"
    "$dir/venv/bin/python" "$dir/.wheelhouse/$pip_wheel/pip" install --quiet --no-index --no-cache-dir \
        --no-compile --find-links "$dir/.wheelhouse" "$requirement"
    "$dir/venv/bin/python" -m compileall -q -j 0 "$dir/venv/lib"
    printf '%s' "$config_b64" | base64 -d >"$dir/config.toml"
    printf '#!/bin/sh\nexec %s/venv/bin/cytube-refbot --config %s/config.toml\n' "$dir" "$dir" >"$dir/run"
    chmod 0755 "$dir/run"
    rm -rf "$dir/.wheelhouse"
    baseline_switch "$channel" "$release"
    baseline_wait_ready "$port"
}

# baseline_noop CHANNEL RELEASE PORT: the release is already live and the bot running: look, change nothing.
baseline_noop() {
    local channel=$1 release=$2 port=$3 root
    root=$(baseline_root "$channel")
    [ "$(readlink "$root/current")" = "releases/$release" ]
    systemctl is-active --quiet "cytube-bot@$channel.service"
    baseline_wait_ready "$port"
}

# baseline_rollback CHANNEL RELEASE PORT: switch back to an existing release, restart, wait until ready.
baseline_rollback() {
    local channel=$1 release=$2 port=$3
    [ -x "$(baseline_root "$channel")/releases/$release/run" ]
    baseline_switch "$channel" "$release"
    baseline_wait_ready "$port"
}

# baseline_verify CHANNEL PORT: the unit is active and the bot says it joined.
baseline_verify() {
    systemctl is-active --quiet "cytube-bot@$1.service"
    baseline_wait_ready "$2"
}

# baseline_remove CHANNEL: stop the instance and remove its files.
baseline_remove() {
    systemctl stop "cytube-bot@$1.service" 2>/dev/null || true
    rm -rf "$(baseline_root "$1")" "/etc/cytube-shipit/$1"
}

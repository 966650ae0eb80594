"""Wall time of the operations an operator waits for, on one sandbox host.

    sudo .venv/bin/python scripts/benchmark.py [--rounds 3] [--host sandbox-1] [--channel shipit-sandbox2]

Per round: the channel is wiped on the host, then
  first deploy      v1 with an empty controller wheel cache
  new release       v2 with a warm wheel cache
  no-op re-deploy   v2 again (nothing changes, nothing restarts)
  rollback          back to v1, verified
  verify            verify.yml alone on a healthy bot
Prints each figure per round and the median. A benchmark, not a test: it asserts nothing
about time; it fails only when a playbook fails. Needs the sandbox up (`sandbox/sandbox up`).
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = REPO / ".venv" / "bin"
INVENTORY = REPO / "inventories" / "sandbox"
WHEELS = REPO / "build" / "wheels"
STANDIN_ADMIN = "http://127.0.0.1:8091/admin/reset"
STEPS = ("first deploy", "new release (warm cache)", "no-op re-deploy", "rollback (verified)", "verify alone")


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}:{env.get('PATH', '')}"
    env["ANSIBLE_CONFIG"] = str(REPO / "ansible.cfg")
    return env


def build_wheel(version: str) -> Path:
    done = subprocess.run(
        [str(REPO / "examples" / "build-wheel.sh"), version, str(WHEELS)],
        check=True,
        capture_output=True,
        text=True,
    )
    return Path(done.stdout.strip())


def reset_standin_limits() -> None:
    """Refill the stand-in's per-IP buckets: back-to-back runs would otherwise measure CyTube's
    connection rate limit (5, then 1 per 10 s), not our own overhead."""
    request = urllib.request.Request(STANDIN_ADMIN, data=b"{}", method="POST")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=5):
        pass


def playbook(name: str, host: str, channel: str, *extra: str) -> float:
    """Run one playbook; return its wall time in seconds. Raise with its output on failure."""
    reset_standin_limits()
    argv = [
        str(VENV_BIN / "ansible-playbook"),
        "-i",
        str(INVENTORY),
        str(REPO / "playbooks" / name),
        "-e",
        f"shipit_hosts={host}",
        "-e",
        f"shipit_channel={channel}",
        *extra,
    ]
    started = time.monotonic()
    done = subprocess.run(argv, cwd=REPO, env=environment(), capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-2000:])
        raise SystemExit(f"benchmark: {name} {' '.join(extra)} failed (exit {done.returncode})")
    return elapsed


def wipe_channel(host: str, channel: str) -> None:
    """Remove the channel's instance and releases on the host, so the first deploy is a first."""
    script = (
        f"systemctl stop 'cytube-bot@{channel}.service' 2>/dev/null; "
        f"rm -rf /srv/cytube-bots/{shlex.quote(channel)} /etc/cytube-shipit/{shlex.quote(channel)}"
    )
    subprocess.run(
        [str(VENV_BIN / "ansible"), "-i", str(INVENTORY), host, "-m", "ansible.builtin.shell", "-a", script],
        cwd=REPO,
        env=environment(),
        check=True,
        capture_output=True,
        text=True,
    )


def one_round(host: str, channel: str, v1: Path, v2: Path) -> list[float]:
    wipe_channel(host, channel)
    with tempfile.TemporaryDirectory(prefix="shipit-bench-cache-") as cache:
        cold = ("-e", f"shipit_wheel_cache={cache}")
        return [
            playbook("deploy.yml", host, channel, "-e", f"shipit_bot_source={v1}", *cold),
            playbook("deploy.yml", host, channel, "-e", f"shipit_bot_source={v2}", *cold),
            playbook("deploy.yml", host, channel, "-e", f"shipit_bot_source={v2}", *cold),
            playbook("rollback.yml", host, channel),
            playbook("verify.yml", host, channel),
        ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--host", default="sandbox-1")
    parser.add_argument("--channel", default="shipit-sandbox2")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, got {args.rounds}")
    if not (INVENTORY / "hosts.yml").exists():
        parser.error("the sandbox is down: run 'sudo sandbox/sandbox up' first")
    v1, v2 = build_wheel("1.0.0"), build_wheel("2.0.0")
    rounds = []
    for number in range(1, args.rounds + 1):
        figures = one_round(args.host, args.channel, v1, v2)
        rounds.append(figures)
        shown = "  ".join(f"{step}={value:.2f}s" for step, value in zip(STEPS, figures, strict=True))
        print(f"round {number}: {shown}")
    print(f"\nmedians over {args.rounds} round(s), host {args.host}, channel {args.channel}:")
    for index, step in enumerate(STEPS):
        print(f"  {step:<26} {statistics.median(r[index] for r in rounds):6.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Fixtures and helpers for the deploy / verify / rollback playbook tests on sandbox hosts.

The tests run the real playbooks (``ansible-playbook`` from the controller venv) against the
sandbox hosts, with the CyTube stand-in as the outside world:

The fixtures themselves (in conftest.py):

* ``standin`` (session): the admin API of the stand-in that ``sandbox/sandbox up`` runs (on
  10.231.255.1 and 127.0.0.1, the sandbox's addresses).
* ``sandbox_secrets`` (session): the sandbox passwords, from
  ``inventories/sandbox/group_vars/all/secrets.yml`` (written by ``sandbox/sandbox up``, which
  also registers the accounts on the stand-in).
* ``wheels`` (session): reference-bot wheels 1.0.0, 2.0.0 and 3.0.0 built with
  ``examples/build-wheel.sh`` (reproducible builds, so the wheelhouse cache stays warm across sessions).
* ``Shipit``: runs the playbooks and looks at a channel on a host over ssh.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import jsonschema
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_outcome import failure_text
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_ratelimit import forget_all

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ANSIBLE_PLAYBOOK = BIN / "ansible-playbook"
ANSIBLE = BIN / "ansible"
ADMIN_URL = "http://127.0.0.1:8091"
SERVICE_ADDRESS = "10.231.255.1"
SECRETS_FILE = REPO_ROOT / "inventories" / "sandbox" / "group_vars" / "all" / "secrets.yml"
ROOT = "/srv/cytube-bots"
CHANNEL_1 = "shipit-sandbox"  # account shipbot, health port 8765
CHANNEL_2 = "shipit-sandbox2"  # account shipbot2, health port 8766
PROBE_USER = "shipprobe"
RECAP = re.compile(
    r"^(?P<host>\S+)\s*:\s*ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)"
    r"\s+failed=(?P<failed>\d+)\s+skipped=(?P<skipped>\d+)\s+rescued=(?P<rescued>\d+)",
    re.MULTILINE,
)


# --------------------------------------------------------------------------- the stand-in


def admin(method: str, path: str, body: Any = None, timeout: float = 5.0) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        ADMIN_URL + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read().decode() or "null")


def admin_up() -> bool:
    try:
        admin("GET", "/admin/state", timeout=1.0)
        return True
    except (urllib.error.URLError, OSError, ValueError):
        return False


class StandIn:
    """The sandbox stand-in's admin API (127.0.0.1:8091)."""

    def reset(self) -> None:
        """Faults off, rate-limit buckets and chat buffers cleared (the outside world between runs); the
        controller's own record of CyTube's connection budget is cleared with them."""
        admin("POST", "/admin/reset", {})
        forget_all()

    def faults(self, **switches: Any) -> None:
        admin("POST", "/admin/faults", switches)

    def users(self, channel: str) -> list[str]:
        for entry in admin("GET", "/admin/state")["channels"]:
            if entry["name"] == channel.lower():
                return [u["name"] for u in entry["users"]]
        return []


# --------------------------------------------------------------------------- wheels


# --------------------------------------------------------------------------- runs


OUTCOME_SCHEMA = json.loads((REPO_ROOT / "meta" / "outcome.schema.json").read_text())


def schema_valid(outcome: dict[str, Any]) -> dict[str, Any]:
    """``outcome``, after checking it against meta/outcome.schema.json."""
    jsonschema.Draft202012Validator(OUTCOME_SCHEMA, format_checker=jsonschema.FormatChecker()).validate(outcome)
    return outcome


@dataclasses.dataclass
class Run:
    argv: list[str]
    rc: int
    stdout: str
    stderr: str
    elapsed: float
    outcomes: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    @property
    def outcome(self) -> dict[str, Any]:
        """The run's one outcome (schema-checked), as run_outcome also wrote it to SHIPIT_OUTCOME_DIR."""
        assert len(self.outcomes) == 1, f"expected one outcome, got {len(self.outcomes)}:\n{self.explain()}"
        return self.outcomes[0]

    def ended_with_the_outcome_text(self) -> bool:
        """The failure text printed is the one rendered from the outcome (reason + next step)."""
        expected = "Action failed: " + failure_text(self.outcome)
        return any(line.endswith(expected) for line in self.output.splitlines())

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def recap(self, host: str) -> dict[str, int]:
        for match in RECAP.finditer(self.stdout):
            if match.group("host") == host:
                return {k: int(v) for k, v in match.groupdict().items() if k != "host"}
        raise AssertionError(f"no PLAY RECAP line for {host} in:\n{self.output[-3000:]}")

    def task_status(self, name: str) -> str:
        """ok/changed/skipping/failed/fatal of the first task whose header contains ``name``."""
        lines = self.stdout.splitlines()
        for index, line in enumerate(lines):
            if line.startswith("TASK [") and name in line:
                for following in lines[index + 1 :]:
                    if following.strip():
                        return following.split(":", 1)[0].strip()
        raise AssertionError(f"no task {name!r} in:\n{self.output[-3000:]}")

    def explain(self) -> str:
        return f"{' '.join(self.argv)}\nrc={self.rc} after {self.elapsed:.1f}s\n{self.output[-6000:]}"


class Shipit:
    """The playbooks, run on one sandbox host, and what they left on it."""

    def __init__(
        self, hosts: Any, host: Any, standin: StandIn, secrets_info: dict[str, Any], wheels: dict[str, Path]
    ) -> None:
        self.hosts = hosts
        self.host = host
        self.standin = standin
        self.secrets = secrets_info
        self.wheels = wheels

    # ------------------------------------------------------------- playbooks
    def env(self) -> dict[str, str]:
        env = dict(
            os.environ,
            ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"),
            ANSIBLE_FORCE_COLOR="0",
            ANSIBLE_NOCOLOR="1",
            PYTHONUNBUFFERED="1",
        )
        env["PATH"] = "{}:{}".format(BIN, env.get("PATH", ""))
        return env

    def argv(self, playbook: str, channel: str, extra: dict[str, Any] | None, args: tuple[str, ...]) -> list[str]:
        argv = [
            str(ANSIBLE_PLAYBOOK),
            "-i",
            "inventories/sandbox",
            f"playbooks/{playbook}",
            "-e",
            json.dumps({"shipit_hosts": self.host.name, "shipit_channel": channel}),
        ]
        if self.secrets["extra_vars"]:
            argv += ["-e", "@{}".format(self.secrets["extra_vars"])]
        if extra:
            argv += ["-e", json.dumps(extra)]
        return argv + list(args)

    def playbook(
        self,
        playbook: str,
        channel: str = CHANNEL_1,
        extra: dict[str, Any] | None = None,
        *args: str,
        reset: bool = True,
        timeout: float = 300,
        env: dict[str, str] | None = None,
    ) -> Run:
        if reset:
            self.standin.reset()
        argv = self.argv(playbook, channel, extra, args)
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="shipit-outcomes-") as outcome_dir:
            done = subprocess.run(
                argv,
                cwd=REPO_ROOT,
                env=dict(self.env(), SHIPIT_OUTCOME_DIR=outcome_dir, **(env or {})),
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
                check=False,
            )
            outcomes = [schema_valid(json.loads(path.read_text())) for path in sorted(Path(outcome_dir).glob("*.json"))]
        return Run(argv, done.returncode, done.stdout, done.stderr, time.monotonic() - started, outcomes)

    def start(
        self, playbook: str, channel: str = CHANNEL_1, extra: dict[str, Any] | None = None, *args: str
    ) -> subprocess.Popen:
        """Start a playbook in its own process group (to be killed as a whole)."""
        return subprocess.Popen(
            self.argv(playbook, channel, extra, args),
            cwd=REPO_ROOT,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def deploy(
        self,
        version: str,
        *args: str,
        channel: str = CHANNEL_1,
        faults: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Run:
        values: dict[str, Any] = {"shipit_bot_source": str(self.wheels[version])}
        if faults:
            values["shipit_bot_faults"] = faults
        values.update(extra or {})
        return self.playbook("deploy.yml", channel, values, *args)

    def deploy_source(self, source: str, channel: str = CHANNEL_1) -> Run:
        return self.playbook("deploy.yml", channel, {"shipit_bot_source": source})

    def rollback(self, extra: dict[str, Any] | None = None, *args: str, channel: str = CHANNEL_1) -> Run:
        return self.playbook("rollback.yml", channel, extra, *args)

    def verify(self, *args: str, channel: str = CHANNEL_1) -> Run:
        return self.playbook("verify.yml", channel, None, *args)

    def verify_with(self, extra: dict[str, Any], *args: str, channel: str = CHANNEL_1) -> Run:
        return self.playbook("verify.yml", channel, extra, *args)

    # ------------------------------------------------------------- the host
    def ssh(self, command: str, timeout: float = 60) -> str:
        done = self.hosts.ssh(self.host, command, timeout=timeout)
        assert done.returncode == 0, f"ssh {command} failed: {done.stdout}{done.stderr}"
        return done.stdout

    def current(self, channel: str = CHANNEL_1) -> str | None:
        out = self.hosts.ssh(self.host, f"readlink {ROOT}/{channel}/current").stdout.strip()
        return out.rsplit("/", 1)[-1] if out else None

    def releases(self, channel: str = CHANNEL_1) -> list[str]:
        out = self.hosts.ssh(self.host, f"ls -1 {ROOT}/{channel}/releases 2>/dev/null").stdout
        return sorted(out.split())

    def manifest(self, release: str, channel: str = CHANNEL_1) -> dict[str, Any]:
        return json.loads(self.ssh(f"cat {ROOT}/{channel}/releases/{release}/RELEASE.json"))

    def journal(self, channel: str = CHANNEL_1) -> list[dict[str, Any]]:
        """The channel's outcome journal on the host, each entry schema-checked."""
        out = self.hosts.ssh(self.host, f"cat {ROOT}/{channel}/.shipit/outcomes.jsonl 2>/dev/null").stdout
        return [schema_valid(json.loads(line)) for line in out.splitlines() if line.strip()]

    def state(self, channel: str = CHANNEL_1) -> dict[str, Any]:
        out = self.hosts.ssh(self.host, f"cat {ROOT}/{channel}/.shipit/state.json 2>/dev/null").stdout
        return json.loads(out) if out.strip() else {}

    def unit(self, channel: str = CHANNEL_1) -> dict[str, str]:
        out = self.ssh(
            f"systemctl show cytube-bot@{channel}.service -p ActiveState -p SubState -p MainPID -p NRestarts"
        )
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def main_pid(self, channel: str = CHANNEL_1) -> int:
        return int(self.unit(channel).get("MainPID") or 0)

    def wipe(self, channel: str) -> None:
        """Remove every trace of a channel from the host (a fresh start for a test module)."""
        self.hosts.ssh(
            self.host,
            f"systemctl disable --now cytube-bot@{channel}.service >/dev/null 2>&1; "
            f"systemctl reset-failed cytube-bot@{channel}.service >/dev/null 2>&1; "
            f"rm -rf {ROOT}/{channel} /etc/cytube-shipit/{channel}",
        )

    # ------------------------------------------------------------- from outside
    def answer(self, channel: str = CHANNEL_1, bot: str = "shipbot") -> str | None:
        """The version the bot answers !ping with on the channel, as a CyTube user sees it (None: no answer)."""
        self.standin.reset()
        args = {
            "server_url": f"http://{SERVICE_ADDRESS}:8080",
            "channel": channel,
            "bot_name": bot,
            "probe_user": PROBE_USER,
            "probe_password": self.secrets["probe"],
            "reply_timeout": 3,
        }
        env = dict(self.env(), ANSIBLE_CALLBACK_RESULT_FORMAT="json")
        done = subprocess.run(
            [str(ANSIBLE), "localhost", "-m", "cytube.shipit.cytube_check", "-a", json.dumps(args)],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        _head, sep, body = done.stdout.partition("=>")
        assert sep, f"cytube_check gave no result: {done.stdout}{done.stderr}"
        result = json.loads(body)
        return result.get("version") if result.get("verdict") == "healthy" else None

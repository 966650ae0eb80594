"""One run deploys several channels: one inventory host per channel and bot host (docs/operating.md).

Three channels in one `ansible-playbook` run: shipit-many-1 and shipit-many-2 on sandbox-4, shipit-many-3
on sandbox-1. The first run sets sandbox-4 up from nothing (no bot user yet), so both channels there
create the host's shared parts at the same moment; the second run breaks one channel only, which is
rolled back while the others go live. Each channel ends in its own outcome; the bot source is resolved
once and every channel is pre-flighted once.
sandbox-4 is this module's own host: its bots are stopped and its bot user removed first.
Needs root: sudo .venv/bin/pytest tests/integration/test_many_channels.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO_ROOT, SandboxCli, SandboxHosts, read_sandbox_inventory
from deploy_fixtures import ANSIBLE_PLAYBOOK, ROOT, Run, Shipit, StandIn

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(900)]

HOST = "sandbox-4"
CHANNELS = {
    # channel: (bot host, bot account, health port)
    "shipit-many-1": (HOST, "shipbot5", 8771),
    "shipit-many-2": (HOST, "shipbot6", 8772),
    "shipit-many-3": ("sandbox-1", "shipbot7", 8773),
}
BROKEN = "shipit-many-2"
SHARED = "shipit-many-3"
BOT_USER = "cytube-bot"


def target(channel: str) -> str:
    return f"{channel}@{CHANNELS[channel][0]}"


class ManyChannels(Shipit):
    """The playbooks run over the inventory group many_channels, each host of it one channel."""

    def __init__(self, shipit: Shipit, inventory: Path, hosts: SandboxHosts) -> None:
        super().__init__(hosts, shipit.host, shipit.standin, shipit.secrets, shipit.wheels)
        self.inventory = inventory

    def argv(self, playbook: str, channel: str, extra: dict[str, Any] | None, args: tuple[str, ...]) -> list[str]:
        argv = [
            str(ANSIBLE_PLAYBOOK),
            "-i",
            str(self.inventory),
            f"playbooks/{playbook}",
            "-e",
            json.dumps({"shipit_hosts": channel}),
        ]
        if extra:
            argv += ["-e", json.dumps(extra)]
        return argv + list(args)

    def on(self, channel: str) -> Shipit:
        """The harness looking at ``channel``'s bot host."""
        host = next(h for h in self.hosts.hosts if h.name == CHANNELS[channel][0])
        return Shipit(self.hosts, host, self.standin, self.secrets, self.wheels)

    def health(self, channel: str) -> dict[str, Any]:
        """What the channel's bot says on its health endpoint, asked on its host ({} when it does not answer)."""
        url = f"http://127.0.0.1:{CHANNELS[channel][2]}/health"
        fetch = f"import urllib.request; print(urllib.request.urlopen('{url}', timeout=3).read().decode())"
        host = self.on(channel)
        out = host.hosts.ssh(host.host, f'python3 -c "{fetch}"').stdout
        return json.loads(out) if out.strip() else {}

    def deploy_all(self, version: str, extra: dict[str, Any] | None = None) -> Run:
        values: dict[str, Any] = {"shipit_bot_source": str(self.wheels[version]), "shipit_dashboard_url": ""}
        values.update(extra or {})
        return self.playbook("deploy.yml", "many_channels", values)


def write_inventory(directory: Path) -> Path:
    """The sandbox's hosts as channel hosts (each with its channel) and the sandbox's group_vars."""
    sandbox = yaml.safe_load((REPO_ROOT / "inventories" / "sandbox" / "hosts.yml").read_text())
    real = sandbox["all"]["children"]["sandbox_hosts"]["hosts"]
    hosts = {target(name): dict(real[host], shipit_channel=name) for name, (host, _bot, _port) in CHANNELS.items()}
    hosts[target(BROKEN)]["shipit_bot_faults_here"] = True
    # One channel on two hosts: its pre-flight runs once and refuses both.
    twice = {target(SHARED): {}, f"{SHARED}@{HOST}": dict(real[HOST], shipit_channel=SHARED)}
    inventory = {"all": {"children": {"many_channels": {"hosts": hosts}, "one_channel_twice": {"hosts": twice}}}}
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "hosts.yml").write_text(yaml.safe_dump(inventory))
    (directory / "group_vars").symlink_to(REPO_ROOT / "inventories" / "sandbox" / "group_vars")
    return directory


def channel_settings() -> dict[str, Any]:
    return {name: {"bot_name": bot, "health_port": port} for name, (_host, bot, port) in CHANNELS.items()}


@pytest.fixture(scope="module")
def many(
    shipit: Shipit, sandbox_cli: SandboxCli, tmp_path_factory: pytest.TempPathFactory, standin: StandIn
) -> ManyChannels:
    # `up --hosts N` stops the hosts beyond N: never ask for fewer than run now.
    done = sandbox_cli.run("up", "--hosts", str(max(4, len(read_sandbox_inventory().hosts))))
    assert done.returncode == 0, done.stdout + done.stderr
    hosts = read_sandbox_inventory()
    harness = ManyChannels(shipit, write_inventory(tmp_path_factory.mktemp("many") / "inventory"), hosts)
    fresh = harness.on("shipit-many-1")
    fresh.hosts.ssh(
        fresh.host,
        "systemctl stop 'cytube-bot@*.service' >/dev/null 2>&1; "
        f"userdel {BOT_USER} >/dev/null 2>&1; groupdel {BOT_USER} >/dev/null 2>&1; true",
    )
    assert fresh.hosts.ssh(fresh.host, f"getent passwd {BOT_USER}").returncode != 0, "the bot user is still there"
    for channel in CHANNELS:
        harness.on(channel).wipe(channel)
    fresh.wipe(SHARED)  # its second host (one_channel_twice), where it must never go live
    return harness


@pytest.fixture(scope="module")
def first(many: ManyChannels) -> Run:
    """1.0.0 to all three channels in one run, sandbox-4 set up from nothing."""
    return many.deploy_all("1.0.0", {"shipit_channels": channel_settings()})


def test_one_run_deploys_and_verifies_every_channel_of_the_group(many: ManyChannels, first: Run) -> None:
    assert first.rc == 0, first.explain()
    assert sorted(o["channel"] for o in first.outcomes) == sorted(CHANNELS), first.explain()
    for outcome in first.outcomes:
        assert outcome["status"] == "success" and outcome["host"] == target(outcome["channel"]), outcome
        assert outcome["verdict"]["verdict"] == "healthy"
    for channel in CHANNELS:
        health = many.health(channel)
        assert health.get("version") == "1.0.0" and health.get("joined") is True, (channel, health)
        assert many.on(channel).journal(channel)[-1]["status"] == "success"
    # The bot source is resolved once for the run, and each channel pre-flighted once (by its one host).
    assert first.stdout.count("TASK [cytube.shipit.bot_release : Resolve the bot source") == 1
    preflight = first.stdout.split("Check that CyTube is reachable and the probe can log in", 1)[1].split("TASK [")[0]
    assert sorted(line.split("[", 1)[1].split("]")[0] for line in preflight.splitlines() if line.startswith("ok:")) == [
        f"{target(channel)} -> localhost" for channel in sorted(CHANNELS)
    ], preflight


def test_two_channels_set_up_at_once_share_one_bot_user(many: ManyChannels, first: Run) -> None:
    """Both channels of sandbox-4 created the host's bot user in the same instant: one user, owning both."""
    assert first.rc == 0, first.explain()
    host = many.on("shipit-many-1")
    owners = host.ssh(f"stat -c '%U %G' {ROOT}/shipit-many-1/shared {ROOT}/shipit-many-2/shared").split("\n")
    assert [line for line in owners if line] == [f"{BOT_USER} {BOT_USER}"] * 2, owners
    assert len(host.ssh(f"getent passwd {BOT_USER}").strip().splitlines()) == 1


def test_a_broken_channel_is_rolled_back_while_the_others_go_live(many: ManyChannels, first: Run) -> None:
    assert first.rc == 0, first.explain()
    before = many.on(BROKEN).current(BROKEN)
    run = many.deploy_all(
        "2.0.0",
        {
            "shipit_channels": channel_settings(),
            # Only the broken channel's host sets shipit_bot_faults_here (the inventory above).
            "shipit_bot_faults": "{{ {'never_answer': true} if shipit_bot_faults_here | default(false) else {} }}",
        },
    )
    assert run.rc != 0, run.explain()
    statuses = {o["channel"]: o["status"] for o in run.outcomes}
    assert statuses == {"shipit-many-1": "success", BROKEN: "rolled_back", "shipit-many-3": "success"}, run.explain()
    assert many.on(BROKEN).current(BROKEN) == before and many.health(BROKEN).get("version") == "1.0.0"
    for channel in ("shipit-many-1", "shipit-many-3"):
        assert many.health(channel).get("version") == "2.0.0", channel


def test_verify_and_rollback_of_several_channels_in_one_run(many: ManyChannels, first: Run) -> None:
    """After the broken run: many-1 and many-3 on 2.0.0, many-2 back on 1.0.0 (2.0.0 bad)."""
    assert first.rc == 0, first.explain()
    settings = {"shipit_channels": channel_settings(), "shipit_dashboard_url": ""}
    verify = many.playbook("verify.yml", "many_channels", settings)
    assert verify.rc == 0, verify.explain()
    assert sorted((o["channel"], o["kind"], o["status"]) for o in verify.outcomes) == [
        (channel, "verify", "success") for channel in sorted(CHANNELS)
    ], verify.explain()
    # A list of channels: --limit picks two of the group.
    limit = f"{target('shipit-many-1')},{target('shipit-many-3')}"
    rollback = many.playbook("rollback.yml", "many_channels", settings, "--limit", limit)
    assert rollback.rc == 0, rollback.explain()
    assert sorted((o["channel"], o["status"]) for o in rollback.outcomes) == [
        ("shipit-many-1", "success"),
        ("shipit-many-3", "success"),
    ], rollback.explain()
    for channel in CHANNELS:
        assert many.health(channel).get("version") == "1.0.0", channel


def test_a_channel_on_two_hosts_is_pre_flighted_once_and_a_refusal_refuses_both(many: ManyChannels, first: Run) -> None:
    assert first.rc == 0, first.explain()
    live = many.on(SHARED).current(SHARED)
    run = many.playbook(
        "deploy.yml",
        "one_channel_twice",
        {
            "shipit_bot_source": str(many.wheels["2.0.0"]),
            "shipit_dashboard_url": "",
            "shipit_channels": channel_settings(),
            "shipit_probe_password": "not-the-probe-password",
        },
    )
    assert run.rc != 0, run.explain()
    assert run.stdout.count("cannot log in") >= 2 and "not-the-probe-password" not in run.output, run.explain()
    outcomes = sorted((o["host"], o["status"]) for o in run.outcomes)
    assert outcomes == sorted([(f"{SHARED}@{HOST}", "refused"), (target(SHARED), "refused")]), run.explain()
    assert many.on(SHARED).current(SHARED) == live
    other = many.on("shipit-many-1")  # sandbox-4, where the channel never went live
    assert other.hosts.ssh(other.host, f"test -e {ROOT}/{SHARED}/current").returncode != 0

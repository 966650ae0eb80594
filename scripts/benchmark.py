"""Wall time of the operations an operator waits for, each beside a same-run baseline.

    .venv/bin/python scripts/benchmark.py [--rounds 5] [--multi-rounds 1] [--skip-single] [--skip-multi]

Single-host rows (channel bench-7 on sandbox-4, account shipbot17), per round, warm caches:
  new release        deploy.yml of a new version onto a running one, verified
  ... installer uv   the same with -e bot_release_installer=uv (uv copied to the host first)
  no-op re-deploy    deploy.yml of the live version again (nothing restarts), verified
  rollback           rollback.yml to the previous release, verified
  verify alone       verify.yml on a healthy bot
  emergency rollback rollback.yml -e rollback_emergency=true (not verified)
Beside each, the baseline: the same host steps done by one plain shell script (scripts/bench_baseline.sh)
over ONE SSH connection on channel bench-7-base, then one probe of the bot from the controller with the
collection's own probe (cytube_probe.run_probe), for the rows that verify.

Ten-channel rows: bench-1..bench-10 on sandbox-1..5 (two per host, accounts shipbot11..20), a new release
on all ten, three ways: ten `ansible-playbook` runs started together; ONE run over the inventory group
bench_channels (one inventory host per channel, docs/operating.md "Many channels in one run"); and that one
run with `connection_wait` 240 s, so that every channel queues for CyTube's limit instead of being refused.
Wall time, and how many verdicts were right (a channel must end SUCCESS exactly when its bot really runs
the new version and has joined its channel; every channel that ends otherwise is printed). Their baseline:
ten plain scripts started together.

CyTube allows the controller 5 connections, then 1 per 10 s, for ALL its runs (and the other users of
this sandbox). Before a timed operation the benchmark books the connections it needs under its channel
in the controller's shared bucket (plugins/module_utils/shipit_ratelimit.py) and starts it once they
are due, so the run uses them and does not wait for CyTube's limit; the ten-channel row starts once the
bucket is full (at most 120 s of waiting) and queues for real, with a login deadline of 10 s instead of
the sandbox's 3 s (ten runs at once starve the stand-in's bcrypt on 2 cores). Waits before a run are
printed, never counted. The stand-in is never reset.

A benchmark, not a test: it asserts nothing about time; it fails only when a run ends wrong. Needs the
sandbox up with five hosts (`sandbox/sandbox up --hosts 5`; this script runs that, it is idempotent).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / ".collections"))

from ansible_collections.cytube.shipit.plugins.module_utils.cytube_probe import (  # noqa: E402
    ProbeConfig,
    run_probe,
)
from ansible_collections.cytube.shipit.plugins.module_utils.cytube_socketconfig import (  # noqa: E402
    fetch_socketconfig,
    pick_server,
)
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_ratelimit import (  # noqa: E402
    DEFAULT_CAPACITY,
    ConnectionBudget,
    server_key,
)
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_wheelhouse import resolve  # noqa: E402

VENV_BIN = REPO / ".venv" / "bin"
SANDBOX = REPO / "sandbox" / "sandbox"
GROUP_VARS = REPO / "inventories" / "sandbox" / "group_vars"
SANDBOX_KEYS = Path("/run/cytube-shipit/sandbox")
BASELINE_SCRIPT = REPO / "scripts" / "bench_baseline.sh"
STANDIN_STATE = "http://127.0.0.1:8091/admin/state"
HOSTS = 5
CROWDED_CONNECT_TIMEOUT_S = 10.0
BOOKING_WAIT_S = 3600.0
FULL_BUCKET_WAIT_S = 120.0
QUEUE_WAIT_S = 240.0
SINGLE_HOST = "sandbox-4"
SINGLE_CHANNEL = "bench-7"
TIMINGS_LINE = re.compile(r"^\[[^\]]+\] timings: (?P<list>.*)$", re.M)
OUTCOME_LINE = re.compile(r"^\[(?P<host>[^\]]+)\] (?P<kind>[A-Z]+) (?P<status>[A-Z][A-Z ]*?): (?P<text>.*)$", re.M)


@dataclass(frozen=True)
class Channel:
    """One bot instance: a CyTube channel on one host, with its own account and health port."""

    name: str
    host: str
    bot: str
    port: int

    @property
    def address(self) -> str:
        return "10.231.{}.2".format(self.host.rsplit("-", 1)[1])

    @property
    def target(self) -> str:
        """Its inventory host in the group bench_channels (one host per channel, for one run of all ten)."""
        return f"{self.name}@{self.host}"

    def baseline(self) -> Channel:
        """The plain script's instance beside it: same host and account, another channel and port."""
        return Channel(self.name + "-base", self.host, self.bot, self.port + 9)


def bench_channels() -> list[Channel]:
    """bench-1..bench-10, two per host, accounts shipbot11..20, health ports 8781..8790."""
    return [Channel(f"bench-{k}", f"sandbox-{(k - 1) // 2 + 1}", f"shipbot{10 + k}", 8780 + k) for k in range(1, 11)]


PHASE = re.compile(r"(?P<phase>[a-z]+) (?P<seconds>[0-9.]+) s")


@dataclass
class Run:
    """One timed operation, how it ended, and the phase timings the run printed in its outcome."""

    seconds: float
    status: str
    text: str = ""
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status in ("SUCCESS", "OK")


@dataclass
class Stand:
    """The generated inventory (all five hosts, the bench channels) and everything a run needs."""

    workdir: Path
    channels: list[Channel]
    secrets: dict[str, str] = field(default_factory=dict)
    server_url: str = ""
    budget: ConnectionBudget | None = None

    @classmethod
    def create(cls, workdir: Path) -> Stand:
        stand = cls(workdir, bench_channels())
        stand.secrets = yaml.safe_load((GROUP_VARS / "all" / "secrets.yml").read_text())
        settings = yaml.safe_load((GROUP_VARS / "all" / "shipit.yml").read_text())
        stand.server_url = settings["shipit_server_url"]
        stand.write_inventory()
        entry = pick_server(fetch_socketconfig(stand.server_url, SINGLE_CHANNEL, timeout=5, validate_certs=False))
        stand.budget = ConnectionBudget(server_key(entry.url))
        return stand

    @property
    def inventory(self) -> Path:
        return self.workdir / "inventory"

    @property
    def channel_vars(self) -> Path:
        return self.workdir / "channels.yml"

    def write_inventory(self) -> None:
        """hosts.yml for all five hosts (the shared one may list fewer), the sandbox's group_vars, and the
        bench channels as extra vars (they must override the sandbox's shipit_channels)."""
        self.inventory.mkdir(parents=True, exist_ok=True)
        hosts = {
            f"sandbox-{n}": {
                "ansible_host": f"10.231.{n}.2",
                "ansible_user": "root",
                "ansible_ssh_private_key_file": str(SANDBOX_KEYS / "id_ed25519"),
                "ansible_python_interpreter": "/usr/bin/python3",
                "ansible_ssh_common_args": "-o UserKnownHostsFile=%s" % (SANDBOX_KEYS / "known_hosts"),
            }
            for n in range(1, HOSTS + 1)
        }
        channel_hosts = {c.target: dict(hosts[c.host], shipit_channel=c.name) for c in self.channels}
        inventory = {
            "all": {
                "children": {
                    "sandbox_hosts": {"hosts": hosts},
                    "bench_channels": {"hosts": channel_hosts},
                    "shipit_bots": {"children": {"sandbox_hosts": {}}},
                    "shipit_dashboard": {"hosts": {"sandbox-1": {}}},
                }
            }
        }
        (self.inventory / "hosts.yml").write_text(yaml.safe_dump(inventory))
        link = self.inventory / "group_vars"
        if not link.exists():
            link.symlink_to(GROUP_VARS)
        channels = {c.name: {"bot_name": c.bot, "health_port": c.port} for c in self.channels}
        # The dashboard is optional and not part of a deploy's critical path: it is measured apart.
        extra = {"shipit_channels": channels, "shipit_dashboard_url": ""}
        self.channel_vars.write_text(yaml.safe_dump(extra))

    def crowded_deadlines(self, connection_wait: float | None = None) -> tuple[str, str]:
        """The sandbox's verification deadlines, with a login deadline that survives ten runs at once.

        The sandbox allows the probe 3 s to connect and log in. Ten runs at once on 2 cores starve the
        stand-in's bcrypt (cost 10, as CyTube) and a login answers in 2.5-3.5 s: the pre-flight then
        refuses the deploy ("no login reply") although CyTube and the bot are fine. A deadline is a
        bound, not a cost: raising it changes no figure of a run that passes anyway."""
        settings = yaml.safe_load((GROUP_VARS / "all" / "shipit.yml").read_text())
        overrides = dict(settings.get("shipit_verify_overrides") or {})
        overrides["connect_timeout"] = max(float(overrides.get("connect_timeout", 0)), CROWDED_CONNECT_TIMEOUT_S)
        if connection_wait is not None:
            overrides["connection_wait"] = connection_wait
        return "-e", json.dumps({"shipit_verify_overrides": overrides})

    def channel(self, name: str) -> Channel:
        return next(c for c in self.channels if c.name == name)

    # ---- CyTube's connection budget
    def book_connections(self, claim: str, needed: int) -> float:
        """Book the ``needed`` connections of the next run on ``claim`` (a channel) in the controller's
        shared bucket and sleep until the last is due; the seconds waited. The run's pre-flight and
        probe use these slots (shipit_ratelimit: a claim's booked slots count), so the run itself
        does not wait for CyTube's limit, however many other runs share the controller."""
        assert self.budget is not None
        if needed <= 0:
            return 0.0
        slots = self.budget.book(claim, needed, wait_budget=BOOKING_WAIT_S)
        wait = max(0.0, max(slots) - time.time())
        time.sleep(wait)
        return wait

    def wait_for_full_bucket(self, limit: float) -> float:
        """Sleep until the bucket is full, at most ``limit`` seconds (others may keep taking tokens)."""
        assert self.budget is not None
        started = time.monotonic()
        while time.monotonic() - started < limit:
            wait = self.budget.estimate(DEFAULT_CAPACITY)
            if wait <= 0:
                break
            time.sleep(min(wait + 0.05, limit))
        return time.monotonic() - started

    # ---- shipit runs
    def playbook(self, name: str, channel: Channel, *extra: str) -> Run:
        argv = [
            str(VENV_BIN / "ansible-playbook"),
            "-i",
            str(self.inventory),
            str(REPO / "playbooks" / name),
            "-e",
            f"@{self.channel_vars}",
            "-e",
            f"shipit_hosts={channel.host}",
            "-e",
            f"shipit_channel={channel.name}",
            *extra,
        ]
        started = time.monotonic()
        done = subprocess.run(argv, cwd=REPO, env=environment(), capture_output=True, text=True, check=False)
        elapsed = time.monotonic() - started
        found = OUTCOME_LINE.search(done.stdout)
        if found is None:
            lines = (done.stdout + done.stderr).strip().splitlines()
            return Run(elapsed, f"NO OUTCOME (exit {done.returncode})", " | ".join(lines[-6:]))
        timings = TIMINGS_LINE.search(done.stdout)
        phases = {m["phase"]: float(m["seconds"]) for m in PHASE.finditer(timings["list"])} if timings else {}
        phases["ansible-playbook"] = elapsed
        return Run(elapsed, found["status"], found["text"], phases)

    def one_run(self, name: str, *extra: str) -> tuple[float, list[Run]]:
        """ONE run of ``name`` over all ten channels (the group bench_channels); its wall time, and each
        channel's outcome as a Run in the order of ``self.channels`` (the run's wall time for each)."""
        argv = [str(VENV_BIN / "ansible-playbook"), "-i", str(self.inventory), str(REPO / "playbooks" / name)]
        argv += ["-e", f"@{self.channel_vars}", "-e", "shipit_hosts=bench_channels", *extra]
        started = time.monotonic()
        done = subprocess.run(argv, cwd=REPO, env=environment(), capture_output=True, text=True, check=False)
        elapsed = time.monotonic() - started
        outcomes = {m["host"]: m for m in OUTCOME_LINE.finditer(done.stdout)}
        timings = {m.group(0).split("]", 1)[0][1:]: m["list"] for m in TIMINGS_LINE.finditer(done.stdout)}
        runs = []
        for channel in self.channels:
            found = outcomes.get(channel.target)
            if found is None:
                runs.append(Run(elapsed, f"NO OUTCOME (exit {done.returncode})", done.stdout[-400:]))
                continue
            phases = {m["phase"]: float(m["seconds"]) for m in PHASE.finditer(timings.get(channel.target, ""))}
            runs.append(Run(elapsed, found["status"], found["text"], phases))
        return elapsed, runs

    def put_uv(self, channel: Channel) -> None:
        """The controller's uv (requirements/controller.txt) at /usr/local/bin/uv of the channel's host, for the
        row with ``bot_release_installer=uv`` (the default installer, pip, needs nothing on the host)."""
        part = "/usr/local/bin/uv.part"
        install = f"cat > {part} && chmod 755 {part} && mv {part} /usr/local/bin/uv"
        keys = ["-i", str(SANDBOX_KEYS / "id_ed25519"), "-o", "UserKnownHostsFile=%s" % (SANDBOX_KEYS / "known_hosts")]
        argv = ["ssh", *keys, "-o", "BatchMode=yes", f"root@{channel.address}", install]
        with (VENV_BIN / "uv").open("rb") as binary:
            subprocess.run(argv, stdin=binary, check=True, capture_output=True)

    def ssh(self, channel: Channel, script: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        """One SSH connection (no ControlMaster reuse), the baseline script and one call fed to bash."""
        argv = [
            "ssh",
            "-i",
            str(SANDBOX_KEYS / "id_ed25519"),
            "-o",
            "UserKnownHostsFile=%s" % (SANDBOX_KEYS / "known_hosts"),
            "-o",
            "ControlMaster=no",
            "-o",
            "ControlPath=none",
            "-o",
            "BatchMode=yes",
            f"root@{channel.address}",
            "bash",
            "-s",
        ]
        body = BASELINE_SCRIPT.read_text() + "\n" + script + "\n" + stdin
        return subprocess.run(argv, input=body, capture_output=True, text=True, check=False)


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = "{}:{}".format(VENV_BIN, env.get("PATH", ""))
    env["ANSIBLE_CONFIG"] = str(REPO / "ansible.cfg")
    return env


def build_wheel(version: str, outdir: Path) -> Path:
    done = subprocess.run(
        [str(REPO / "examples" / "build-wheel.sh"), version, str(outdir)], check=True, capture_output=True, text=True
    )
    return Path(done.stdout.strip().splitlines()[-1])


def warm_wheelhouse(wheel: Path) -> dict[str, object]:
    """The controller's cached wheelhouse for ``wheel`` (built now if missing: warm caches)."""
    cache = os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "cytube-shipit", "wheelhouse"
    )
    return resolve(str(wheel), cache, python_version="3.11")


# ---- the baseline: one plain script over one SSH connection, then one probe
class Baseline:
    def __init__(self, stand: Stand) -> None:
        self.stand = stand
        #: the ten-channel row counts the queue for CyTube's tokens, as its shipit runs do
        self.count_token_waits = False
        #: per baseline channel: [previous release, live release]
        self.releases: dict[str, list[str]] = {}

    def setup(self, channel: Channel) -> bool:
        """The baseline instance on its host (after shipit's first deploy there: the unit and the user)."""
        password = self.stand.secrets["sandbox_bot_password"]
        call = f"baseline_remove {channel.name}\nbaseline_setup {channel.name} <<'PASSWORD'"
        done = self.stand.ssh(channel, call, password + "\nPASSWORD\n")
        if done.returncode != 0:
            print(f"  baseline setup of {channel.name} on {channel.host} failed: {done.stderr.strip()[-300:]}")
            return False
        self.releases[channel.name] = ["", ""]
        return True

    def config(self, channel: Channel) -> str:
        text = (
            f'[server]\nurl = "{self.stand.server_url}"\nchannel = "{channel.name}"\n'
            f'[account]\nname = "{channel.bot}"\npassword_credential = "bot-password"\n'
            f'[bot]\ncommand_prefix = "!"\nhealth_listen = "127.0.0.1:{channel.port}"\nlog_level = "info"\n'
        )
        return base64.b64encode(text.encode()).decode()

    def probe(self, channel: Channel) -> str:
        """The controller's probe, once, through the same connection budget as every shipit run."""
        config = ProbeConfig(
            server_url=self.stand.server_url,
            channel=channel.name,
            bot_name=channel.bot,
            probe_user="shipprobe",
            probe_password=self.stand.secrets["sandbox_probe_password"],
            connect_timeout=3,
            reply_timeout=2,
            validate_certs=False,
        )
        return run_probe(config).verdict

    def timed(self, channel: Channel, call: str, stdin: str = "", verify: bool = True) -> Run:
        started = time.monotonic()
        done = self.stand.ssh(channel, call, stdin)
        host_seconds = time.monotonic() - started
        if done.returncode != 0 or not verify:
            status = "FAILED" if done.returncode != 0 else "OK"
            return Run(host_seconds, status, done.stderr.strip()[-300:])
        # The probe's connection is booked now and the probe starts when it is due (not counted): a slot
        # used late lets CyTube's refill clock restart later than the controller's model of it.
        waited = self.stand.book_connections(channel.name, 1)
        started = time.monotonic() - (waited if self.count_token_waits else 0.0)
        verdict = self.probe(channel)
        return Run(host_seconds + time.monotonic() - started, "OK" if verdict == "healthy" else verdict.upper())

    def new_release(self, channel: Channel, house: dict[str, object]) -> Run:
        release = f"base-{int(time.time() * 1000)}"
        archive = Path(str(house["archive"])).read_bytes()
        call = (
            f"baseline_new_release {channel.name} {release} {channel.port} {house['requirement']} "
            f"{house['pip_wheel']} {self.config(channel)} <<'WHEELHOUSE'"
        )
        run = self.timed(channel, call, base64.b64encode(archive).decode() + "\nWHEELHOUSE\n")
        self.releases[channel.name] = [self.releases[channel.name][1], release]
        return run

    def noop(self, channel: Channel) -> Run:
        return self.timed(channel, f"baseline_noop {channel.name} {self.releases[channel.name][-1]} {channel.port}")

    def rollback(self, channel: Channel, verify: bool = True) -> Run:
        previous, live = self.releases[channel.name]
        self.releases[channel.name] = [live, previous]
        return self.timed(channel, f"baseline_rollback {channel.name} {previous} {channel.port}", verify=verify)

    def verify(self, channel: Channel) -> Run:
        return self.timed(channel, f"baseline_verify {channel.name} {channel.port}")


# ---- the rows
@dataclass
class Row:
    label: str
    shipit: list[Run] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)
    note: str = ""

    def line(self) -> str:
        ours = statistics.median(r.seconds for r in self.shipit) if self.shipit else float("nan")
        base = statistics.median(self.baseline) if self.baseline else float("nan")
        ratio = f"{ours / base:.2f}x" if self.baseline else "-"
        return f"| {self.label} | {ours:.2f} s | {base:.2f} s | {ratio} | {self.note} |"

    def phases(self) -> str:
        """The median of each phase the runs printed (the run's own clock), in run order."""
        names = [name for name in self.shipit[0].phases if name != "total"] if self.shipit else []
        shown = [f"{n} {statistics.median(r.phases.get(n, 0.0) for r in self.shipit):.2f}" for n in names]
        return f"{self.label}: " + ", ".join(shown)


def check(run: Run, what: str) -> Run:
    """A benchmark fails only when a run ends wrong."""
    if not run.ok:
        raise SystemExit(f"benchmark: {what} ended {run.status}: {run.text}")
    return run


@dataclass
class Pair:
    """What one row times: our run on the channel, then the baseline on its own channel."""

    connections: int
    ours: Callable[[], Run]
    theirs: Callable[[], Run]


def timed_pair(stand: Stand, row: Row, channel: Channel, pair: Pair, waits: list[float]) -> None:
    """Our run, then the baseline's, each once the connections it needs are booked and due."""
    waits.append(stand.book_connections(channel.name, pair.connections))
    row.shipit.append(check(pair.ours(), "shipit: " + row.label))
    row.baseline.append(check(pair.theirs(), "baseline: " + row.label).seconds)


def single_host_rows(stand: Stand, baseline: Baseline, rounds: int, wheels: Path) -> tuple[list[Row], float]:
    channel = stand.channel(SINGLE_CHANNEL)
    base = channel.baseline()
    new, with_uv, noop, rollback, verify, emergency = rows = [
        Row("new release, deployed and verified"),
        Row("new release, installer uv (uv on the host)", note="baseline: the same plain script (pip)"),
        Row("no-op re-deploy (verified)"),
        Row("rollback to the previous release, verified"),
        Row("verify alone"),
        Row("emergency rollback (unverified)"),
    ]
    waits: list[float] = []
    stamp = int(time.time()) % 100000  # a version never deployed before: a new release is really built
    versions = [build_wheel(f"1.{number}.{stamp}", wheels) for number in range(rounds + 1)]
    uv_versions = [build_wheel(f"2.{number}.{stamp}", wheels) for number in range(rounds + 1)]
    houses = [warm_wheelhouse(wheel) for wheel in versions]
    for wheel in uv_versions:
        warm_wheelhouse(wheel)
    stand.put_uv(channel)
    waits.append(stand.book_connections(channel.name, 2))
    check(stand.playbook("deploy.yml", channel, "-e", f"shipit_bot_source={versions[0]}"), "warm-up deploy")
    if not baseline.setup(base):  # after shipit's first deploy on the host: it installs the unit and the user
        raise SystemExit(f"benchmark: cannot set up the baseline on {base.host}")
    check(baseline.new_release(base, houses[0]), "baseline warm-up")
    for number in range(1, rounds + 1):
        deploy = partial(stand.playbook, "deploy.yml", channel, "-e", f"shipit_bot_source={versions[number]}")
        with_uv_deploy = partial(
            stand.playbook,
            "deploy.yml",
            channel,
            "-e",
            f"shipit_bot_source={uv_versions[number]}",
            "-e",
            "bot_release_installer=uv",
        )
        timed_pair(
            stand, with_uv, channel, Pair(2, with_uv_deploy, partial(baseline.new_release, base, houses[number])), waits
        )
        timed_pair(stand, new, channel, Pair(2, deploy, partial(baseline.new_release, base, houses[number])), waits)
        timed_pair(stand, noop, channel, Pair(2, deploy, partial(baseline.noop, base)), waits)
        verify_run = partial(stand.playbook, "verify.yml", channel)
        timed_pair(stand, verify, channel, Pair(1, verify_run, partial(baseline.verify, base)), waits)
        emergency_run = partial(stand.playbook, "rollback.yml", channel, "-e", "rollback_emergency=true")
        timed_pair(stand, emergency, channel, Pair(0, emergency_run, partial(baseline.rollback, base, False)), waits)
        # The new release live again, so that the verified rollback has a previous good release to go to
        # (a rollback marks the release it leaves bad: the next round deploys a newer one).
        waits.append(stand.book_connections(channel.name, 2))
        check(deploy(), "re-deploy after the emergency rollback")
        check(baseline.rollback(base, verify=False), "baseline back to the new release")
        rollback_run = partial(stand.playbook, "rollback.yml", channel)
        timed_pair(stand, rollback, channel, Pair(2, rollback_run, partial(baseline.rollback, base)), waits)
        shown = "  ".join(f"{r.label.split(',')[0]} {r.shipit[-1].seconds:.2f}/{r.baseline[-1]:.2f} s" for r in rows)
        print(f"round {number} ({load()}): {shown}", flush=True)
    return rows, sum(waits)


def bot_state(stand: Stand, channel: Channel) -> tuple[bool, str]:
    """Whether the bot has joined its channel (its health endpoint says so) and the version it runs."""
    url = f"http://127.0.0.1:{channel.port}/health"
    done = stand.ssh(
        channel, f"python3 -c \"import urllib.request;print(urllib.request.urlopen('{url}').read().decode())\""
    )
    try:
        health = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return False, "no health answer"
    return bool(health.get("joined")), str(health.get("version"))


def in_channel(channel: Channel) -> bool:
    """The stand-in's own view: the bot's account is in the channel's user list."""
    with urllib.request.urlopen(STANDIN_STATE, timeout=5) as answer:
        state = json.load(answer)
    users = next((c["users"] for c in state["channels"] if c["name"] == channel.name), [])
    return any(u["name"].lower() == channel.bot.lower() for u in users)


def together(jobs: Sequence[Callable[[], Run]]) -> tuple[float, list[Run]]:
    """Start every job at once; the wall time until the last ends, and each job's run."""
    runs: list[Run] = [Run(0.0, "NOT RUN")] * len(jobs)

    def work(index: int) -> None:
        runs[index] = jobs[index]()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.monotonic() - started, runs


def judge(stand: Stand, number: int, version: str, runs: list[Run]) -> tuple[int, list[str]]:
    """How many runs ended right: SUCCESS exactly when the bot runs ``version`` and is in its channel."""
    right, problems = 0, []
    for channel, run in zip(stand.channels, runs, strict=True):
        joined, running = bot_state(stand, channel)
        healthy = joined and running == version and in_channel(channel)
        right += run.ok == healthy
        if run.ok != healthy:
            state = "healthy" if healthy else f"NOT healthy (joined {joined}, version {running})"
            problems.append(
                f"round {number} {channel.name}: ended {run.status} but the bot is {state}: {run.text[:300]}"
            )
        if not run.ok:
            print(f"  {channel.name} on {channel.host} ended {run.status} after {run.seconds:.1f} s: {run.text[:400]}")
    return right, problems


def ten_baselines(stand: Stand, baseline: Baseline, house: dict[str, object]) -> tuple[float, str]:
    """Ten plain scripts started together (each host prepared by shipit's run just before)."""
    bases = [c.baseline() for c in stand.channels]
    bases = [b for b in bases if b.name in baseline.releases or baseline.setup(b)]
    baseline.count_token_waits = True
    seconds, runs = together([partial(baseline.new_release, base, house) for base in bases])
    baseline.count_token_waits = False
    bad = [f"{b.name} {r.status}" for b, r in zip(bases, runs, strict=True) if not r.ok]
    return seconds, f" (baseline runs not ok: {', '.join(bad)})" if bad else ""


#: How the ten channels are deployed: ten runs started together, one run of all ten, and one run whose
#: channels may wait long enough for CyTube's connection limit to all be admitted (they queue).
MULTI_MODES = (
    ("10 runs together", None),
    ("ONE run of all ten", None),
    (f"ONE run, connection_wait {QUEUE_WAIT_S:g} s", QUEUE_WAIT_S),
)


def ten_channels(stand: Stand, mode: int, wheel: Path) -> tuple[float, list[Run]]:
    """A new release on the ten channels, the ``mode``-th way of MULTI_MODES."""
    deadlines = stand.crowded_deadlines(MULTI_MODES[mode][1])
    if mode == 0:
        return together(
            [
                partial(stand.playbook, "deploy.yml", c, "-e", f"shipit_bot_source={wheel}", *deadlines)
                for c in stand.channels
            ]
        )
    return stand.one_run("deploy.yml", "-e", f"shipit_bot_source={wheel}", *deadlines)


def multi_channel_rows(
    stand: Stand, baseline: Baseline, rounds: int, wheels: Path
) -> tuple[list[Row], list[str], float]:
    """Ten channels on five hosts, a new release each, in each way of MULTI_MODES."""
    rows = [Row(f"10 channels on 5 hosts, new release ({label})") for label, _wait in MULTI_MODES]
    problems: list[str] = []
    waits = 0.0
    right_total, succeeded = [0] * len(rows), [0] * len(rows)
    for number in range(1, rounds + 1):
        # Other users of the sandbox may have run `sandbox up` with fewer hosts (it removes the others).
        subprocess.run([str(SANDBOX), "up", "--hosts", str(HOSTS)], check=True, capture_output=True)
        for mode, row in enumerate(rows):
            version = f"3.{number}{mode}.{int(time.time()) % 100000}"
            wheel = build_wheel(version, wheels)
            house = warm_wheelhouse(wheel)
            waits += stand.wait_for_full_bucket(limit=FULL_BUCKET_WAIT_S)
            seconds, runs = ten_channels(stand, mode, wheel)
            names = [name for name in runs[0].phases if name not in ("total", "ansible-playbook")]
            phases = {name: statistics.median(r.phases.get(name, 0.0) for r in runs) for name in names}
            row.shipit.append(Run(seconds, "SUCCESS", phases=phases))
            if mode == 0:
                row.shipit[-1].phases["ansible-playbook (each, median)"] = statistics.median(r.seconds for r in runs)
            right, wrong = judge(stand, number, version, runs)
            right_total[mode] += right
            succeeded[mode] += sum(r.ok for r in runs)
            problems += wrong
            if mode == 0:
                each = sorted(r.seconds for r in runs)
                print(
                    f"  the ten runs took {each[0]:.1f} .. {statistics.median(each):.1f} (median) .. {each[-1]:.1f} s"
                )
                waits += stand.wait_for_full_bucket(limit=FULL_BUCKET_WAIT_S)
                base_seconds, base_note = ten_baselines(stand, baseline, house)
            # The plain scripts' figure is the same for every way shipit is run: measured once a round.
            row.baseline.append(base_seconds)
            print(
                f"ten channels, {MULTI_MODES[mode][0]}, round {number} ({load()}): {seconds:.1f} s, "
                f"{right}/10 verdicts right ({sum(r.ok for r in runs)} success); baseline {base_seconds:.1f} s"
                f"{base_note}",
                flush=True,
            )
    for mode, row in enumerate(rows):
        row.note = (
            f"{right_total[mode]}/{10 * rounds} verdicts right ({succeeded[mode]} success, "
            "the others refused before any change)"
        )
    return rows, problems, waits


def load() -> str:
    return "load average {}".format(" ".join(f"{v:.2f}" for v in os.getloadavg()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the single-host rows (default 5)")
    parser.add_argument("--multi-rounds", type=int, default=1, help="rounds of the ten-channel row (default 1)")
    parser.add_argument("--skip-single", action="store_true", help="only the ten-channel row")
    parser.add_argument("--skip-multi", action="store_true", help="only the single-host rows")
    args = parser.parse_args()
    if args.rounds < 1 or args.multi_rounds < 1:
        parser.error(f"--rounds and --multi-rounds must be at least 1, got {args.rounds} and {args.multi_rounds}")
    subprocess.run([str(SANDBOX), "up", "--hosts", str(HOSTS)], check=True, capture_output=True)
    print(f"before: {load()}, {os.cpu_count()} cores", flush=True)
    rows: list[Row] = []
    problems: list[str] = []
    waited = 0.0
    with tempfile.TemporaryDirectory(prefix="shipit-bench-") as tmp:
        stand = Stand.create(Path(tmp))
        baseline = Baseline(stand)
        wheels = Path(tmp) / "wheels"
        if not args.skip_single:
            single, waits = single_host_rows(stand, baseline, args.rounds, wheels)
            rows += single
            waited += waits
            print(f"after the single-host rows: {load()}", flush=True)
        if not args.skip_multi:
            multi, problems, waits = multi_channel_rows(stand, baseline, args.multi_rounds, wheels)
            rows += multi
            waited += waits
            print(f"after the ten-channel row: {load()}", flush=True)
    print(
        f"\nmedians (single-host rows: {args.rounds} rounds on {SINGLE_HOST}; ten-channel row: {args.multi_rounds} "
        f"round(s)); waits for CyTube connection tokens before the runs, not counted: {waited:.0f} s"
    )
    print("| operation | cytube.shipit | plain script (1 SSH connection) | ratio | |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(row.line())
    print("\nwhere the time goes (medians of the phases each run prints, seconds):")
    for row in rows:
        print("  " + row.phases())
    for problem in problems:
        print("WRONG VERDICT: " + problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

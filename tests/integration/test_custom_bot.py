"""A bot we did not write (examples/chatbot), deployed, verified, failed and rolled back with inventory settings only.

Channel shipit-chatbot on sandbox-1: its settings are in inventories/sandbox/group_vars/all/shipit.yml
(docs/bots.md, worked example) - JSON config with the password inline (password delivery ``config``), an SQLite
file in its working directory (``shared/``), no health endpoint, no config check, verified by its public ``!help``
answer (it never says its version), its own chat log and kick tracebacks ignored by the journal check.
The module fixture ``chat_released`` deploys 1.0.0 on a fresh channel once; tests that change what is live put
1.0.0 back. Needs root: sudo .venv/bin/pytest tests/integration/test_custom_bot.py
"""

from __future__ import annotations

import dataclasses
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from deploy_fixtures import REPO_ROOT, ROOT, SECRETS_FILE, Run, Shipit, admin

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(900)]

CHANNEL = "shipit-chatbot"
BASE = f"{ROOT}/{CHANNEL}"
SECRETS_DIR = f"/etc/cytube-shipit/{CHANNEL}"


@dataclasses.dataclass(frozen=True)
class ChatReleased:
    wheels: dict[str, Path]
    v1: str
    first: Run
    password: str


@pytest.fixture(scope="module")
def chat_wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("chatbot-wheels")
    built = {}
    for version in ("1.0.0", "2.0.0"):
        done = subprocess.run(
            [str(REPO_ROOT / "examples" / "build-wheel.sh"), version, str(out), "chatbot"],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        built[version] = Path(done.stdout.strip().splitlines()[-1])
    return built


def deploy(shipit: Shipit, wheel: Path, *args: str, faults: dict[str, bool] | None = None) -> Run:
    extra: dict[str, object] = {"shipit_bot_source": str(wheel)}
    if faults:
        extra["shipit_bot_faults"] = faults
    return shipit.playbook("deploy.yml", CHANNEL, extra, *args)


@pytest.fixture(scope="module")
def chat_released(shipit: Shipit, chat_wheels: dict[str, Path]) -> ChatReleased:
    password = yaml.safe_load(SECRETS_FILE.read_text()).get("sandbox_chatbot_password")
    assert password, f"{SECRETS_FILE} has no sandbox_chatbot_password: run 'sudo sandbox/sandbox up --hosts 2'"
    shipit.wipe(CHANNEL)
    run = deploy(shipit, chat_wheels["1.0.0"])
    assert run.rc == 0, run.explain()
    current = shipit.current(CHANNEL)
    assert current and current.startswith("1.0.0-")
    return ChatReleased(chat_wheels, current, run, password)


@pytest.fixture
def on_v1(shipit: Shipit, chat_released: ChatReleased) -> ChatReleased:
    """1.0.0 is live when the test starts."""
    if shipit.current(CHANNEL) != chat_released.v1:
        run = deploy(shipit, chat_released.wheels["1.0.0"])
        assert run.rc == 0, run.explain()
    return chat_released


def test_the_chatbot_deploys_and_is_verified_by_its_help_answer(shipit: Shipit, chat_released: ChatReleased) -> None:
    outcome = chat_released.first.outcome
    assert outcome["status"] == "success" and outcome["verified"], chat_released.first.explain()
    round_trip = next(c for c in outcome["verdict"]["checks"] if c["name"] == "command_round_trip")
    assert round_trip["ok"] and "chatbot commands: !help" in round_trip["seen"]
    # No health endpoint: the host half is the unit staying up, and a journal with chat lines but no errors.
    host_checks = {c["name"] for c in outcome["verdict"]["checks"]}
    assert "health" not in host_checks and {"unit_active", "journal"} <= host_checks
    assert shipit.state(CHANNEL)["releases"][chat_released.v1]["status"] == "good"
    journal = shipit.ssh(f"journalctl -u cytube-bot@{CHANNEL}.service -o cat --no-pager")
    assert "answered !help from shipprobe" in journal and "INFO <shipprobe> !help" in journal


def test_the_bot_writes_its_database_in_shared(shipit: Shipit, on_v1: ChatReleased) -> None:
    out = shipit.ssh(
        f"stat -c '%U %a' {BASE}/shared/chatbot.db; "
        f"pid=$(systemctl show -p MainPID --value cytube-bot@{CHANNEL}.service); "
        "readlink /proc/$pid/cwd; for c in $(pgrep -P $pid); do readlink /proc/$c/cwd; done"
    ).split("\n")
    assert out[0].startswith("cytube-bot ")
    # The launcher stays in the release (the host checks name the running release from it); the bot runs in shared/.
    assert out[1] == f"{BASE}/releases/{on_v1.v1}" and out[2] == f"{BASE}/shared"


def test_verify_playbook_with_the_channel_settings(shipit: Shipit, on_v1: ChatReleased) -> None:
    run = shipit.verify(channel=CHANNEL)
    assert run.rc == 0, run.explain()
    assert run.outcome["status"] == "success" and run.outcome["verdict"]["verdict"] == "healthy"


def test_redeploy_is_a_noop_and_prints_no_secret(shipit: Shipit, on_v1: ChatReleased) -> None:
    pid = shipit.main_pid(CHANNEL)
    run = deploy(shipit, on_v1.wheels["1.0.0"], "-v")
    assert run.rc == 0, run.explain()
    assert run.outcome["status"] == "success" and not run.outcome["changed"], run.explain()
    assert "not restarted (unchanged)" in run.stdout
    assert shipit.main_pid(CHANNEL) == pid, "the bot was restarted"
    for text in (run.stdout, run.stderr, on_v1.first.stdout, on_v1.first.stderr):
        assert on_v1.password not in text


@pytest.mark.parametrize(
    "faults, failed_check",
    [
        pytest.param({"never_answer": True}, {"command_round_trip"}, id="never-answers"),
        pytest.param({"never_join": True}, {"bot_present"}, id="never-joins"),
        pytest.param({"crash_at_start": True}, {"unit_active", "unit_stable"}, id="crashes"),
    ],
)
def test_a_broken_chatbot_fails_verification_and_is_rolled_back(
    shipit: Shipit, on_v1: ChatReleased, faults: dict[str, bool], failed_check: set[str]
) -> None:
    run = deploy(shipit, on_v1.wheels["2.0.0"], faults=faults)
    assert run.rc != 0, run.explain()
    outcome = run.outcome
    assert outcome["status"] == "rolled_back", run.explain()
    assert outcome["failed_check"] in failed_check, run.explain()
    assert outcome["rollback"]["result"] == "verified" and outcome["rollback"]["target"]["id"] == on_v1.v1
    assert shipit.current(CHANNEL) == on_v1.v1
    bad = outcome["release"]["id"]
    assert bad.startswith("2.0.0-") and shipit.state(CHANNEL)["releases"][bad]["status"] == "bad"


def test_explicit_rollback_of_a_good_release(shipit: Shipit, on_v1: ChatReleased) -> None:
    run = deploy(shipit, on_v1.wheels["2.0.0"])
    assert run.rc == 0, run.explain()
    v2 = shipit.current(CHANNEL)
    assert v2 and v2.startswith("2.0.0-")
    run = shipit.rollback(channel=CHANNEL)
    assert run.rc == 0, run.explain()
    assert run.outcome["rollback"]["result"] == "verified" and shipit.current(CHANNEL) == on_v1.v1


def test_no_secret_in_a_world_readable_file(shipit: Shipit, on_v1: ChatReleased) -> None:
    # Every file and directory (symbolic links have no mode of their own: the venv's python links are skipped).
    listing = shipit.ssh(f"find {BASE}/current/ {BASE}/shared ! -type l -printf '%m %u %p\\n'")
    modes = {line.split(" ", 2)[2]: (int(line.split(" ")[0], 8), line.split(" ")[1]) for line in listing.splitlines()}
    release_files = [p for p in modes if p.startswith(f"{BASE}/current/")]
    assert any(p.endswith("/redacted-config.json") for p in release_files), listing
    assert all(owner == "root" and not mode & 0o022 for mode, owner in (modes[p] for p in release_files)), listing
    assert all(not mode & 0o007 for p, (mode, _o) in modes.items() if p.startswith(f"{BASE}/shared")), listing
    # Every file on the host that holds the password: only the root 0600 credentials.
    holders = shipit.ssh(
        f"grep -rlF -- '{on_v1.password}' {BASE} {SECRETS_DIR} /etc/systemd/system/cytube-bot@.service | sort; "
        f"stat -c '%a %U' {SECRETS_DIR}/*"
    ).split("\n")
    files = [h for h in holders if h.startswith("/")]
    assert files and all(f.startswith(SECRETS_DIR + "/") for f in files), holders
    assert all(line == "600 root" for line in holders[len(files) :] if line), holders
    redacted = shipit.ssh(f"cat {BASE}/current/redacted-config.json")
    assert '"password": "(secret: not in the release)"' in redacted


def test_a_kick_traceback_counts_only_with_the_default_journal_pattern(shipit: Shipit, on_v1: ChatReleased) -> None:
    """The chatbot logs a kick as a WARNING with a traceback: the channel's error pattern (its own ERROR lines) lets
    it pass, the collection's default pattern (which catches tracebacks) would call the bot broken."""
    admin("POST", "/admin/kick", {"channel": CHANNEL, "name": "chatbot", "reason": "testing the journal check"})
    deadline = time.monotonic() + 30
    unit = f"cytube-bot@{CHANNEL}.service"
    since_start = f"journalctl -u {unit} _SYSTEMD_INVOCATION_ID=$(systemctl show -p InvocationID --value {unit})"
    while not (
        "Traceback (most recent call last)" in shipit.ssh(f"{since_start} -o cat --no-pager")
        and "chatbot" in shipit.standin.users(CHANNEL)
    ):
        assert time.monotonic() < deadline, "the chatbot did not log the kick and come back"
        time.sleep(0.2)
    run = shipit.verify(channel=CHANNEL)
    assert run.rc == 0 and run.outcome["verdict"]["verdict"] == "healthy", run.explain()
    run = shipit.verify_with({"shipit_bot_journal_error_pattern": None}, channel=CHANNEL)
    assert run.rc != 0 and run.outcome["failed_check"] == "journal", run.explain()
    journal = next(c for c in run.outcome["verdict"]["checks"] if c["name"] == "journal")
    assert "Traceback (most recent call last)" in journal["seen"]


def test_a_git_source_without_packaging_metadata_says_what_is_needed(
    shipit: Shipit, chat_released: ChatReleased, tmp_path: Path
) -> None:
    repo = tmp_path / "plainbot"
    repo.mkdir()
    (repo / "bot.py").write_text("print('a bot without packaging')\n")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    for argv in (["init", "-q"], ["add", "bot.py"], ["commit", "-qm", "a bot"]):
        subprocess.run(git + argv, check=True, capture_output=True)
    sha = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    before = shipit.current(CHANNEL)
    run = shipit.playbook("deploy.yml", CHANNEL, {"shipit_bot_source": f"git+file://{repo}@{sha}"})
    assert run.rc != 0
    text = run.output
    assert "has no packaging metadata" in text and "pyproject.toml" in text and "[project.scripts]" in text, text
    assert shipit.current(CHANNEL) == before


# ------------------------------------------------------------------- the other verification modes

#: pm: the chatbot answers the private message "status" from users of rank >= 2; the stand-in's config gives
#: shipprobe rank 2 in shipit-chatbot (sandbox/cytube.sandbox.json, channel_ranks).
PM_MODE = {
    "shipit_verify_mode": "pm",
    "shipit_verify_command": "status",
    "shipit_verify_expect": r"^status: up \d+ s, \d+ messages and \d+ users seen$",
    "shipit_verify_probe_rank": 2,
}
#: presence: no message; the channel's command and reply pattern are unset for it.
PRESENCE_MODE = {"shipit_verify_mode": "presence", "shipit_verify_command": None, "shipit_verify_expect": None}


def verdict_checks(run: Run) -> dict[str, dict[str, object]]:
    return {c["name"]: c for c in run.outcome["verdict"]["checks"]}


def test_pm_mode_verifies_the_chatbot_by_its_private_status_answer(shipit: Shipit, on_v1: ChatReleased) -> None:
    run = shipit.playbook("deploy.yml", CHANNEL, {"shipit_bot_source": str(on_v1.wheels["2.0.0"]), **PM_MODE})
    assert run.rc == 0, run.explain()
    assert run.outcome["status"] == "success" and run.outcome["verified"], run.explain()
    checks = verdict_checks(run)
    assert checks["probe_rank"]["ok"] and checks["probe_rank"]["seen"] == "rank 2"
    assert checks["command_round_trip"]["ok"] and "status: up" in str(checks["command_round_trip"]["seen"])
    journal = shipit.ssh(f"journalctl -u cytube-bot@{CHANNEL}.service -o cat --no-pager --since=-2min")
    assert "status sent to shipprobe" in journal, journal[-2000:]
    assert "<shipprobe> status" not in journal, "pm mode must not say the command in public chat"


def test_pm_mode_a_bot_that_never_answers_the_pm_is_rolled_back(shipit: Shipit, on_v1: ChatReleased) -> None:
    extra = {"shipit_bot_source": str(on_v1.wheels["2.0.0"]), "shipit_bot_faults": {"never_answer": True}, **PM_MODE}
    run = shipit.playbook("deploy.yml", CHANNEL, extra)
    assert run.rc != 0, run.explain()
    assert run.outcome["status"] == "rolled_back" and run.outcome["failed_check"] == "command_round_trip", run.explain()
    assert run.outcome["rollback"]["result"] == "verified" and shipit.current(CHANNEL) == on_v1.v1


def test_pm_mode_a_probe_without_the_rank_is_inconclusive_naming_the_fix(shipit: Shipit, on_v1: ChatReleased) -> None:
    run = shipit.verify_with({**PM_MODE, "shipit_verify_probe_rank": 3}, channel=CHANNEL)
    assert run.rc != 0, run.explain()
    assert run.outcome["verdict"]["verdict"] == "inconclusive", run.explain()
    assert run.outcome["failed_check"] == "probe_rank", run.explain()
    assert "/rank shipprobe 3" in run.stdout


def test_presence_mode_verifies_the_chatbot_without_a_message(shipit: Shipit, on_v1: ChatReleased) -> None:
    extra = {"shipit_bot_source": str(on_v1.wheels["2.0.0"]), **PRESENCE_MODE}
    run = shipit.playbook("deploy.yml", CHANNEL, extra)
    assert run.rc == 0, run.explain()
    assert run.outcome["status"] == "success" and run.outcome["verified"], run.explain()
    checks = verdict_checks(run)
    assert checks["bot_present"]["ok"] and "command_round_trip" not in checks


def test_presence_mode_a_bot_that_never_joins_is_rolled_back(shipit: Shipit, on_v1: ChatReleased) -> None:
    extra = {"shipit_bot_source": str(on_v1.wheels["2.0.0"]), "shipit_bot_faults": {"never_join": True}}
    run = shipit.playbook("deploy.yml", CHANNEL, {**extra, **PRESENCE_MODE})
    assert run.rc != 0, run.explain()
    assert run.outcome["status"] == "rolled_back" and run.outcome["failed_check"] == "bot_present", run.explain()
    assert run.outcome["rollback"]["result"] == "verified" and shipit.current(CHANNEL) == on_v1.v1


def test_a_deploy_older_than_the_live_release_warns_about_the_downgrade(shipit: Shipit, on_v1: ChatReleased) -> None:
    up = deploy(shipit, on_v1.wheels["2.0.0"])
    assert up.rc == 0 and "warnings" not in up.outcome, up.explain()
    down = deploy(shipit, on_v1.wheels["1.0.0"])
    assert down.rc == 0 and down.outcome["status"] == "success", down.explain()
    (warning,) = down.outcome["warnings"]
    assert warning.startswith("downgrade: 2.0.0 -> 1.0.0 (the live release was newer)"), warning
    assert "WARNING: downgrade: 2.0.0 -> 1.0.0" in down.stdout


def test_a_rollback_names_the_missing_release_it_passed_over(
    shipit: Shipit, on_v1: ChatReleased, tmp_path: Path
) -> None:
    built = subprocess.run(
        [str(REPO_ROOT / "examples" / "build-wheel.sh"), "3.0.0", str(tmp_path), "chatbot"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    run = deploy(shipit, on_v1.wheels["2.0.0"])
    assert run.rc == 0, run.explain()
    v2 = shipit.current(CHANNEL)
    run = deploy(shipit, Path(built.stdout.strip().splitlines()[-1]))
    assert run.rc == 0, run.explain()
    shipit.ssh(f"rm -rf {BASE}/releases/{v2}")  # removed by hand: the live stack still names it
    run = shipit.rollback(channel=CHANNEL)
    assert run.rc == 0, run.explain()
    assert shipit.current(CHANNEL) == on_v1.v1
    assert run.outcome["warnings"] == [
        f"rollback skipped release {v2}: it no longer exists on the host (removed by hand, or pruned)"
    ], run.explain()
    assert f"WARNING: rollback skipped release {v2}" in run.stdout


# ------------------------------------------------------------------- env password delivery (reference bot)

ENV_TEMPLATE = Path(__file__).parent / "files" / "refbot-env.toml.j2"
ENV_CHANNEL = "shipit-sandbox2"  # the reference bot's second sandbox channel (account shipbot2, port 8766)


def test_env_password_delivery_reaches_the_reference_bot(shipit: Shipit) -> None:
    shipit.wipe(ENV_CHANNEL)
    try:
        extra = {"shipit_bot_password_delivery": "env", "shipit_bot_config_template": str(ENV_TEMPLATE)}
        run = shipit.deploy("1.0.0", channel=ENV_CHANNEL, extra=extra)
        assert run.rc == 0 and run.outcome["status"] == "success" and run.outcome["verified"], run.explain()
        release = f"{ROOT}/{ENV_CHANNEL}/releases/{shipit.current(ENV_CHANNEL)}"
        config = shipit.ssh(f"cat {release}/config.toml")
        assert "[account]" in config and "password_credential" not in config and "password_file" not in config
        # Only the variable's name is looked at: the value never leaves the host.
        names = shipit.ssh(
            f"pid=$(systemctl show -p MainPID --value cytube-bot@{ENV_CHANNEL}.service); "
            "for p in $(pgrep -P $pid); do tr '\\0' '\\n' < /proc/$p/environ | cut -d= -f1; done"
        ).split()
        assert "CYTUBE_BOT_PASSWORD" in names
        secret = shipit.secrets["bot"]
        assert secret not in run.stdout and secret not in run.stderr
        assert secret not in shipit.ssh(f"cat {release}/run {release}/RELEASE.json {release}/config.toml")
    finally:
        shipit.wipe(ENV_CHANNEL)

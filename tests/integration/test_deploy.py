"""playbooks/deploy.yml and verify.yml on a sandbox host, against the CyTube stand-in.

One channel (shipit-sandbox on sandbox-1). The module fixture ``released`` deploys 1.0.0 then
2.0.0 on a fresh channel once; every test starts from "2.0.0 is live" (a failed deploy rolls
back to it, and ``on_v2`` puts it back otherwise), so the tests do not depend on their order.
Each run's outcome is checked against meta/outcome.schema.json, on the host's journal and in
the run's output. Needs root: sudo .venv/bin/pytest tests/integration/test_deploy.py
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from deploy_fixtures import CHANNEL_1, CHANNEL_2, ROOT, Run, Shipit

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(600)]


@dataclasses.dataclass(frozen=True)
class Released:
    """The two good releases deployed on a fresh channel, and their runs."""

    ids: dict[str, str]
    runs: dict[str, Run]


@pytest.fixture(scope="module")
def released(shipit: Shipit) -> Released:
    shipit.wipe(CHANNEL_1)
    ids, runs = {}, {}
    for version in ("1.0.0", "2.0.0"):
        run = shipit.deploy(version)
        assert run.rc == 0, run.explain()
        ids[version], runs[version] = live_id(shipit), run
    return Released(ids, runs)


@pytest.fixture
def on_v2(shipit: Shipit, released: Released) -> Released:
    """2.0.0 is live when the test starts."""
    if shipit.current() != released.ids["2.0.0"]:
        run = shipit.deploy("2.0.0")
        assert run.rc == 0, run.explain()
    return released


def live_id(shipit: Shipit) -> str:
    current = shipit.current()
    assert current, "no current link"
    return current


def test_first_deploy(shipit: Shipit, released: Released) -> None:
    run, release = released.runs["1.0.0"], released.ids["1.0.0"]
    assert release.startswith("1.0.0-")
    manifest = shipit.manifest(release)
    assert manifest["version"] == "1.0.0" and manifest["release_id"] == release
    assert manifest["source"] == str(shipit.wheels["1.0.0"])
    assert len(manifest["artifact_sha256"]) == 64 and manifest["actor"] and manifest["built_at"]
    assert shipit.state()["releases"][release]["status"] == "good"
    assert "verified healthy" in run.stdout
    outcome = run.outcome
    assert outcome["status"] == "success" and outcome["verified"] and outcome["changed"]
    assert outcome["release"]["id"] == release and outcome["release"]["built"] is True
    assert outcome["previous_release"] is None and outcome["verdict"]["verdict"] == "healthy"
    assert {"validate", "resolve", "preflight", "lock", "build", "switch", "ready", "verify", "record"} <= set(
        outcome["timings"]
    )
    assert outcome in shipit.journal(), "the outcome printed is the one journaled on the host"
    assert f"DEPLOY SUCCESS: {outcome['reason']}" in run.stdout


def test_layout_secrets_and_unit(shipit: Shipit, on_v2: Released) -> None:
    base = f"{ROOT}/{CHANNEL_1}"
    out = shipit.ssh(
        "stat -c '%U %a' /etc/cytube-shipit/{chan}/bot-password; "
        "stat -c '%U %a' {base}/shared; "
        "ls {base}/current/; "
        "grep -c password_credential {base}/current/config.toml; "
        "grep -rl -F -- '{pw}' {base} /etc/systemd/system/cytube-bot@.service || echo no-secret-in-tree; "
        "ps -o user= -p $(systemctl show -p MainPID --value cytube-bot@{chan}.service)".format(
            chan=CHANNEL_1, base=base, pw=shipit.secrets["bot"]
        )
    )
    lines = out.split("\n")
    assert lines[0] == "root 600"
    assert lines[1].startswith("cytube-bot ")
    assert {"venv", "config.toml", "run", "RELEASE.json"} <= set(out.split())
    assert "no-secret-in-tree" in out
    assert lines[-2].strip() == "cytube-bot"
    props = shipit.ssh(
        f"systemctl show cytube-bot@{CHANNEL_1}.service "
        "-p NoNewPrivileges -p ProtectSystem -p PrivateTmp "
        "-p ProtectHome -p User -p LoadCredential"
    )
    for expected in ("NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes", "User=cytube-bot"):
        assert expected in props, props


def test_deploy_v2(shipit: Shipit, released: Released) -> None:
    release = released.ids["2.0.0"]
    assert release.startswith("2.0.0-") and release != released.ids["1.0.0"]
    assert released.ids["1.0.0"] in shipit.releases()
    outcome = released.runs["2.0.0"].outcome
    assert outcome["previous_release"]["id"] == released.ids["1.0.0"] and outcome["changed"]


def test_redeploy_is_a_noop(shipit: Shipit, on_v2: Released) -> None:
    pid = shipit.main_pid()
    run = shipit.deploy("2.0.0")
    assert run.rc == 0, run.explain()
    assert run.recap("sandbox-1")["changed"] == 0, run.explain()
    assert shipit.main_pid() == pid, "the bot was restarted"
    assert live_id(shipit) == on_v2.ids["2.0.0"]
    assert shipit.answer() == "2.0.0"
    assert "not restarted (unchanged)" in run.stdout
    outcome = run.outcome
    assert outcome["status"] == "success" and not outcome["changed"] and outcome["release"]["built"] is False
    assert shipit.journal()[-1] == outcome


def test_a_redeploy_of_a_live_release_edited_on_the_host_builds_it_again(shipit: Shipit, on_v2: Released) -> None:
    """Issue 13: a hand-edited live release was "already built, unchanged" and crash-looped at the next restart."""
    live = live_id(shipit)
    module = f"{ROOT}/{CHANNEL_1}/releases/{live}/venv/lib/python3*/site-packages/cytube_refbot/__init__.py"
    shipit.ssh(f"echo 'raise SystemExit(\"edited by hand\")' >> {module}")  # the next restart would crash-loop
    pid = shipit.main_pid()
    run = shipit.deploy("2.0.0")
    assert run.rc == 0, run.explain()
    outcome = run.outcome
    assert outcome["status"] == "success" and outcome["release"] == dict(outcome["release"], id=live, built=True)
    (warning,) = outcome["warnings"]
    assert warning.startswith(f"rebuilt: release {live} differs from what was built and verified"), warning
    assert "cytube_refbot/__init__.py: modified" in warning and "WARNING: rebuilt:" in run.stdout
    assert "edited by hand" not in shipit.ssh(f"cat {module}")
    assert shipit.main_pid() != pid, "the rebuilt release was not restarted, so its verification proved nothing"
    assert live_id(shipit) == live and shipit.answer() == "2.0.0"


def put_uv_on_the_host(shipit: Shipit) -> None:
    """The controller's uv (requirements/controller.txt) copied to /usr/local/bin/uv of the channel's host."""
    uv = Path(sys.prefix) / "bin" / "uv"
    argv = [
        "ssh", "-F", "/dev/null", "-i", str(shipit.hosts.ssh_key), "-o", "BatchMode=yes",
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
        f"root@{shipit.host.address}", "cat > /usr/local/bin/uv.part && chmod 755 /usr/local/bin/uv.part "
        "&& mv /usr/local/bin/uv.part /usr/local/bin/uv",
    ]  # fmt: skip
    with uv.open("rb") as binary:
        subprocess.run(argv, stdin=binary, check=True, capture_output=True, timeout=120)


def test_installer_uv_builds_with_the_hosts_uv_and_the_release_passes_the_integrity_check(
    shipit: Shipit, on_v2: Released
) -> None:
    """Issue 11: bot_release_installer=uv installs the same wheelhouse with uv found on the host; the release is
    verified, RELEASE.json names uv, and the lock's integrity check accepts uv's RECORD files (a re-deploy reuses
    the release instead of rebuilding it as drifted). A fault-free config of its own keeps its release id apart."""
    put_uv_on_the_host(shipit)
    own = {"bot_release_installer": "uv"}
    try:
        run = shipit.deploy("3.0.0", faults={"answer_delay_s": 0}, extra=own)
        assert run.rc == 0, run.explain()
        release = run.outcome["release"]
        assert run.outcome["status"] == "success" and release["built"] is True, run.explain()
        assert shipit.manifest(release["id"])["installer"] == "uv"
        again = shipit.deploy("3.0.0", faults={"answer_delay_s": 0}, extra=own)
        assert again.rc == 0, again.explain()
        assert again.outcome["release"]["built"] is False and not again.outcome.get("warnings"), again.explain()
    finally:
        shipit.ssh("rm -f /usr/local/bin/uv")


def test_check_diff_previews_and_changes_nothing(shipit: Shipit, on_v2: Released) -> None:
    pid = shipit.main_pid()
    before, journal = shipit.releases(), shipit.journal()
    run = shipit.deploy("3.0.0", "--check", "--diff")
    assert run.rc == 0, run.explain()
    assert run.outcome["status"] == "check" and "DEPLOY CHECK" in run.stdout, run.explain()
    assert "would run release 3.0.0-" in run.stdout
    assert "current -> releases/{}".format(on_v2.ids["2.0.0"]) in run.stdout  # the diff: before ...
    assert "+current -> releases/3.0.0-" in run.stdout  # ... and after
    assert shipit.releases() == before and live_id(shipit) == on_v2.ids["2.0.0"] and shipit.main_pid() == pid
    assert shipit.journal() == journal, "check mode journals nothing"


BAD_RELEASES = [
    pytest.param({"crash_at_start": True}, ("unit_active", "unit_stable"), id="crashes-at-start"),
    pytest.param({"never_join": True}, ("health",), id="never-joins"),
    pytest.param({"never_answer": True}, ("command_round_trip",), id="never-answers"),
    pytest.param({"answer_delay_s": 4}, ("command_round_trip",), id="answers-too-late"),
]


@pytest.mark.parametrize("faults,checks", BAD_RELEASES)
def test_bad_release_is_rolled_back(
    shipit: Shipit, on_v2: Released, faults: dict[str, Any], checks: tuple[str, ...]
) -> None:
    run = shipit.deploy("3.0.0", faults=faults)
    assert run.rc != 0, run.explain()
    assert "Rolled back to {}".format(on_v2.ids["2.0.0"]) in run.output, run.explain()
    assert "verified healthy" in run.output, run.explain()
    assert any(f"FAILED check {name}" in run.output for name in checks), run.explain()
    assert live_id(shipit) == on_v2.ids["2.0.0"]
    assert shipit.answer() == "2.0.0"
    state = shipit.state()
    bad = [rid for rid, entry in state["releases"].items() if entry.get("status") == "bad"]
    newest = max(bad, key=lambda rid: state["releases"][rid]["marked_at"])
    assert newest.startswith("3.0.0-") and newest in shipit.releases(), "the bad release is kept for forensics"
    assert state["releases"][newest]["reason"].split(":")[0] in checks
    outcome = run.outcome
    assert outcome["status"] == "rolled_back" and outcome["failed_check"] in checks
    assert outcome["verdict"]["verdict"] == "unhealthy", "the verdict that failed the deploy, not the rollback's"
    assert outcome["release"]["id"] == newest and outcome["rollback"]["result"] == "verified"
    assert outcome["rollback"]["target"]["id"] == on_v2.ids["2.0.0"]
    assert outcome["rollback"]["verdict"]["verdict"] == "healthy" and "rollback" in outcome["timings"]
    assert run.ended_with_the_outcome_text(), run.explain()
    assert shipit.journal()[-1] == outcome


def test_a_failing_first_deploy_stops_the_bot_and_says_so(shipit: Shipit) -> None:
    shipit.wipe(CHANNEL_2)
    try:
        run = shipit.deploy("3.0.0", channel=CHANNEL_2, faults={"never_answer": True})
        assert run.rc != 0, run.explain()
        outcome = run.outcome
        assert outcome["status"] == "rollback_failed" and outcome["rollback"]["result"] == "stopped"
        assert "no previous good release to roll back to, so the bot was stopped" in outcome["reason"]
        assert run.ended_with_the_outcome_text(), run.explain()
        assert shipit.current(CHANNEL_2) is None and shipit.unit(CHANNEL_2)["ActiveState"] != "active"
        assert shipit.journal(CHANNEL_2) == [outcome]
    finally:
        shipit.wipe(CHANNEL_2)


def test_rollback_list_shows_bad_releases(shipit: Shipit, on_v2: Released) -> None:
    shipit.deploy("3.0.0", faults={"never_answer": True})
    run = shipit.rollback({"rollback_to": "list"})
    assert run.rc == 0, run.explain()
    assert "live {}".format(on_v2.ids["2.0.0"]) in run.stdout
    assert "BAD" in run.stdout
    assert run.outcomes == [], "a listing changes nothing and has no outcome"


def test_failed_build_leaves_the_live_release_untouched(shipit: Shipit, on_v2: Released) -> None:
    pid = shipit.main_pid()
    before = shipit.releases()
    # An invalid config value: the bot's --check-config fails at build time.
    run = shipit.deploy("3.0.0", faults={"answer_delay_s": 99999})
    assert run.rc != 0, run.explain()
    assert "build of release 3.0.0-" in run.output and "the live release is untouched" in run.output
    assert "answer_delay_s" in run.output
    assert shipit.releases() == before and live_id(shipit) == on_v2.ids["2.0.0"] and shipit.main_pid() == pid
    outcome = run.outcome
    assert outcome["status"] == "failed" and outcome["failed_check"] == "build" and not outcome["changed"]
    assert run.ended_with_the_outcome_text() and shipit.journal()[-1] == outcome


@pytest.mark.parametrize(
    "extra,needle",
    [
        ({"shipit_channel": "bad name!"}, "shipit_channel 'bad name!' is not a CyTube channel name"),
        ({"shipit_channel": "nosuchchannel"}, "not one of the channels of this inventory"),
        ({"shipit_bot_source": ""}, "shipit_bot_source is not set"),
        ({"shipit_verify_overrides": {"reply_timeout": -1}}, "shipit_verify_overrides reply_timeout -1"),
        ({"shipit_verify_overrides": {"reply_timout": 2}}, "unknown key 'reply_timout'"),
        ({"shipit_keep_releases": -1}, "shipit_keep_releases -1 is not valid"),
        ({"shipit_lock_ttl": "abc"}, "shipit_lock_ttl 'abc' is not valid"),
    ],
    ids=["channel-format", "unknown-channel", "no-source", "negative-threshold", "unknown-threshold", "keep", "ttl"],
)
def test_bad_input_fails_before_any_change(shipit: Shipit, on_v2: Released, extra: dict[str, Any], needle: str) -> None:
    pid, journal = shipit.main_pid(), shipit.journal()
    values = {"shipit_bot_source": str(shipit.wheels["3.0.0"])}
    values.update(extra)
    channel = values.pop("shipit_channel", CHANNEL_1)
    run = shipit.playbook("deploy.yml", channel, values)
    assert run.rc != 0 and needle in run.output, run.explain()
    assert run.outcome["status"] == "invalid" and run.ended_with_the_outcome_text(), run.explain()
    assert "Take the deploy lock" not in run.stdout, "failed after the lock"
    assert live_id(shipit) == on_v2.ids["2.0.0"] and shipit.main_pid() == pid
    assert shipit.journal() == journal, "bad input contacts nothing"


def test_a_missing_wheel_fails_resolving_and_changes_nothing(shipit: Shipit, on_v2: Released) -> None:
    run = shipit.deploy_source("/nonexistent/bot-1.0-py3-none-any.whl")
    assert run.rc != 0 and "/nonexistent/bot-1.0-py3-none-any.whl does not exist" in run.output, run.explain()
    assert run.outcome["status"] == "failed" and run.outcome["failed_check"] == "resolve"
    assert live_id(shipit) == on_v2.ids["2.0.0"]


def test_validate_tag_checks_inputs_without_contacting_hosts(shipit: Shipit, on_v2: Released) -> None:
    run = shipit.playbook("deploy.yml", CHANNEL_1, {"shipit_keep_releases": -1}, "--tags", "validate")
    assert run.rc != 0 and "shipit_keep_releases -1" in run.output, run.explain()
    good = shipit.playbook(
        "deploy.yml", CHANNEL_1, {"shipit_bot_source": str(shipit.wheels["3.0.0"])}, "--tags", "validate"
    )
    assert good.rc == 0 and good.outcomes == [], good.explain()
    assert "bot_artifact" not in good.stdout and "channel lock" not in good.stdout.lower()


@pytest.mark.parametrize("playbook", ["deploy.yml", "verify.yml", "rollback.yml"])
def test_a_host_pattern_that_matches_nothing_fails(shipit: Shipit, playbook: str) -> None:
    run = shipit.playbook(playbook, CHANNEL_1, {"shipit_hosts": "sandbox-99", "shipit_bot_source": "x==1"})
    assert run.rc != 0 and "shipit_hosts sandbox-99 matches no host of this inventory" in run.output, run.explain()


def test_verify_playbook_healthy(shipit: Shipit, on_v2: Released) -> None:
    run = shipit.verify()
    assert run.rc == 0, run.explain()
    assert "is healthy" in run.stdout
    assert run.recap("sandbox-1")["changed"] == 0
    outcome = run.outcome
    assert outcome["kind"] == "verify" and outcome["status"] == "success"
    assert outcome["release"]["id"] == on_v2.ids["2.0.0"] and shipit.journal()[-1] == outcome


def test_cytube_down_refuses_the_deploy_and_makes_verify_inconclusive(shipit: Shipit, on_v2: Released) -> None:
    pid = shipit.main_pid()
    before = shipit.releases()
    shipit.standin.reset()
    shipit.standin.faults(down=True)
    try:
        run = shipit.playbook("deploy.yml", CHANNEL_1, {"shipit_bot_source": str(shipit.wheels["3.0.0"])}, reset=False)
        assert run.rc != 0, run.explain()
        assert "refused before anything changed (preflight)" in run.output, run.explain()
        assert run.outcome["status"] == "refused" and run.ended_with_the_outcome_text()
        verify = shipit.playbook("verify.yml", CHANNEL_1, None, reset=False)
        assert verify.rc != 0, verify.explain()
        assert "INCONCLUSIVE" in verify.output, verify.explain()
        assert verify.outcome["status"] == "inconclusive" and verify.ended_with_the_outcome_text()
    finally:
        shipit.standin.reset()
    assert shipit.releases() == before and live_id(shipit) == on_v2.ids["2.0.0"] and shipit.main_pid() == pid
    assert shipit.state()["releases"][on_v2.ids["2.0.0"]]["status"] == "good"
    assert [o["status"] for o in shipit.journal()[-2:]] == ["refused", "inconclusive"]


def test_a_probe_that_cannot_log_in_refuses_the_deploy(shipit: Shipit, on_v2: Released) -> None:
    pid, before = shipit.main_pid(), shipit.releases()
    run = shipit.deploy("3.0.0", extra={"shipit_probe_password": "not-the-probe-password"})
    assert run.rc != 0 and run.outcome["status"] == "refused", run.explain()
    assert "the probe account 'shipprobe' cannot log in" in run.outcome["reason"]
    assert "not-the-probe-password" not in run.output
    assert shipit.releases() == before and live_id(shipit) == on_v2.ids["2.0.0"] and shipit.main_pid() == pid


def test_secrets_never_appear_in_output_or_outcomes(shipit: Shipit, on_v2: Released) -> None:
    runs = [
        shipit.deploy("2.0.0", "-vvv"),  # no-op deploy
        shipit.deploy("3.0.0", "-vvv", faults={"never_answer": True}),  # a failed deploy and its rollback
        shipit.verify("-vvv"),
        shipit.rollback({"rollback_to": "list"}, "-vvv"),
    ]
    for run, should_pass in zip(runs, (True, False, True, True), strict=True):
        assert (run.rc == 0) == should_pass, run.explain()
    journal = shipit.ssh(f"cat {ROOT}/{CHANNEL_1}/.shipit/outcomes.jsonl")
    for name, secret in (("bot", shipit.secrets["bot"]), ("probe", shipit.secrets["probe"])):
        for run in runs:
            assert secret not in run.output, f"the {name} password appears in the output of {run.argv}"
            assert all(secret not in str(outcome) for outcome in run.outcomes)
        assert secret not in journal, f"the {name} password is in the journal"
    assert live_id(shipit) == on_v2.ids["2.0.0"]


def test_verify_prod_profile_runs_a_stability_window(shipit: Shipit, on_v2: Released) -> None:
    overrides = {"repeat": 3, "interval": 1, "reply_timeout": 2}
    run = shipit.verify_with({"shipit_verify_profile": "prod", "shipit_verify_overrides": overrides})
    assert run.rc == 0, run.explain()
    assert run.elapsed >= 2, "three rounds one second apart take two seconds at least"
    assert run.task_status("Check the host again after the stability window") == "ok", run.explain()
    assert "is healthy" in run.stdout

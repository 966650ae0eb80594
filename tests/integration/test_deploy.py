"""playbooks/deploy.yml and verify.yml on a sandbox host, against the CyTube stand-in.

One channel (shipit-sandbox on sandbox-1), tests in order, sharing its state: deploy v1, v2,
an idempotent re-deploy, a --check preview, the four bad releases of the reference bot (each
rolled back automatically), a failed build, bad input, CyTube down, secrets in -vvv output.
Needs root: sudo .venv/bin/pytest tests/integration/test_deploy.py
"""

from __future__ import annotations

from typing import Any

import pytest
from deploy_fixtures import CHANNEL_1, ROOT, Shipit, sandbox_secrets, shipit, standin, wheels  # noqa: F401

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(600)]

# Both shared across the module: release ids of the good versions.
IDS: dict[str, str] = {}


@pytest.fixture(scope="module", autouse=True)
def fresh_channel(shipit: Shipit) -> None:  # noqa: F811
    shipit.wipe(CHANNEL_1)


def live_id(shipit: Shipit) -> str:  # noqa: F811
    current = shipit.current()
    assert current, "no current link"
    return current


def test_first_deploy(shipit: Shipit) -> None:  # noqa: F811
    run = shipit.deploy("1.0.0")
    assert run.rc == 0, run.explain()
    release = live_id(shipit)
    assert release.startswith("1.0.0-")
    IDS["1.0.0"] = release
    assert shipit.answer() == "1.0.0"
    manifest = shipit.manifest(release)
    assert manifest["version"] == "1.0.0" and manifest["release_id"] == release
    assert manifest["source"] == str(shipit.wheels["1.0.0"])
    assert len(manifest["artifact_sha256"]) == 64 and manifest["actor"] and manifest["built_at"]
    assert shipit.state()["releases"][release]["status"] == "good"
    assert "verified healthy" in run.stdout


def test_layout_secrets_and_unit(shipit: Shipit) -> None:  # noqa: F811
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


def test_deploy_v2(shipit: Shipit) -> None:  # noqa: F811
    run = shipit.deploy("2.0.0")
    assert run.rc == 0, run.explain()
    release = live_id(shipit)
    assert release.startswith("2.0.0-") and release != IDS["1.0.0"]
    IDS["2.0.0"] = release
    assert shipit.answer() == "2.0.0"
    assert IDS["1.0.0"] in shipit.releases()
    assert shipit.state()["stack"][-2:] == [IDS["1.0.0"], release]


def test_redeploy_is_a_noop(shipit: Shipit) -> None:  # noqa: F811
    pid = shipit.main_pid()
    run = shipit.deploy("2.0.0")
    assert run.rc == 0, run.explain()
    assert run.recap("sandbox-1")["changed"] == 0, run.explain()
    assert shipit.main_pid() == pid, "the bot was restarted"
    assert live_id(shipit) == IDS["2.0.0"]
    assert "not restarted (unchanged)" in run.stdout


def test_check_diff_previews_and_changes_nothing(shipit: Shipit) -> None:  # noqa: F811
    pid = shipit.main_pid()
    before = shipit.releases()
    run = shipit.deploy("3.0.0", "--check", "--diff")
    assert run.rc == 0, run.explain()
    assert "would run release 3.0.0-" in run.stdout
    assert "current -> releases/{}".format(IDS["2.0.0"]) in run.stdout  # the diff: before ...
    assert "+current -> releases/3.0.0-" in run.stdout  # ... and after
    assert shipit.releases() == before and live_id(shipit) == IDS["2.0.0"] and shipit.main_pid() == pid


BAD_RELEASES = [
    pytest.param({"crash_at_start": True}, ("unit_active", "unit_stable"), id="crashes-at-start"),
    pytest.param({"never_join": True}, ("health",), id="never-joins"),
    pytest.param({"never_answer": True}, ("command_round_trip",), id="never-answers"),
    pytest.param({"answer_delay_s": 4}, ("command_round_trip",), id="answers-too-late"),
]


@pytest.mark.parametrize("faults,checks", BAD_RELEASES)
def test_bad_release_is_rolled_back(shipit: Shipit, faults: dict[str, Any], checks: tuple[str, ...]) -> None:  # noqa: F811
    run = shipit.deploy("3.0.0", faults=faults)
    assert run.rc != 0, run.explain()
    assert "Rolled back to {}".format(IDS["2.0.0"]) in run.output, run.explain()
    assert "verified healthy" in run.output, run.explain()
    assert any(f"FAILED check {name}" in run.output for name in checks), run.explain()
    assert live_id(shipit) == IDS["2.0.0"]
    assert shipit.answer() == "2.0.0"
    state = shipit.state()
    bad = [rid for rid, entry in state["releases"].items() if entry.get("status") == "bad"]
    newest = max(bad, key=lambda rid: state["releases"][rid]["marked_at"])
    assert newest.startswith("3.0.0-") and newest in shipit.releases(), "the bad release is kept for forensics"
    assert state["releases"][newest]["reason"].split(":")[0] in checks


def test_rollback_list_shows_bad_releases(shipit: Shipit) -> None:  # noqa: F811
    run = shipit.rollback({"rollback_to": "list"})
    assert run.rc == 0, run.explain()
    assert "live {}".format(IDS["2.0.0"]) in run.stdout
    assert run.stdout.count("BAD") >= 4


def test_failed_build_leaves_the_live_release_untouched(shipit: Shipit) -> None:  # noqa: F811
    pid = shipit.main_pid()
    before = shipit.releases()
    # An invalid config value: the bot's --check-config fails at build time.
    run = shipit.deploy("3.0.0", faults={"answer_delay_s": 99999})
    assert run.rc != 0, run.explain()
    assert "build of release 3.0.0-" in run.output and "the live release is untouched" in run.output
    assert "answer_delay_s" in run.output
    assert shipit.releases() == before and live_id(shipit) == IDS["2.0.0"] and shipit.main_pid() == pid


@pytest.mark.parametrize(
    "extra,needle",
    [
        ({"shipit_channel": "bad name!"}, "shipit_channel 'bad name!' is not usable"),
        ({"shipit_channel": "nosuchchannel"}, "not one of the channels of this inventory"),
        ({"shipit_bot_source": ""}, "shipit_bot_source is not set"),
        (
            {"shipit_bot_source": "/nonexistent/bot-1.0-py3-none-any.whl"},
            "/nonexistent/bot-1.0-py3-none-any.whl does not exist",
        ),
        ({"shipit_verify_overrides": {"reply_timeout": -1}}, "shipit_verify_overrides"),
        ({"shipit_verify_overrides": {"reply_timout": 2}}, "shipit_verify_overrides"),
    ],
    ids=["channel-format", "unknown-channel", "no-source", "missing-wheel", "negative-threshold", "unknown-threshold"],
)
def test_bad_input_fails_before_any_change(shipit: Shipit, extra: dict[str, Any], needle: str) -> None:  # noqa: F811
    pid = shipit.main_pid()
    values = {"shipit_bot_source": str(shipit.wheels["3.0.0"])}
    values.update(extra)
    channel = values.pop("shipit_channel", CHANNEL_1)
    run = shipit.playbook("deploy.yml", channel, values)
    assert run.rc != 0 and needle in run.output, run.explain()
    assert "Take the deploy lock" not in run.stdout, "failed after the lock"
    assert live_id(shipit) == IDS["2.0.0"] and shipit.main_pid() == pid


def test_verify_playbook_healthy(shipit: Shipit) -> None:  # noqa: F811
    run = shipit.verify()
    assert run.rc == 0, run.explain()
    assert "is healthy" in run.stdout
    assert run.recap("sandbox-1")["changed"] == 0


def test_cytube_down_is_inconclusive_and_changes_nothing(shipit: Shipit) -> None:  # noqa: F811
    pid = shipit.main_pid()
    before = shipit.releases()
    shipit.standin.reset()
    shipit.standin.faults(down=True)
    try:
        run = shipit.playbook("deploy.yml", CHANNEL_1, {"shipit_bot_source": str(shipit.wheels["3.0.0"])}, reset=False)
        assert run.rc != 0, run.explain()
        assert "inconclusive" in run.output and "nothing was changed" in run.output, run.explain()
        verify = shipit.playbook("verify.yml", CHANNEL_1, None, reset=False)
        assert verify.rc != 0, verify.explain()
        assert "INCONCLUSIVE" in verify.output, verify.explain()
    finally:
        shipit.standin.reset()
    assert shipit.releases() == before and live_id(shipit) == IDS["2.0.0"] and shipit.main_pid() == pid
    assert not [r for r, e in shipit.state()["releases"].items() if e.get("status") == "bad" and r == IDS["2.0.0"]]


def test_secrets_never_appear_in_output(shipit: Shipit) -> None:  # noqa: F811
    runs = [
        shipit.deploy("2.0.0", "-vvv"),  # no-op deploy
        shipit.deploy("3.0.0", "-vvv", faults={"never_answer": True}),  # a failed deploy and its rollback
        shipit.verify("-vvv"),
        shipit.rollback({"rollback_to": "list"}, "-vvv"),
    ]
    assert runs[0].rc == 0 and runs[1].rc != 0 and runs[2].rc == 0 and runs[3].rc == 0, runs[1].explain()
    for run in runs:
        for name, secret in (("bot", shipit.secrets["bot"]), ("probe", shipit.secrets["probe"])):
            assert secret not in run.output, f"the {name} password appears in the output of {run.argv}"
    assert live_id(shipit) == IDS["2.0.0"]


def test_verify_prod_profile_runs_a_stability_window(shipit: Shipit) -> None:  # noqa: F811
    overrides = {"repeat": 3, "interval": 1, "reply_timeout": 2}
    run = shipit.verify_with({"shipit_verify_profile": "prod", "shipit_verify_overrides": overrides})
    assert run.rc == 0, run.explain()
    assert run.elapsed >= 2, "three rounds one second apart take two seconds at least"
    assert run.task_status("Check the host again after the stability window") == "ok", run.explain()
    assert "is healthy" in run.stdout

"""playbooks/rollback.yml on a sandbox host, and two channels sharing that host.

Channel shipit-sandbox2 (account shipbot2) gets releases 1.0.0, 2.0.0 and 3.0.0, then is
rolled back to the previous good release (twice), to a named release, refused a missing or
bad target, forced to a bad one, rolled back in emergency mode (also with CyTube down) and
previewed with --check. Channel shipit-sandbox (shipbot) runs on the same host throughout and
must never be touched by any of it.
Needs root: sudo .venv/bin/pytest tests/integration/test_rollback.py
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import time

import pytest
from deploy_fixtures import ANSIBLE, CHANNEL_1, CHANNEL_2, REPO_ROOT, ROOT, Shipit

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(600)]


@dataclasses.dataclass(frozen=True)
class Channels:
    """Releases 1.0.0, 2.0.0 and 3.0.0 on channel 2; channel 1 on 1.0.0 beside it (pid and release)."""

    ids: dict[str, str]
    other_pid: int
    other_release: str


@pytest.fixture(scope="module")
def channels(shipit: Shipit) -> Channels:
    shipit.wipe(CHANNEL_2)
    shipit.wipe(CHANNEL_1)
    first = shipit.deploy("1.0.0", channel=CHANNEL_1)
    assert first.rc == 0, first.explain()
    ids = {}
    for version in ("1.0.0", "2.0.0", "3.0.0"):
        run = shipit.deploy(version, channel=CHANNEL_2)
        assert run.rc == 0, run.explain()
        ids[version] = shipit.current(CHANNEL_2)
    return Channels(ids, shipit.main_pid(CHANNEL_1), shipit.current(CHANNEL_1))


@pytest.fixture
def ids(shipit: Shipit, channels: Channels) -> dict[str, str]:
    """All three releases exist on channel 2 and 3.0.0 is live when the test starts (release ids are
    deterministic, so a pruned release is rebuilt with its id; re-deploying an existing one only switches)."""
    present = shipit.releases(CHANNEL_2)
    missing = [version for version in ("1.0.0", "2.0.0") if channels.ids[version] not in present]
    for version in [*missing, "3.0.0"] if missing or shipit.current(CHANNEL_2) != channels.ids["3.0.0"] else []:
        run = shipit.deploy(version, channel=CHANNEL_2)
        assert run.rc == 0, run.explain()
    return channels.ids


def previous_good(shipit: Shipit) -> str:
    listing = shipit.rollback({"rollback_to": "list"}, channel=CHANNEL_2)
    match = re.search(r"previous good (\S+),", listing.stdout)
    assert match, listing.explain()
    return match.group(1)


def answer2(shipit: Shipit) -> str | None:
    return shipit.answer(CHANNEL_2, "shipbot2")


def other_untouched(shipit: Shipit, channels: Channels) -> None:
    assert shipit.main_pid(CHANNEL_1) == channels.other_pid, f"channel {CHANNEL_1} was restarted"
    assert shipit.current(CHANNEL_1) == channels.other_release


def test_two_channels_on_one_host_deploy_independently(shipit: Shipit, channels: Channels, ids: dict[str, str]) -> None:
    for version in ("1.0.0", "2.0.0", "3.0.0"):
        assert ids[version].startswith(version + "-")
    other_untouched(shipit, channels)
    assert answer2(shipit) == "3.0.0"
    assert shipit.answer(CHANNEL_1, "shipbot") == "1.0.0"
    # each channel: its own instance, release tree and secret
    out = shipit.ssh(
        f"systemctl is-active cytube-bot@{CHANNEL_1}.service cytube-bot@{CHANNEL_2}.service; "
        f"ls {ROOT}/{CHANNEL_1}/releases {ROOT}/{CHANNEL_2}/releases; ls /etc/cytube-shipit"
    )
    assert out.count("active") == 2 and CHANNEL_1 in out and CHANNEL_2 in out


def test_rollback_check_previews_without_changes(shipit: Shipit, channels: Channels, ids: dict[str, str]) -> None:
    pid = shipit.main_pid(CHANNEL_2)
    target = previous_good(shipit)
    run = shipit.rollback(None, "--check", "--diff", channel=CHANNEL_2)
    assert run.rc == 0, run.explain()
    assert "would roll back from {} to release {}".format(ids["3.0.0"], target) in run.stdout, run.explain()
    assert run.outcome["status"] == "check"
    assert shipit.current(CHANNEL_2) == ids["3.0.0"] and shipit.main_pid(CHANNEL_2) == pid


def test_rollback_to_previous(shipit: Shipit, channels: Channels, ids: dict[str, str]) -> None:
    target = previous_good(shipit)
    run = shipit.rollback(channel=CHANNEL_2)
    assert run.rc == 0, run.explain()
    assert "verified healthy" in run.stdout
    assert shipit.current(CHANNEL_2) == target and answer2(shipit) == target.split("-")[0]
    outcome = run.outcome
    assert outcome["kind"] == "rollback" and outcome["status"] == "success" and outcome["verified"]
    assert outcome["rollback"]["target"]["id"] == target and outcome["previous_release"]["id"] == ids["3.0.0"]
    assert shipit.journal(CHANNEL_2)[-1] == outcome
    # and again: the release before that
    before = target
    again = shipit.rollback(channel=CHANNEL_2)
    assert again.rc == 0, again.explain()
    assert shipit.current(CHANNEL_2) not in (before, ids["3.0.0"])
    other_untouched(shipit, channels)


def test_rollback_to_named_release(shipit: Shipit, channels: Channels, ids: dict[str, str]) -> None:
    run = shipit.rollback({"rollback_to": ids["2.0.0"]}, channel=CHANNEL_2)
    assert run.rc == 0, run.explain()
    assert shipit.current(CHANNEL_2) == ids["2.0.0"] and answer2(shipit) == "2.0.0"


def test_missing_target_is_refused_before_any_change(shipit: Shipit, channels: Channels, ids: dict[str, str]) -> None:
    pid = shipit.main_pid(CHANNEL_2)
    run = shipit.rollback({"rollback_to": "9.9.9-0000000000"}, channel=CHANNEL_2)
    assert run.rc != 0, run.explain()
    assert "9.9.9-0000000000 does not exist" in run.output and ids["1.0.0"] in run.output
    assert run.outcome["status"] == "refused" and run.ended_with_the_outcome_text(), run.explain()
    assert "Take the deploy lock" not in run.stdout and "CyTube is reachable" not in run.stdout
    assert shipit.current(CHANNEL_2) == ids["3.0.0"] and shipit.main_pid(CHANNEL_2) == pid
    bad_format = shipit.rollback({"rollback_to": "../../etc"}, channel=CHANNEL_2)
    assert bad_format.rc != 0 and "is not a release id" in bad_format.output, bad_format.explain()


def mark_bad(release: str) -> None:
    args = {"channel": CHANNEL_2, "state": "bad", "release": release, "reason": "marked by the test"}
    done = subprocess.run(
        [
            str(ANSIBLE),
            "-i",
            "inventories/sandbox",
            "sandbox-1",
            "-m",
            "cytube.shipit.bot_releases",
            "-a",
            json.dumps(args),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"), "PATH": str(ANSIBLE.parent) + ":/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_bad_target_needs_force(shipit: Shipit, channels: Channels, ids: dict[str, str]) -> None:
    mark_bad(ids["1.0.0"])
    pid = shipit.main_pid(CHANNEL_2)
    refused = shipit.rollback({"rollback_to": ids["1.0.0"]}, channel=CHANNEL_2)
    assert refused.rc != 0 and "is marked bad (marked by the test)" in refused.output, refused.explain()
    assert shipit.current(CHANNEL_2) == ids["3.0.0"] and shipit.main_pid(CHANNEL_2) == pid
    forced = shipit.rollback({"rollback_to": ids["1.0.0"], "rollback_force": True}, channel=CHANNEL_2)
    assert forced.rc == 0, forced.explain()
    assert shipit.current(CHANNEL_2) == ids["1.0.0"] and answer2(shipit) == "1.0.0"
    # verified healthy again: no longer bad
    assert shipit.state(CHANNEL_2)["releases"][ids["1.0.0"]]["status"] == "good"


def test_emergency_rollback_skips_verification_even_with_cytube_down(
    shipit: Shipit, channels: Channels, ids: dict[str, str]
) -> None:
    shipit.standin.reset()
    shipit.standin.faults(down=True)
    try:
        normal = shipit.playbook("rollback.yml", CHANNEL_2, {"rollback_to": ids["2.0.0"]}, reset=False)
        assert normal.rc != 0 and normal.outcome["status"] == "refused", normal.explain()
        assert shipit.current(CHANNEL_2) == ids["3.0.0"]
        emergency = shipit.playbook(
            "rollback.yml", CHANNEL_2, {"rollback_to": ids["2.0.0"], "rollback_emergency": True}, reset=False
        )
        assert emergency.rc == 0, emergency.explain()
        assert "NOT verified (emergency mode)" in emergency.stdout
        assert emergency.outcome["status"] == "success" and not emergency.outcome["verified"]
        assert shipit.current(CHANNEL_2) == ids["2.0.0"]
    finally:
        shipit.standin.reset()
    deadline = time.monotonic() + 30  # the bot reconnects with backoff once CyTube is back
    while answer2(shipit) != "2.0.0":
        assert time.monotonic() < deadline, "the bot did not come back as 2.0.0"
        time.sleep(1)
    other_untouched(shipit, channels)


def test_list_shows_live_bad_and_previous(shipit: Shipit, channels: Channels, ids: dict[str, str]) -> None:
    run = shipit.rollback({"rollback_to": "list"}, channel=CHANNEL_2)
    assert run.rc == 0, run.explain()
    assert "live {}".format(ids["3.0.0"]) in run.stdout
    lines = [line for line in run.stdout.splitlines() if any(rid in line for rid in ids.values())]
    live = [line for line in lines if "LIVE" in line]
    assert len(live) == 1 and ids["3.0.0"] in live[0]
    assert run.recap("sandbox-1")["changed"] == 0


def test_deploy_prunes_to_the_last_n_releases(shipit: Shipit, channels: Channels, ids: dict[str, str]) -> None:
    before = shipit.releases(CHANNEL_2)
    assert len(before) >= 3
    # a new release (its config differs), keeping 2: the new live one and the previous good one (the
    # release live before) stay
    run = shipit.deploy("3.0.0", channel=CHANNEL_2, faults={"answer_delay_s": 0.01}, extra={"shipit_keep_releases": 2})
    assert run.rc == 0, run.explain()
    new = shipit.current(CHANNEL_2)
    assert new not in before and "pruned" in run.stdout
    assert sorted(shipit.releases(CHANNEL_2)) == sorted([new, ids["3.0.0"]])
    state = shipit.state(CHANNEL_2)
    assert set(state["releases"]) <= {new, ids["3.0.0"]} and state["stack"][-2:] == [ids["3.0.0"], new]
    assert run.outcome["status"] == "success"
    other_untouched(shipit, channels)

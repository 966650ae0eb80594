"""A release edited by hand on its host is never rolled back to (sandbox-1, channel shipit-sandbox2, account shipbot2).

pip's RECORD files hold the sha256 of every file it installed into a release's virtualenv; a file of an older release
edited after its build makes that release "not the one that was verified": an explicit rollback (to it by name, or to
"previous") is refused naming the file, before anything changes, and the live bot keeps running.

The stand-in is not reset by these runs (other sessions may use it at the same time): the runs' own pre-flight
books CyTube's connection tokens.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from deploy_fixtures import CHANNEL_2, ROOT, Run, Shipit

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(900)]

EDITED = "cytube_refbot/commands.py"


def deploy(shipit: Shipit, version: str) -> Run:
    return shipit.playbook("deploy.yml", CHANNEL_2, {"shipit_bot_source": str(shipit.wheels[version])}, reset=False)


def rollback(shipit: Shipit, extra: dict[str, str] | None = None) -> Run:
    return shipit.playbook("rollback.yml", CHANNEL_2, extra, reset=False)


def edited_path(release: str) -> str:
    return f"$(echo {ROOT}/{CHANNEL_2}/releases/{release}/venv/lib/python3*/site-packages)/{EDITED}"


@pytest.fixture(scope="module")
def releases(shipit: Shipit) -> Iterator[dict[str, str]]:
    """1.0.0 then 2.0.0 deployed and verified on channel 2 (2.0.0 live)."""
    shipit.wipe(CHANNEL_2)
    ids = {}
    for version in ("1.0.0", "2.0.0"):
        run = deploy(shipit, version)
        assert run.rc == 0, run.explain()
        ids[version] = shipit.current(CHANNEL_2)
    yield ids
    shipit.wipe(CHANNEL_2)


@pytest.fixture
def tampered_previous(shipit: Shipit, releases: dict[str, str]) -> Iterator[str]:
    """1.0.0's commands.py with one line appended by hand (put back afterwards)."""
    path = edited_path(releases["1.0.0"])
    shipit.ssh(f"cp {path} /tmp/shipit-pristine.py && echo '# edited by hand' >> {path}")
    yield releases["1.0.0"]
    shipit.ssh(f"cp /tmp/shipit-pristine.py {path} && rm -f /tmp/shipit-pristine.py")


def assert_refused_naming_the_file(run: Run, release: str) -> None:
    assert run.rc != 0, run.explain()
    assert f"release {release} differs from what was built and verified" in run.output, run.explain()
    assert f"site-packages/{EDITED}: modified" in run.output, run.explain()


def test_a_rollback_to_a_release_edited_by_hand_is_refused(
    shipit: Shipit, releases: dict[str, str], tampered_previous: str
) -> None:
    pid = shipit.main_pid(CHANNEL_2)
    by_name = rollback(shipit, {"rollback_to": tampered_previous})
    assert_refused_naming_the_file(by_name, tampered_previous)
    assert "Deploy its version again to rebuild it" in by_name.output
    previous = rollback(shipit)
    assert_refused_naming_the_file(previous, tampered_previous)
    assert shipit.current(CHANNEL_2) == releases["2.0.0"] and shipit.main_pid(CHANNEL_2) == pid
    assert shipit.state(CHANNEL_2)["releases"][tampered_previous]["status"] == "good"


def test_an_intact_release_is_still_rolled_back_to(shipit: Shipit, releases: dict[str, str]) -> None:
    run = rollback(shipit)
    assert run.rc == 0, run.explain()
    assert shipit.current(CHANNEL_2) == releases["1.0.0"]
    again = deploy(shipit, "2.0.0")
    assert again.rc == 0, again.explain()


def test_a_failing_deploy_does_not_roll_back_to_a_release_edited_by_hand(
    shipit: Shipit, releases: dict[str, str]
) -> None:
    """2.0.0 (live, the way back) edited by hand, then a deploy of a bot that never answers: the automatic rollback
    does not switch to 2.0.0 (its restart could crash-loop); the bot is stopped and the outcome names the file."""
    path = edited_path(releases["2.0.0"])
    shipit.ssh(f"cp {path} /tmp/shipit-pristine.py && echo '# edited by hand' >> {path}")
    try:
        values = {"shipit_bot_source": str(shipit.wheels["3.0.0"]), "shipit_bot_faults": {"never_answer": True}}
        run = shipit.playbook("deploy.yml", CHANNEL_2, values, reset=False)
        assert run.rc != 0, run.explain()
        rollback_facts = run.outcome["rollback"]
        assert rollback_facts["result"] == "stopped", run.explain()
        assert f"release {releases['2.0.0']} differs from what was built and verified" in rollback_facts["reason"]
        assert f"site-packages/{EDITED}: modified" in rollback_facts["reason"]
        assert shipit.unit(CHANNEL_2)["ActiveState"] != "active"
    finally:
        shipit.ssh(f"cp /tmp/shipit-pristine.py {path} && rm -f /tmp/shipit-pristine.py")
    again = deploy(shipit, "2.0.0")
    assert again.rc == 0, again.explain()
    assert shipit.current(CHANNEL_2) == releases["2.0.0"]

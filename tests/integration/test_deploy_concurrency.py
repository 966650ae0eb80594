"""The channel lock (two deploys at once) and a deploy killed with SIGKILL after the switch.

Channel shipit-sandbox on sandbox-1. A slow deploy holds the lock (a stability window of
three round trips); a second deploy waits for it and then runs; a third with a 1 s bound fails
naming the holder; a verify started during a deploy's verification waits for it (its probe login would
kick the deploy's). A deploy killed after switching `current` leaves a stale lock and an
unverified live release: the next run takes the lock over and converges to a verified release.
Needs root: sudo .venv/bin/pytest tests/integration/test_deploy_concurrency.py
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable

import pytest
from deploy_fixtures import CHANNEL_1, ROOT, Shipit

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(600)]

SLOW = {"shipit_verify_overrides": {"repeat": 3, "interval": 2}}
LOCK = f"{ROOT}/{CHANNEL_1}/.shipit/lock.json"


@pytest.fixture(scope="module")
def ids(shipit: Shipit) -> dict[str, str]:
    """A fresh channel with good releases 1.0.0, 2.0.0 and 3.0.0 (3.0.0 live): their ids."""
    shipit.wipe(CHANNEL_1)
    found = {}
    for version in ("1.0.0", "2.0.0", "3.0.0"):
        run = shipit.deploy(version)
        assert run.rc == 0, run.explain()
        found[version] = shipit.current()
    return found


def make_live(shipit: Shipit, ids: dict[str, str], version: str) -> str:
    if shipit.current() != ids[version]:
        run = shipit.deploy(version)
        assert run.rc == 0, run.explain()
    return ids[version]


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting for " + what
        time.sleep(0.05)


def lock_held(shipit: Shipit) -> bool:
    return shipit.hosts.ssh(shipit.host, f"test -s {LOCK}").returncode == 0


def finish(proc: subprocess.Popen, timeout: float = 180) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out


def test_second_deploy_waits_for_the_first(shipit: Shipit, ids: dict[str, str]) -> None:
    make_live(shipit, ids, "1.0.0")
    shipit.standin.reset()
    first = shipit.start("deploy.yml", CHANNEL_1, dict(SLOW, shipit_bot_source=str(shipit.wheels["2.0.0"])))
    try:
        wait_until(lambda: lock_held(shipit), 60, "the first deploy to take the lock")
        second = shipit.playbook(
            "deploy.yml", CHANNEL_1, {"shipit_bot_source": str(shipit.wheels["3.0.0"])}, reset=False
        )
    finally:
        rc, out = finish(first)
    assert rc == 0, out[-4000:]
    assert second.rc == 0, second.explain()
    assert f"channel {CHANNEL_1} is locked by" in second.stdout and "waiting up to" in second.stdout
    assert f"pid {first.pid}" in second.stdout
    assert shipit.current() == ids["3.0.0"]
    assert second.outcome["status"] == "success" and second.outcome["timings"]["lock"] > 0
    assert not lock_held(shipit), "the lock was not released"


def test_verify_during_a_deploy_waits_instead_of_kicking_its_verification(shipit: Shipit, ids: dict[str, str]) -> None:
    """CyTube kicks the older of two probe logins in one channel: a verify that did not wait for the lock would
    end the deploy's verification (inconclusive, the new release live but unverified)."""
    before = shipit.current()
    # Any release other than the live one: the test waits for the switch.
    version = "2.0.0" if before != ids["2.0.0"] else "1.0.0"
    shipit.standin.reset()
    window = {"shipit_verify_overrides": {"repeat": 4, "interval": 3}}
    deploy = shipit.start("deploy.yml", CHANNEL_1, dict(window, shipit_bot_source=str(shipit.wheels[version])))
    try:
        # Switched: the deploy is in its verification, a stability window of about 9 s.
        wait_until(lambda: shipit.current() != before or deploy.poll() is not None, 120, "the deploy to switch")
        verify = shipit.playbook("verify.yml", CHANNEL_1, {}, reset=False)
    finally:
        rc, out = finish(deploy)
    assert rc == 0 and "Duplicate login" not in out, out[-4000:]
    deployed, verified = shipit.journal()[-2:]
    assert (deployed["kind"], deployed["status"], verified["kind"]) == ("deploy", "success", "verify"), deployed
    assert verify.rc == 0, verify.explain()
    assert f"channel {CHANNEL_1} is locked by" in verify.stdout and f"pid {deploy.pid}" in verify.stdout
    assert verify.outcome["kind"] == "verify" and verify.outcome["status"] == "success"
    assert verify.outcome["timings"]["lock"] > 0 and verify.outcome["release"]["id"] == ids[version]
    assert not lock_held(shipit), "verify did not release the lock"


def test_second_deploy_fails_after_the_bound_naming_the_holder(shipit: Shipit, ids: dict[str, str]) -> None:
    make_live(shipit, ids, "1.0.0")
    shipit.standin.reset()
    first = shipit.start("deploy.yml", CHANNEL_1, dict(SLOW, shipit_bot_source=str(shipit.wheels["2.0.0"])))
    try:
        wait_until(lambda: lock_held(shipit), 60, "the first deploy to take the lock")
        second = shipit.playbook(
            "deploy.yml",
            CHANNEL_1,
            {"shipit_bot_source": str(shipit.wheels["1.0.0"]), "shipit_lock_wait": 1},
            reset=False,
        )
    finally:
        rc, out = finish(first)
    assert second.rc != 0, second.explain()
    message = second.output
    assert f"channel {CHANNEL_1} on sandbox-1 is locked by" in message
    assert f"pid {first.pid}" in message and "deploy.yml" in message, second.explain()
    assert "deploy cytube-refbot 2.0.0" in message, second.explain()
    assert "wait bound 1 s" in message
    assert second.outcome["status"] == "refused" and second.outcome["failed_check"] == "lock"
    assert second.ended_with_the_outcome_text(), second.explain()
    assert rc == 0, out[-4000:]
    assert shipit.current() == ids["2.0.0"]


def kill_after_switch(shipit: Shipit, proc: subprocess.Popen, before: str) -> None:
    try:
        wait_until(
            lambda: (shipit.current() or before) != before or proc.poll() is not None,
            120,
            "the deploy to switch current",
        )
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
    assert shipit.current() != before, "the deploy ended before it switched"


def test_killed_deploy_then_rerun_converges(shipit: Shipit, ids: dict[str, str]) -> None:
    make_live(shipit, ids, "2.0.0")
    shipit.standin.reset()
    extra = dict(SLOW, shipit_bot_source=str(shipit.wheels["1.0.0"]))
    proc = shipit.start("deploy.yml", CHANNEL_1, extra)
    kill_after_switch(shipit, proc, ids["2.0.0"])
    assert shipit.current() == ids["1.0.0"] and lock_held(shipit), "expected a stale lock after SIGKILL"
    rerun = shipit.deploy("1.0.0")
    assert rerun.rc == 0, rerun.explain()
    assert "took over the stale lock" in rerun.output, rerun.explain()
    assert shipit.current() == ids["1.0.0"] and shipit.answer() == "1.0.0"
    state = shipit.state()
    assert state["releases"][ids["1.0.0"]]["status"] == "good" and state["stack"][-1] == ids["1.0.0"]
    assert not lock_held(shipit)


def test_killed_bad_deploy_then_rerun_rolls_back(shipit: Shipit, ids: dict[str, str]) -> None:
    make_live(shipit, ids, "1.0.0")
    shipit.standin.reset()
    extra = dict(SLOW, shipit_bot_source=str(shipit.wheels["3.0.0"]), shipit_bot_faults={"never_answer": True})
    proc = shipit.start("deploy.yml", CHANNEL_1, extra)
    kill_after_switch(shipit, proc, ids["1.0.0"])
    bad = shipit.current()
    assert bad.startswith("3.0.0-") and bad != ids["3.0.0"]
    rerun = shipit.deploy("3.0.0", faults={"never_answer": True})
    assert rerun.rc != 0, rerun.explain()
    assert "Rolled back to {}".format(ids["1.0.0"]) in rerun.output, rerun.explain()
    assert shipit.current() == ids["1.0.0"] and shipit.answer() == "1.0.0"
    assert shipit.state()["releases"][bad]["status"] == "bad"


def test_cytube_down_after_the_switch_is_inconclusive_without_rollback(shipit: Shipit, ids: dict[str, str]) -> None:
    before = make_live(shipit, ids, "1.0.0")
    shipit.standin.reset()
    proc = shipit.start("deploy.yml", CHANNEL_1, {"shipit_bot_source": str(shipit.wheels["2.0.0"])})
    try:
        wait_until(lambda: shipit.current() != before or proc.poll() is not None, 120, "the deploy to switch")
        shipit.standin.faults(down=True)
        out, _ = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        shipit.standin.reset()
    assert proc.returncode != 0, out[-4000:]
    assert "INCONCLUSIVE" in out and "nothing was rolled back" in out, out[-4000:]
    outcome = shipit.journal()[-1]
    assert outcome["status"] == "inconclusive" and outcome["rollback"]["result"] == "skipped"
    new = shipit.current()
    assert new != before and new.startswith("2.0.0-"), "the new release must stay live (no blind rollback)"
    state = shipit.state()
    assert state["releases"].get(new, {}).get("status") != "bad" and state["stack"][-1] == before
    # CyTube is back: the same deploy verifies the live release and records it.
    rerun = shipit.deploy("2.0.0")
    assert rerun.rc == 0, rerun.explain()
    assert shipit.current() == new and shipit.state()["stack"][-1] == new and shipit.answer() == "2.0.0"

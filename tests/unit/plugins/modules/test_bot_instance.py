"""Unit tests for the bot_instance module with a fake systemd: switch, restart, no-op, refusals, check mode.

The modules run for real (AnsibleModule, exit_json/fail_json) on a temporary root; systemctl and
journalctl are replaced by a fake systemd (run_command is patched). The same modules run on
sandbox hosts in tests/integration/test_deploy*.py and test_rollback.py.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ansible.module_utils import basic
from ansible_collections.cytube.shipit.plugins.module_utils import shipit_state as st
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_layout import ChannelLayout
from ansible_collections.cytube.shipit.plugins.modules import bot_instance
from module_harness import FakeSystemd, make_release, run

pytestmark = pytest.mark.timeout(60)

SECRET = "s3cret-Bot-Pw-0451"


# --------------------------------------------------------------------------- bot_instance


@pytest.fixture()
def systemd(monkeypatch: pytest.MonkeyPatch) -> FakeSystemd:
    fake = FakeSystemd()
    monkeypatch.setattr(basic.AnsibleModule, "run_command", fake)
    monkeypatch.setattr(bot_instance.Instance, "ensure_user", lambda self: None)
    return fake


def instance_args(tmp_path: Path, **over: Any) -> dict[str, Any]:
    args = {
        "channel": "chan",
        "root": str(tmp_path / "root"),
        "secrets_root": str(tmp_path / "etc"),
        "unit_dir": str(tmp_path / "units"),
        "unit_content": "[Service]\nExecStart=/bin/true\n",
        "secrets": {"bot-password": SECRET},
        "settle": 0,
        "ready_timeout": 1,
    }
    args.update(over)
    return args


def test_bot_instance_switch_restart_and_noop(
    tmp_path: Path, capsys: pytest.CaptureFixture, systemd: FakeSystemd, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "units").mkdir()
    root = tmp_path / "root"
    make_release(root, "chan", "v1-a", 1)
    make_release(root, "chan", "v2-b", 2)
    monkeypatch.setattr(os, "chown", lambda *a: None)
    failed, out = run(bot_instance, capsys, instance_args(tmp_path, release="v1-a"))
    assert not failed, out
    assert out["switched"] and out["restarted"] and out["ready"] and out["changed"]
    assert SECRET not in json.dumps(out)
    secret = tmp_path / "etc" / "chan" / "bot-password"
    assert secret.read_text() == SECRET and (secret.stat().st_mode & 0o777) == 0o600
    assert os.readlink(root / "chan" / "current") == "releases/v1-a"
    assert [c["name"] for c in out["checks"]] == ["unit_active", "unit_stable", "journal"]
    # the running process is not in a release dir in this fake, so a second run restarts; make it "run" v1-a
    monkeypatch.setattr(bot_instance.Instance, "running_release", lambda self, props: "v1-a")
    before = systemd.restarts()
    failed, out = run(bot_instance, capsys, instance_args(tmp_path, release="v1-a"))
    assert not failed and not out["changed"] and not out["restarted"] and systemd.restarts() == before
    # a new release: switched, restarted; the rollback target is the previous good one from the stack
    layout = ChannelLayout(str(root), "chan")
    state = st.load_state(layout)
    st.push_live(state, "v1-a")
    st.save_state(layout, state)
    failed, out = run(bot_instance, capsys, instance_args(tmp_path, release="v2-b"), diff=True)
    assert not failed and out["switched"] and out["restarted"] and out["rollback_target"] == "v1-a"
    assert "current -> releases/v1-a" in out["diff"]["before"] and "releases/v2-b" in out["diff"]["after"]


def test_bot_instance_refuses_before_changing(
    tmp_path: Path, capsys: pytest.CaptureFixture, systemd: FakeSystemd
) -> None:
    root = tmp_path / "root"
    make_release(root, "chan", "v1-a", 1)
    layout = ChannelLayout(str(root), "chan")
    state = st.load_state(layout)
    st.mark_bad(state, "v1-a", "crashed")
    st.save_state(layout, state)
    failed, out = run(bot_instance, capsys, instance_args(tmp_path, release="v9-z"))
    assert failed and "v9-z does not exist" in out["msg"] and "v1-a" in out["msg"]
    failed, out = run(bot_instance, capsys, instance_args(tmp_path, release="v1-a"))
    assert failed and "marked bad (crashed)" in out["msg"]
    failed, out = run(bot_instance, capsys, instance_args(tmp_path, release="previous"))
    assert failed and "no previous good release" in out["msg"]
    assert systemd.calls == [] and not (root / "chan" / "current").exists()
    assert not (tmp_path / "etc").exists()


def test_bot_instance_check_mode_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture, systemd: FakeSystemd
) -> None:
    (tmp_path / "units").mkdir()
    root = tmp_path / "root"
    make_release(root, "chan", "v1-a", 1)
    failed, out = run(bot_instance, capsys, instance_args(tmp_path, release="v1-a"), check_mode=True)
    assert not failed and out["changed"] and out["switched"] and out["restarted"]
    assert systemd.restarts() == 0 and not (root / "chan" / "current").exists()
    assert not (tmp_path / "etc").exists() and os.listdir(tmp_path / "units") == []
    # a deploy preview: the release is not built yet
    failed, out = run(
        bot_instance, capsys, instance_args(tmp_path, release="v2-new", assume_built=True), check_mode=True
    )
    assert not failed and out["release"] == "v2-new"


@pytest.fixture()
def reconnecting_until_restarted(systemd: FakeSystemd, json_endpoint: Callable[..., str]) -> str:
    """A health endpoint that says "between connections" until the unit is restarted, then "joined"."""

    def respond() -> tuple[int, dict[str, bool]]:
        joined = systemd.restarts() > 1
        return (200 if joined else 503), {"connected": joined, "joined": joined}

    return json_endpoint(respond)


@pytest.mark.parametrize("restart", ["auto", "never"])
def test_a_live_bot_still_in_its_reconnect_backoff_is_restarted_so_it_reconnects_now(
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    systemd: FakeSystemd,
    monkeypatch: pytest.MonkeyPatch,
    reconnecting_until_restarted: str,
    restart: str,
) -> None:
    """A re-deploy after a CyTube outage: the bot runs but waits out a backoff that can last a minute."""
    (tmp_path / "units").mkdir()
    make_release(tmp_path / "root", "chan", "v1-a", 1)
    monkeypatch.setattr(os, "chown", lambda *a: None)
    args = instance_args(tmp_path, release="v1-a", health_url=reconnecting_until_restarted, journal=False)
    systemd.active, systemd.pid = True, 7  # up, never restarted by us: the first deploy's restart is below
    failed, out = run(bot_instance, capsys, dict(args, restart="always", health_url=None))
    assert not failed and systemd.restarts() == 1, out
    monkeypatch.setattr(bot_instance.Instance, "running_release", lambda self, props: "v1-a")
    failed, out = run(bot_instance, capsys, dict(args, restart=restart))
    if restart == "never":
        assert failed or not out["ready"], out
        assert systemd.restarts() == 1 and "restart_reason" not in out
        return
    assert not failed and out["ready"] and out["restarted"], out
    assert out["restart_reason"] == bot_instance.RECONNECT_RESTART and systemd.restarts() == 2


# --------------------------------------------------------------------------- the host's shared bot user


def bare_instance(user_exists: Callable[[], bool], add_user: Callable[[], None]) -> bot_instance.Instance:
    """An Instance with only what ensure_user reads (no module run)."""
    instance = bot_instance.Instance.__new__(bot_instance.Instance)
    instance.p = {"user": "cytube-bot"}
    instance.check_mode = False
    instance.changed = False
    instance.user_exists = user_exists  # type: ignore[method-assign]
    instance.add_user = add_user  # type: ignore[method-assign]
    return instance


def lock_is_held(path: Path) -> bool:
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def test_the_bot_user_is_created_under_the_host_wide_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two channels set up at once on one host both ran useradd, and the second replaced the first's user."""
    lock = tmp_path / "host-setup.lock"
    monkeypatch.setattr(bot_instance, "host_setup_lock", lambda: str(lock))
    seen_locked = []
    instance = bare_instance(lambda: False, lambda: seen_locked.append(lock_is_held(lock)))
    instance.ensure_user()
    assert seen_locked == [True] and instance.changed
    assert not lock_is_held(lock), "the lock outlived the user's creation"


def test_a_bot_user_created_beside_us_while_we_waited_is_not_created_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot_instance, "host_setup_lock", lambda: str(tmp_path / "host-setup.lock"))
    answers = iter([False, True])  # missing at first sight; there once we hold the lock
    added = []
    instance = bare_instance(lambda: next(answers), lambda: added.append(True))
    instance.ensure_user()
    assert added == []

"""Unit tests for the per-channel lock file (shipit_lock)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from ansible_collections.cytube.shipit.plugins.module_utils import shipit_lock as sl
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_layout import ChannelLayout

pytestmark = pytest.mark.timeout(30)

OWNER_A = {"controller": "ctl-a", "pid": 100, "user": "alice", "playbook": "deploy.yml", "action": "deploy 2.0.0"}
OWNER_B = {"controller": "ctl-b", "pid": 200, "user": "bob", "playbook": "deploy.yml"}


@pytest.fixture()
def layout(tmp_path: Path) -> ChannelLayout:
    return ChannelLayout(str(tmp_path / "root"), "chan")


def test_acquire_release_cycle(layout: ChannelLayout) -> None:
    first = sl.lock_operation(layout, "acquired", "tok-a", OWNER_A, ttl=60, now=1000.0)
    assert first["acquired"] and first["changed"]
    on_disk = json.loads(Path(layout.lock_file).read_text())
    assert on_disk["token"] == "tok-a" and on_disk["owner"]["user"] == "alice"
    # a second run is refused and told who holds the lock
    second = sl.lock_operation(layout, "acquired", "tok-b", OWNER_B, ttl=60, now=1001.0)
    assert not second["acquired"] and second["holder"]["token"] == "tok-a"
    # the holder refreshes its heartbeat (re-entrant, not a change)
    again = sl.lock_operation(layout, "acquired", "tok-a", OWNER_A, ttl=60, now=1010.0)
    assert again["acquired"] and not again["changed"]
    assert again["holder"]["heartbeat_epoch"] == 1010.0 and again["holder"]["acquired_epoch"] == 1000.0
    # only the holder releases
    assert not sl.lock_operation(layout, "released", "tok-b", OWNER_B, ttl=60)["released"]
    assert sl.lock_operation(layout, "released", "tok-a", OWNER_A, ttl=60)["released"]
    assert not os.path.exists(layout.lock_file)


def test_ttl_expiry_allows_takeover(layout: ChannelLayout) -> None:
    sl.lock_operation(layout, "acquired", "tok-a", OWNER_A, ttl=60, now=1000.0)
    assert not sl.lock_operation(layout, "acquired", "tok-b", OWNER_B, ttl=60, now=1059.0)["acquired"]
    late = sl.lock_operation(layout, "acquired", "tok-b", OWNER_B, ttl=60, now=1061.0)
    assert late["acquired"] and late["took_over"]
    assert late["previous_holder"]["token"] == "tok-a"


def test_takeover_needs_the_exact_dead_token(layout: ChannelLayout) -> None:
    sl.lock_operation(layout, "acquired", "tok-a", OWNER_A, ttl=0, now=1000.0)
    wrong = sl.lock_operation(layout, "acquired", "tok-b", OWNER_B, ttl=0, takeover="tok-x", now=1001.0)
    assert not wrong["acquired"]
    right = sl.lock_operation(layout, "acquired", "tok-b", OWNER_B, ttl=0, takeover="tok-a", now=1001.0)
    assert right["acquired"] and right["took_over"]


def test_check_mode_never_writes(layout: ChannelLayout) -> None:
    result = sl.lock_operation(layout, "query", "tok-a", OWNER_A, ttl=60, check_mode=True)
    assert result["holder"] is None
    assert not os.path.exists(layout.state_dir)


def test_concurrent_acquire_has_one_winner(layout: ChannelLayout) -> None:
    sl.lock_operation(layout, "query", "x", {}, ttl=60)  # state dir absent: query creates nothing
    os.makedirs(layout.state_dir)
    winners = []
    barrier = threading.Barrier(8)

    def attempt(i: int) -> None:
        barrier.wait()
        if sl.lock_operation(layout, "acquired", f"tok-{i}", {"pid": i}, ttl=60)["acquired"]:
            winners.append(i)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1


def test_describe_holder_names_who_and_what() -> None:
    holder = {
        "owner": dict(OWNER_A, run_url="https://ci/run/1"),
        "acquired_at": "2024-01-01T00:00:00Z",
        "acquired_epoch": 100.0,
    }
    text = sl.describe_holder(holder, now=160.0)
    for part in ("alice@ctl-a", "pid 100", "deploy.yml", "deploy 2.0.0", "60s ago", "https://ci/run/1"):
        assert part in text
    assert sl.describe_holder(None) == "nobody"

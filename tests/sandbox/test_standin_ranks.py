"""Stored channel ranks and channel owners (CYTUBE_PROTOCOL.md §6, §7, §11)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest
from standin_harness import REPO_ROOT, Probe, StandIn, password

pytestmark = pytest.mark.standin

OWNED = "reg-owned"  # shipprobe owns it (5); shipbot2 is a moderator there (2)
MODERATED = "reg-moderated"
MOD_META = {"afk", "aliases", "ip", "muted", "smuted"}


@pytest.fixture(scope="module")
def ranked(standin_factory: Callable[..., StandIn]) -> StandIn:
    return standin_factory(
        channel_ranks={OWNED: {"ShipProbe": 5, "shipbot2": 2}, MODERATED: {"shipbot2": 2}},
    )


def ranks_after(probe: Probe, start: int) -> list[object]:
    return [data for name, data in probe.events[start:] if name == "rank"]


def test_owner_logging_in_inside_the_channel_gets_rank_1_then_5_and_the_list_again(
    ranked: StandIn, probes: Callable[..., Probe]
) -> None:
    owner = probes(ranked)
    owner.join(OWNED)
    start = len(owner.events)
    owner.login("shipprobe", password("shipprobe"))
    owner.wait_for("setUserRank")
    assert ranks_after(owner, start) == [1, 5]
    names = [n for n in owner.names()[start:] if n in ("rank", "login", "userlist", "setUserRank")]
    assert names == ["rank", "login", "rank", "userlist", "setUserRank"]
    assert owner.payloads("setUserRank")[-1] == {"name": "shipprobe", "rank": 5}
    # The resent list is the moderator view, the owner included at rank 5.
    me = next(u for u in owner.payloads("userlist")[-1] if u["name"] == "shipprobe")
    assert me["rank"] == 5 and set(me["meta"]) == MOD_META


def test_owner_who_logged_in_first_gets_the_channel_rank_after_the_burst(
    ranked: StandIn, probes: Callable[..., Probe]
) -> None:
    owner = probes(ranked)
    owner.login("shipprobe", password("shipprobe"))
    start = len(owner.events)
    owner.emit("joinChannel", {"name": OWNED})
    owner.wait_for("listPlaylists")
    assert ranks_after(owner, start) == [5]
    assert len(owner.payloads("userlist")) == 2  # rank 1 -> 5 crosses 2: sent again


def test_others_see_the_owner_rank_broadcast_and_rank_1_viewers_get_the_short_meta(
    ranked: StandIn, probes: Callable[..., Probe]
) -> None:
    watcher = probes(ranked)
    watcher.login("plainwatcher")
    watcher.join(OWNED)
    owner = probes(ranked)
    owner.login("shipprobe", password("shipprobe"))
    owner.join(OWNED)
    assert watcher.wait_for("setUserRank") == {"name": "shipprobe", "rank": 5}
    added = watcher.wait_for("addUser", lambda u: u["name"] == "shipprobe")
    assert set(added["meta"]) == {"afk", "muted"}


def test_owner_gets_server_join_notices_and_moderator_user_objects(
    ranked: StandIn, probes: Callable[..., Probe]
) -> None:
    owner = probes(ranked)
    owner.login("shipprobe", password("shipprobe"))
    owner.join(OWNED)
    other = probes(ranked)
    other.login("otherbot")
    other.join(OWNED)
    notice = owner.wait_for("chatMsg", lambda m: m["username"] == "[server]")
    assert notice["msg"] == "otherbot joined (aliases: otherbot)"
    added = owner.wait_for("addUser", lambda u: u["name"] == "otherbot")
    assert set(added["meta"]) == MOD_META
    assert added["meta"]["ip"] != other.ip  # cloaked
    other.barrier()
    assert [m for m in other.payloads("chatMsg") if m["username"] == "[server]"] == []


def test_stored_rank_applies_only_in_its_channel(ranked: StandIn, probes: Callable[..., Probe]) -> None:
    elsewhere = probes(ranked)
    elsewhere.login("shipprobe", password("shipprobe"))
    start = len(elsewhere.events)
    elsewhere.emit("joinChannel", {"name": MODERATED})
    elsewhere.wait_for("listPlaylists")
    assert ranks_after(elsewhere, start) == [1]
    moderator = probes(ranked)
    moderator.join(MODERATED)
    moderator.login("shipbot2", password("shipbot2"))
    assert moderator.wait_for("setUserRank", lambda r: r["name"] == "shipbot2") == {"name": "shipbot2", "rank": 2}


def test_state_reports_the_effective_rank(ranked: StandIn, probes: Callable[..., Probe]) -> None:
    owner = probes(ranked)
    owner.login("shipprobe", password("shipprobe"))
    owner.join(OWNED)
    owner.wait_for("setUserRank")
    users = next(c for c in ranked.state()["channels"] if c["name"] == OWNED)["users"]
    assert {u["rank"] for u in users if u["name"] == "shipprobe"} == {5}


def test_channel_ranks_for_an_unregistered_channel_refuse_to_start(tmp_path) -> None:
    config = tmp_path / "c.json"
    config.write_text('{"registered_channels": ["reg-*"], "channel_ranks": {"plain": {"shipprobe": 2}}}')
    result = subprocess.run(
        [sys.executable, "-m", "sandbox.cytube", "--config", str(config), "--http-port", "0"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "channel_ranks names unregistered channels ['plain']: add them to registered_channels" in result.stderr

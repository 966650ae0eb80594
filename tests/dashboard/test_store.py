"""The store on SQLite and on a real PostgreSQL: idempotent ingest, keyset history, channel state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from outcome_factory import history, make_outcome
from shipit_dashboard.store import DeploymentFilter, FilterError, Store

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def all_pages(store: Store, where: DeploymentFilter, limit: int) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        page = store.deployments(where, cursor, limit)
        ids += [outcome["id"] for outcome in page.outcomes]
        if page.next_cursor is None:
            return ids
        cursor = page.next_cursor


def newest_first(outcomes: list[dict]) -> list[str]:
    return [o["id"] for o in sorted(outcomes, key=lambda o: (o["finished_at"], o["id"]), reverse=True)]


def test_ingest_is_idempotent_first_write_wins(store: Store) -> None:
    first = make_outcome(1, finished=NOW, reason="first")
    replay = {**first, "reason": "changed on replay"}
    assert store.ingest([first]) == [(first["id"], "stored")]
    assert store.ingest([replay, first]) == [(first["id"], "duplicate"), (first["id"], "duplicate")]
    assert store.get(first["id"])["reason"] == "first"
    assert len(all_pages(store, DeploymentFilter(), 50)) == 1


def test_get_returns_the_outcome_as_received(store: Store) -> None:
    outcome = make_outcome(2, finished=NOW, reason='ünïcode ✓ and "quotes"')
    store.ingest([outcome])
    assert store.get(outcome["id"]) == outcome
    assert store.get("no-such-id") is None


def test_keyset_paging_visits_every_row_once_newest_first(store: Store) -> None:
    outcomes = history(57, NOW)
    # two outcomes finishing in the same millisecond must still page deterministically
    outcomes[10]["finished_at"] = outcomes[11]["finished_at"]
    store.ingest(outcomes)
    assert all_pages(store, DeploymentFilter(), 10) == newest_first(outcomes)


@pytest.mark.parametrize(
    ("where", "keep"),
    [
        (DeploymentFilter(channel="shipit-sandbox2"), lambda o: o["channel"] == "shipit-sandbox2"),
        (DeploymentFilter(kind="verify"), lambda o: o["kind"] == "verify"),
        (DeploymentFilter(status="rolled_back"), lambda o: o["status"] == "rolled_back"),
        (DeploymentFilter(environment="prod"), lambda o: o["environment"] == "prod"),
        (
            DeploymentFilter(channel="shipit-sandbox", status="success", kind="deploy"),
            lambda o: (o["channel"], o["status"], o["kind"]) == ("shipit-sandbox", "success", "deploy"),
        ),
    ],
)
def test_filters_narrow_the_history(store: Store, where: DeploymentFilter, keep) -> None:
    outcomes = history(40, NOW)
    for outcome in outcomes[::5]:
        outcome["environment"] = "prod"
    store.ingest(outcomes)
    expected = newest_first([o for o in outcomes if keep(o)])
    assert expected, "the filter must match something for this test to mean anything"
    assert all_pages(store, where, 3) == expected


def test_date_range_is_half_open(store: Store) -> None:
    outcomes = [make_outcome(n, finished=NOW - timedelta(days=n)) for n in range(5)]
    store.ingest(outcomes)
    since = int((NOW - timedelta(days=3)).timestamp() * 1000)
    until = int((NOW - timedelta(days=1)).timestamp() * 1000)
    found = all_pages(store, DeploymentFilter(since_ms=since, until_ms=until), 50)
    assert found == [outcomes[2]["id"], outcomes[3]["id"]]


@pytest.mark.parametrize(
    "hostile",
    [
        "x' OR '1'='1",
        "shipit-sandbox'; DROP TABLE outcomes; --",
        'shipit-sandbox" OR 1=1 --',
        "%",
        "?",
    ],
)
def test_filters_are_parameters_not_sql(store: Store, hostile: str) -> None:
    outcomes = history(6, NOW)
    store.ingest(outcomes)
    assert all_pages(store, DeploymentFilter(channel=hostile, environment=hostile), 50) == []
    assert len(all_pages(store, DeploymentFilter(), 50)) == 6


def test_unknown_kind_status_and_bad_cursor_are_refused_by_name(store: Store) -> None:
    with pytest.raises(FilterError, match="kind"):
        DeploymentFilter(kind="deploy' OR 1=1")
    with pytest.raises(FilterError, match="status"):
        DeploymentFilter(status="fine")
    with pytest.raises(FilterError, match="cursor"):
        store.deployments(DeploymentFilter(), "bm90IGEgY3Vyc29y")


def test_channel_state_tracks_latest_and_live_even_when_outcomes_arrive_late(store: Store) -> None:
    deployed = make_outcome(1, finished=NOW - timedelta(hours=2), version="2.0.0")
    verified = make_outcome(2, finished=NOW - timedelta(hours=1), kind="verify", version="2.0.0")
    failed = make_outcome(3, finished=NOW, status="rolled_back", version="3.0.0")
    older = make_outcome(4, finished=NOW - timedelta(days=3), version="1.0.0")
    store.ingest([failed])
    store.ingest([deployed, verified])
    store.ingest([older])  # a backlog shipped late must not move anything back
    (state,) = store.channel_states()
    assert state.last["id"] == failed["id"]
    assert state.live["id"] == failed["id"]  # rolled back: its rollback target is live
    assert state.last_success["id"] == verified["id"]


def test_check_mode_runs_do_not_touch_channel_state(store: Store) -> None:
    store.ingest([make_outcome(1, finished=NOW, status="check")])
    assert store.channel_states() == []


def test_batch_is_one_transaction(store: Store) -> None:
    good = make_outcome(1, finished=NOW)
    broken = make_outcome(2, finished=NOW)
    del broken["run_id"]  # the store refuses what validation would have caught
    with pytest.raises(KeyError):
        store.ingest([good, broken])
    assert store.get(good["id"]) is None


def test_purge_keeps_what_the_cards_show(store: Store) -> None:
    old_live = make_outcome(1, finished=NOW - timedelta(days=400), version="1.0.0")
    old_other = make_outcome(2, finished=NOW - timedelta(days=300), channel="shipit-sandbox", status="refused")
    recent = make_outcome(3, finished=NOW - timedelta(days=1), channel="shipit-sandbox2")
    store.ingest([old_live, old_other, recent])
    removed = store.purge(int((NOW - timedelta(days=30)).timestamp() * 1000))
    assert removed == 0  # old_live is the live release, old_other the last outcome of its card
    store.ingest([make_outcome(4, finished=NOW, version="2.0.0")])
    assert store.purge(int((NOW - timedelta(days=30)).timestamp() * 1000)) == 2
    assert store.get(recent["id"]) is not None


def test_run_counters_survive_retention_and_skip_check_mode(store: Store) -> None:
    store.ingest([make_outcome(n, finished=NOW - timedelta(days=400 - n), duration_s=7.0) for n in range(3)])
    store.ingest([make_outcome(9, finished=NOW, status="check"), make_outcome(10, finished=NOW, duration_s=50.0)])
    store.purge(int((NOW - timedelta(days=30)).timestamp() * 1000))
    assert [(r["kind"], r["status"], r["n"]) for r in store.counts()] == [("deploy", "success", 4)]
    (histogram,) = store.duration_buckets()
    assert (histogram["n"], histogram["total"], histogram["le_0"], histogram["le_1"], histogram["le_4"]) == (
        4,
        71.0,
        0,
        3,
        4,
    )


@pytest.mark.parametrize("channel", [None, "shipit-sandbox"])
def test_deep_pages_seek_through_an_index(store: Store, channel: str | None) -> None:
    """Keyset paging must be an index range, not a scan that filters every newer row (as `a < x OR ...` was)."""
    store.ingest(history(3, NOW))
    cursor = store.deployments(DeploymentFilter(), None, 1).next_cursor
    sql, params = Store.deployments_query(DeploymentFilter(channel=channel), cursor, 50)
    with store.db.read() as query:
        if store.db.postgres:
            query.run("SET enable_seqscan = off")  # a tiny table would be scanned anyway; ask for the index plan
            plan = " ".join(row["QUERY PLAN"] for row in query.all("EXPLAIN " + sql, params))
            query.run("RESET enable_seqscan")
            assert "Index Cond" in plan and "ROW(finished_ms, id) <" in plan.split("Index Cond")[1], plan
        else:
            plan = " ".join(row["detail"] for row in query.all("EXPLAIN QUERY PLAN " + sql, params))
            assert "(finished_ms,id)<(?,?)" in plan, plan

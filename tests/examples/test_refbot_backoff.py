"""Reconnect timing: exponential, jittered, capped, within CyTube's connection limit."""

from __future__ import annotations

import random

from cytube_refbot.backoff import Backoff, ConnectionBudget, reconnect_delay


def delays(backoff: Backoff, count: int) -> list[float]:
    return [backoff.next_delay() for _ in range(count)]


def test_schedule_doubles_from_one_second_to_the_cap() -> None:
    assert delays(Backoff(rand=lambda: 0.5), 9) == [1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_jitter_stays_within_a_quarter_and_never_exceeds_the_cap() -> None:
    low = delays(Backoff(rand=lambda: 0.0), 8)
    high = delays(Backoff(rand=lambda: 0.999999), 8)
    assert low[:3] == [0.75, 1.5, 3.0]
    assert [round(d, 3) for d in high[:3]] == [1.25, 2.5, 5.0]
    assert max(high) == 60.0 and min(low[6:]) == 45.0


def test_jitter_spreads_bots_apart() -> None:
    rng = random.Random(1)
    first_delays = {Backoff(rand=rng.random).next_delay() for _ in range(20)}
    assert len(first_delays) == 20
    assert all(0.75 <= d <= 1.25 for d in first_delays)


def test_never_a_tight_loop_and_always_bounded() -> None:
    backoff = Backoff()
    for delay in delays(backoff, 200):
        assert 0.75 <= delay <= 60.0


def test_reset_starts_over() -> None:
    backoff = Backoff(rand=lambda: 0.5)
    delays(backoff, 5)
    backoff.reset()
    assert backoff.next_delay() == 1.0


def test_connection_budget_mirrors_cytube_5_then_1_per_10s() -> None:
    budget = ConnectionBudget(now=0.0)
    for _ in range(5):
        assert budget.wait_s(0.0) == 0.0
        budget.spend(0.0)
    assert budget.wait_s(0.0) == 10.0
    assert budget.wait_s(4.0) == 6.0
    assert budget.wait_s(10.0) == 0.0
    budget.spend(10.0)
    assert budget.wait_s(10.0) == 10.0


def test_server_refusal_empties_the_budget() -> None:
    budget = ConnectionBudget(now=0.0)
    budget.exhaust(0.0)
    assert budget.wait_s(0.0) == 10.0


def test_reconnect_delay_is_the_longest_constraint() -> None:
    budget = ConnectionBudget(now=0.0)
    backoff = Backoff(rand=lambda: 0.5)
    assert reconnect_delay(backoff, budget, now=0.0) == 1.0
    assert reconnect_delay(backoff, budget, now=0.0, minimum_s=60.0) == 60.0
    budget.exhaust(0.0)
    assert reconnect_delay(backoff, budget, now=0.0) == 10.0

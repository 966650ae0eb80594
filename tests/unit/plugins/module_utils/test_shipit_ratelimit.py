"""Unit tests for plugins/module_utils/shipit_ratelimit.py (time injected: nothing sleeps)."""

from __future__ import annotations

import json
import multiprocessing
import sys
from pathlib import Path

import pytest
from ansible_collections.cytube.shipit.plugins.module_utils import shipit_ratelimit as rl

REPO = Path(__file__).resolve().parents[4]


class FakeTime:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def budget(tmp_path: Path, fake: FakeTime, key: str = "cytube.test_1337") -> rl.ConnectionBudget:
    return rl.ConnectionBudget(key, str(tmp_path), clock=fake.clock, sleep=fake.sleep)


def test_burst_of_five_then_one_per_ten_seconds(tmp_path: Path) -> None:
    fake = FakeTime()
    bucket = budget(tmp_path, fake)
    waits = [bucket.take(wait_budget=60) for _ in range(7)]
    assert waits[:5] == [0, 0, 0, 0, 0]
    assert waits[5] == pytest.approx(10 + rl.SAFETY_S)
    assert waits[6] == pytest.approx(10 + rl.SAFETY_S)


def test_tokens_come_back_after_idle_time(tmp_path: Path) -> None:
    fake = FakeTime()
    bucket = budget(tmp_path, fake)
    for _ in range(5):
        bucket.take(0)
    fake.now += 25  # two whole tokens (the half is lost, as on CyTube)
    assert bucket.estimate(2) == 0
    assert bucket.estimate(3) == pytest.approx(10 + rl.SAFETY_S)  # the refill clock restarted now


def test_beyond_the_budget_is_refused_with_retry_in_and_reserves_nothing(tmp_path: Path) -> None:
    fake = FakeTime()
    bucket = budget(tmp_path, fake)
    bucket.reserve(5, 0)
    with pytest.raises(rl.RateLimited) as caught:
        bucket.reserve(2, wait_budget=12)
    # the second connection would start 20.5 s from now: 8.5 s over a 12 s budget
    assert caught.value.retry_in_s == pytest.approx(8.5)
    assert str(caught.value).startswith("rate limited, retry in 9 s: 2 connection(s)")
    assert "5 connections, then 1 per 10 s" in str(caught.value)
    assert bucket.estimate(1) == pytest.approx(10.25)  # nothing was reserved by the refusal
    assert fake.slept == []


def test_take_with_zero_budget_on_an_empty_bucket_raises(tmp_path: Path) -> None:
    fake = FakeTime()
    bucket = budget(tmp_path, fake)
    bucket.reserve(5, 0)
    with pytest.raises(rl.RateLimited):
        bucket.take(0)


def test_a_refusal_by_the_server_empties_the_local_bucket(tmp_path: Path) -> None:
    fake = FakeTime()
    bucket = budget(tmp_path, fake)
    bucket.take(0)  # we think 4 are left; another client behind our address used them
    bucket.refused()
    assert bucket.estimate(1) == pytest.approx(10.25)


def test_instances_share_one_file(tmp_path: Path) -> None:
    fake = FakeTime()
    first, second = budget(tmp_path, fake), budget(tmp_path, fake)
    first.reserve(3, 0)
    second.reserve(2, 0)
    assert first.estimate(1) == pytest.approx(10.25)
    other_server = budget(tmp_path, fake, key="other_1337")
    assert other_server.estimate(5) == 0
    stored = json.loads((tmp_path / "cytube.test_1337.json").read_text())
    assert stored["count"] == 0 and stored["capacity"] == 5


def test_queued_reservations_get_distinct_slots(tmp_path: Path) -> None:
    fake = FakeTime()
    bucket = budget(tmp_path, fake)
    starts = [bucket.reserve(1, 100)[0] - fake.now for _ in range(8)]
    assert starts[:5] == [0] * 5
    assert starts[5:] == pytest.approx([10.25, 20.5, 30.75])


def test_damaged_state_or_a_clock_jump_starts_fresh(tmp_path: Path) -> None:
    fake = FakeTime()
    bucket = budget(tmp_path, fake)
    Path(bucket.path).write_text("{not json")
    assert bucket.estimate(5) == 0
    Path(bucket.path).write_text(json.dumps({"count": 0, "last_refill": fake.now + 10 * rl.MAX_QUEUE_S}))
    assert bucket.estimate(5) == 0
    bucket.reserve(5, 0)
    bucket.forget()
    assert bucket.estimate(5) == 0


def test_server_key_is_per_server_and_client_address() -> None:
    assert rl.server_key("https://cytu.be") == "cytu.be_443"
    assert rl.server_key("http://10.231.255.1:1337") == "10.231.255.1_1337"
    assert rl.server_key("http://127.0.0.1:1337", "10.77.0.2") == "127.0.0.1_1337_as_10.77.0.2"
    assert rl.server_key("http://[::1]:1337") == "--1_1337"


def test_default_state_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert rl.default_state_dir() == str(tmp_path / "cytube-shipit" / "ratelimit")


def test_an_unwritable_state_dir_falls_back_to_a_private_temp_dir(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    bucket = rl.ConnectionBudget("k", str(blocker / "sub"))
    assert bucket.state_dir.endswith("ratelimit") and str(tmp_path) not in bucket.state_dir


def test_the_model_never_schedules_a_connection_cytube_would_refuse() -> None:
    """Replay our schedule against the stand-in's copy of CyTube's bucket arithmetic."""
    sys.path.insert(0, str(REPO))
    try:
        from sandbox.cytube.limits import TokenBucket
    finally:
        sys.path.remove(str(REPO))
    server_now = [0.0]
    server = TokenBucket(5, 1 / 10.0, clock=lambda: server_now[0])
    bucket = rl.Bucket(5, 0.0)
    now = 0.0
    for gap in [0, 0, 1, 0, 3, 0, 0, 0.2, 7, 12, 0, 0, 25, 0, 0, 0, 0, 0, 0, 4.9]:
        now += gap
        starts, bucket = rl.plan(bucket, now, rl.Policy(), 1)
        now = starts[0]
        server_now[0] = now
        assert server.throttle() is False, f"refused at {now}"


def _reserve_in_child(path: str, queue: multiprocessing.Queue[float]) -> None:
    bucket = rl.ConnectionBudget("shared_1", path, clock=lambda: 500.0, sleep=lambda s: None)
    queue.put(bucket.reserve(1, 1000)[0])


def test_concurrent_processes_queue_on_the_file_lock(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[float] = ctx.Queue()
    children = [ctx.Process(target=_reserve_in_child, args=(str(tmp_path), queue)) for _ in range(8)]
    for child in children:
        child.start()
    for child in children:
        child.join(20)
    starts = sorted(queue.get(timeout=5) - 500.0 for _ in children)
    assert starts == pytest.approx([0, 0, 0, 0, 0, 10.25, 20.5, 30.75])


def test_forget_all_drops_every_bucket(tmp_path: Path) -> None:
    fake = FakeTime()
    for key in ("a_1", "b_2"):
        budget(tmp_path, fake, key=key).reserve(5, 0)
    assert rl.forget_all(str(tmp_path)) == 2
    assert budget(tmp_path, fake, key="a_1").estimate(5) == 0
    assert not list(tmp_path.glob("*.json"))


# --------------------------------------------------------------------------- booked connections


def test_ten_runs_started_together_never_queue_a_verification_beyond_its_wait(tmp_path: Path) -> None:
    """Each run's pre-flight books its login and its verification at once; a run whose two connections
    do not fit the wait is refused then, before anything changes. Every run admitted gets its
    verification connection in its booked slot after the build, however the others queue."""
    fake = FakeTime()
    started = fake.now
    shared = budget(tmp_path, fake)
    admitted, refused = [], []
    for number in range(1, 11):  # the ten pre-flights, all at the same moment
        run = rl.ClaimedBudget(shared, f"bench-{number}")
        try:
            run.book(2, wait_budget=60)
        except rl.RateLimited:
            refused.append(number)
            continue
        admitted.append(run)
    assert len(admitted) == 5 and refused == [6, 7, 8, 9, 10]
    for run in admitted:
        run.take(wait_budget=60)  # the pre-flights' logins (one clock for all: they wait in order)
    fake.now = max(fake.now, started + 10)  # the builds
    for run in admitted:
        run.take(wait_budget=60)  # the verification: its booked slot, never a RateLimited
        assert fake.now - started <= 60
    assert all(shared.booked(run.claim) == [] for run in admitted)
    with pytest.raises(rl.RateLimited):  # the refused runs booked nothing: the bucket is really spent
        shared.reserve(1, wait_budget=5)


def test_a_booked_slot_serves_its_claim_only(tmp_path: Path) -> None:
    fake = FakeTime()
    shared = budget(tmp_path, fake)
    shared.reserve(4, 0)
    assert shared.book("bench-1", 2, wait_budget=30) == [fake.now, pytest.approx(fake.now + 10 + rl.SAFETY_S)]
    other = shared.take(wait_budget=60, claim="bench-2")  # no booking: queues behind bench-1's slots
    assert other == pytest.approx(20 + 2 * rl.SAFETY_S)
    assert shared.take(wait_budget=60, claim="bench-1") == 0  # its first slot is in the past now
    assert len(budget(tmp_path, fake).booked("bench-1")) == 1  # kept in the shared file


def test_a_booked_slot_beyond_the_wait_is_refused_and_kept(tmp_path: Path) -> None:
    fake = FakeTime()
    shared = budget(tmp_path, fake)
    shared.reserve(5, 0)
    slots = shared.book("bench-1", 1, wait_budget=30)
    with pytest.raises(rl.RateLimited):
        shared.take(wait_budget=5, claim="bench-1")
    assert shared.booked("bench-1") == slots


def test_unused_bookings_expire(tmp_path: Path) -> None:
    fake = FakeTime()
    shared = budget(tmp_path, fake)
    shared.book("bench-1", 2, wait_budget=0)
    fake.now += rl.CLAIM_TTL_S + 1
    assert shared.booked("bench-1") == []
    assert shared.estimate(5) == 0  # the bucket refilled meanwhile


def test_slots_already_booked_under_a_claim_count(tmp_path: Path) -> None:
    """A caller that booked the run's connections ahead (a queue, a benchmark) is not charged twice."""
    fake = FakeTime()
    shared = budget(tmp_path, fake)
    ahead = shared.book("bench-1", 2, wait_budget=0)
    assert shared.book("bench-1", 2, wait_budget=0) == ahead
    assert shared.book("bench-1", 3, wait_budget=0) == [*ahead, fake.now]
    assert shared.estimate(3) == pytest.approx(10 + rl.SAFETY_S)  # 3 of the 5 tokens spent, not 5 + 3

# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""CyTube's per-IP connection rate limit, respected from the controller's side.

CyTube gives each client IP a bucket of 5 connection tokens that refills one token
per 10 s; the refill clock restarts whenever a token is added, so fractions of a
token are lost. A connection attempt made while the bucket is empty is refused
("Rate limit exceeded") and costs nothing.

Every probe of every ``ansible-playbook`` run on one controller comes from the same
address, so the controller keeps its own copy of that bucket per server, in a JSON
file under its cache directory guarded by an ``fcntl`` lock. A probe *reserves* the
next free slot (possibly in the future) under the lock and sleeps outside it, so
concurrent runs queue in order instead of being refused. A refusal that happens
anyway (another client behind the same address) empties the local copy.

A run needs more than one connection, minutes apart: the pre-flight's login, then the
verification after the build. Reserving only when each connection is made lets ten runs
all pass their pre-flight and then queue their verifications behind each other, the last
beyond its wait budget: a healthy bot judged "rate limited". So the pre-flight *books*
every connection of its run at once, under a claim (the channel); a later ``take`` with
that claim uses the booked slot instead of queueing again. A slot booked and never used
is dropped after ``CLAIM_TTL_S`` (it stays counted as spent: the model only errs safe).

Time is injected (``clock``/``sleep``) so the arithmetic is tested without waiting.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import re
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, List, Optional, Tuple
from urllib.parse import urlsplit

#: CyTube's defaults (``io.throttle`` / ``src/io/ioserver.js``)
DEFAULT_CAPACITY = 5
DEFAULT_REFILL_S = 10.0
#: a reservation starts this much after the server would refill: its clock and ours
#: differ by the network latency of the previous connection
SAFETY_S = 0.25
#: a stored refill time further in the future than this is a clock jump, not a queue
MAX_QUEUE_S = 3600.0
#: a booked slot not used this long after its start is dropped (the run died or failed first)
CLAIM_TTL_S = 900.0
STATE_VERSION = 1
#: how long a run waits, by default, for the connections it needs (shipit_verify_overrides: connection_wait)
DEFAULT_CONNECTION_WAIT_S = 60.0

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class RateLimited(Exception):
    """The connections cannot be had within the wait budget; ``retry_in_s`` says when they can."""

    def __init__(self, message: str, retry_in_s: float) -> None:
        super().__init__(message)
        self.retry_in_s = retry_in_s


@dataclass(frozen=True)
class Policy:
    """A server's connection bucket: ``capacity`` tokens, one more every ``refill_s``."""

    capacity: int = DEFAULT_CAPACITY
    refill_s: float = DEFAULT_REFILL_S

    def describe(self) -> str:
        return "CyTube's per-IP limit: %d connections, then 1 per %g s" % (self.capacity, self.refill_s)


@dataclass(frozen=True)
class Bucket:
    """The server's bucket as this controller models it (times are wall-clock seconds)."""

    count: int
    last_refill: float

    def refilled(self, now: float, policy: Policy) -> "Bucket":
        """The bucket as the server sees it at ``now`` (whole tokens; the clock restarts)."""
        added = math.floor((now - self.last_refill) / policy.refill_s)
        if added > 0:
            return Bucket(min(policy.capacity, self.count + added), now)
        return self


@dataclass
class State:
    """What the shared file holds: the bucket, and the booked slots per claim (start times)."""

    bucket: Bucket
    claims: Dict[str, List[float]] = field(default_factory=dict)

    def expire_claims(self, now: float) -> None:
        for claim in list(self.claims):
            self.claims[claim] = sorted(t for t in self.claims[claim] if t >= now - CLAIM_TTL_S)
            if not self.claims[claim]:
                del self.claims[claim]


def claim_key(channel: str) -> str:
    """The claim a run's connections are booked under: its channel (CyTube lowercases names)."""
    return channel.strip().lower()


def plan(bucket: Bucket, now: float, policy: Policy, connections: int) -> Tuple[List[float], Bucket]:
    """Start times of the next ``connections`` connections, and the bucket after them."""
    starts: List[float] = []
    at = now
    for _slot in range(connections):
        bucket = bucket.refilled(at, policy)
        if bucket.count <= 0:
            at = max(at, bucket.last_refill + policy.refill_s + SAFETY_S)
            bucket = bucket.refilled(at, policy)
        bucket = Bucket(bucket.count - 1, bucket.last_refill)
        starts.append(at)
    return starts, bucket


def default_state_dir() -> str:
    """``$XDG_CACHE_HOME/cytube-shipit/ratelimit`` (``~/.cache/...`` without it)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "cytube-shipit", "ratelimit")


def server_key(socketio_url: str, client_ip: Optional[str] = None) -> str:
    """A file-name-safe key for one (server, client address) bucket.

    CyTube counts per client IP: ``client_ip`` is the address the probe poses as
    (``forwarded_for``, local testing), None for the controller's own.
    """
    parts = urlsplit(socketio_url)
    secure = parts.scheme.lower() in ("https", "wss")
    key = "%s_%s" % (parts.hostname or "unknown", parts.port or (443 if secure else 80))
    if client_ip:
        key += "_as_" + client_ip
    return re.sub(r"[^A-Za-z0-9._-]", "-", key)


class ConnectionBudget:
    """The controller-wide connection bucket of one CyTube server, shared through a file."""

    def __init__(
        self,
        key: str,
        state_dir: Optional[str] = None,
        policy: Policy = Policy(),
        clock: Clock = time.time,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.key = key
        self.policy = policy
        self.clock = clock
        self.sleep = sleep
        self.state_dir = _usable_dir(state_dir or default_state_dir())
        self.path = os.path.join(self.state_dir, key + ".json")

    # ---- public operations
    def estimate(self, connections: int = 1) -> float:
        """Seconds until ``connections`` connections could all have started (nothing is reserved)."""
        with self._locked() as (state, now):
            starts = plan(state.bucket, now, self.policy, connections)[0]
            return max(0.0, starts[-1] - now) if starts else 0.0

    def reserve(self, connections: int, wait_budget: float) -> List[float]:
        """Reserve ``connections`` slots if the last one starts within ``wait_budget`` seconds.

        Returns the wall-clock start times; raises :class:`RateLimited` (nothing
        reserved) when they cannot be had in time.
        """
        with self._locked(write=True) as (state, now):
            starts = self._plan_within(state, now, connections, wait_budget)
            self._store(state)
            return starts

    def book(self, claim: str, connections: int, wait_budget: float) -> List[float]:
        """Make sure ``connections`` slots are booked under ``claim`` for later ``take(claim=...)`` calls
        (slots already booked there count); returns the claim's slots.

        Raises :class:`RateLimited` (nothing booked) when the last cannot start within ``wait_budget``.
        """
        with self._locked(write=True) as (state, now):
            slots = state.claims.get(claim, [])
            missing = connections - len(slots)
            if missing > 0:
                slots = sorted(slots + self._plan_within(state, now, missing, wait_budget))
                state.claims[claim] = slots
                self._store(state)
            return list(slots)

    def take(self, wait_budget: float, claim: Optional[str] = None) -> float:
        """Sleep until the next connection may start; returns the seconds waited.

        The earliest slot booked under ``claim`` is used when there is one, else one is reserved.
        """
        start = self._claimed(claim, wait_budget) if claim else None
        if start is None:
            start = self.reserve(1, wait_budget)[0]
        wait = max(0.0, start - self.clock())
        if wait > 0:
            self.sleep(wait)
        return wait

    def booked(self, claim: str) -> List[float]:
        """The start times still booked under ``claim``."""
        with self._locked() as (state, _now):
            return list(state.claims.get(claim, []))

    def refused(self) -> None:
        """CyTube refused a connection for its rate limit: its bucket is empty now."""
        with self._locked(write=True) as (state, now):
            state.bucket = Bucket(min(state.bucket.count, 0), max(state.bucket.last_refill, now))
            self._store(state)

    def forget(self) -> None:
        """Drop the stored state (e.g. after a test server's buckets were refilled)."""
        with self._locked(write=True):
            self._store(None)

    # ---- internals
    def _plan_within(self, state: State, now: float, connections: int, wait_budget: float) -> List[float]:
        """Plan ``connections`` slots into ``state`` (its bucket spent), or raise RateLimited."""
        starts, after = plan(state.bucket, now, self.policy, connections)
        wait = starts[-1] - now if starts else 0.0
        if wait > wait_budget:
            raise RateLimited(self._refusal(connections, wait, wait_budget), retry_in_s=wait - wait_budget)
        state.bucket = after
        return starts

    def _claimed(self, claim: str, wait_budget: float) -> Optional[float]:
        """Use the earliest slot booked under ``claim`` (None when there is none)."""
        with self._locked(write=True) as (state, now):
            slots = state.claims.get(claim)
            if not slots:
                return None
            if slots[0] - now > wait_budget:
                raise RateLimited(
                    self._refusal(1, slots[0] - now, wait_budget), retry_in_s=slots[0] - now - wait_budget
                )
            start = slots.pop(0)
            if not slots:
                del state.claims[claim]
            self._store(state)
            return start

    def _refusal(self, connections: int, wait: float, budget: float) -> str:
        return (
            "rate limited, retry in %d s: %d connection(s) to CyTube (%s) cannot start within %g s, "
            "the next in %.1f s (%s; this controller's recent connections used the burst)"
            % (math.ceil(wait - budget), connections, self.key, budget, wait, self.policy.describe())
        )

    @contextmanager
    def _locked(self, write: bool = False) -> Iterator[Tuple[State, float]]:
        with open(self.path + ".lock", "a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                now = self.clock()
                yield self._load(now), now
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _load(self, now: float) -> State:
        fresh = State(Bucket(self.policy.capacity, now))
        try:
            with open(self.path, "r", encoding="utf-8") as handle:
                data = json.load(handle)
            bucket = Bucket(int(data["count"]), float(data["last_refill"]))
            claims = {str(k): [float(t) for t in v] for k, v in (data.get("claims") or {}).items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return fresh  # first use, or a damaged file: start as the server does
        if bucket.last_refill > now + MAX_QUEUE_S or bucket.count > self.policy.capacity:
            return fresh
        state = State(bucket, claims)
        state.expire_claims(now)
        return state

    def _store(self, state: Optional[State]) -> None:
        if state is None:
            if os.path.exists(self.path):
                os.unlink(self.path)
            return
        bucket = state.bucket
        data = {
            "version": STATE_VERSION,
            "key": self.key,
            "capacity": self.policy.capacity,
            "refill_s": self.policy.refill_s,
            "count": bucket.count,
            "last_refill": bucket.last_refill,
            "claims": state.claims,
        }
        fd, tmp = tempfile.mkstemp(prefix=".%s." % self.key, dir=self.state_dir)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        os.replace(tmp, self.path)


class ClaimedBudget:
    """One run's view of a :class:`ConnectionBudget`: the slots booked under its claim come first.

    It has the limiter interface of the probe (``take(wait_budget)``, ``refused()``).
    """

    def __init__(self, budget: ConnectionBudget, claim: str) -> None:
        self.budget = budget
        self.claim = claim

    def book(self, connections: int, wait_budget: float) -> List[float]:
        return self.budget.book(self.claim, connections, wait_budget)

    def take(self, wait_budget: float) -> float:
        return self.budget.take(wait_budget, claim=self.claim)

    def refused(self) -> None:
        self.budget.refused()


def forget_all(state_dir: Optional[str] = None) -> int:
    """Drop every stored bucket (after a test server's buckets were refilled); returns how many."""
    directory = _usable_dir(state_dir or default_state_dir())
    names = [name for name in os.listdir(directory) if name.endswith(".json")]
    for name in names:
        ConnectionBudget(name[: -len(".json")], directory).forget()
    return len(names)


def _usable_dir(path: str) -> str:
    """``path`` created (0700), or a per-user temporary directory when it cannot be."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        if os.access(path, os.W_OK):
            return path
    except OSError:
        pass
    fallback = os.path.join(tempfile.gettempdir(), "cytube-shipit-%d" % os.getuid(), "ratelimit")
    os.makedirs(fallback, mode=0o700, exist_ok=True)
    return fallback

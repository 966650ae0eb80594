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
from dataclasses import dataclass
from typing import Callable, Iterator, List, Optional, Tuple
from urllib.parse import urlsplit

#: CyTube's defaults (``io.throttle`` / ``src/io/ioserver.js``)
DEFAULT_CAPACITY = 5
DEFAULT_REFILL_S = 10.0
#: a reservation starts this much after the server would refill: its clock and ours
#: differ by the network latency of the previous connection
SAFETY_S = 0.25
#: a stored refill time further in the future than this is a clock jump, not a queue
MAX_QUEUE_S = 3600.0
STATE_VERSION = 1

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
        with self._locked() as (bucket, now):
            starts = plan(bucket, now, self.policy, connections)[0]
            return max(0.0, starts[-1] - now) if starts else 0.0

    def reserve(self, connections: int, wait_budget: float) -> List[float]:
        """Reserve ``connections`` slots if the last one starts within ``wait_budget`` seconds.

        Returns the wall-clock start times; raises :class:`RateLimited` (nothing
        reserved) when they cannot be had in time.
        """
        with self._locked(write=True) as (bucket, now):
            starts, after = plan(bucket, now, self.policy, connections)
            wait = starts[-1] - now if starts else 0.0
            if wait > wait_budget:
                raise RateLimited(self._refusal(connections, wait, wait_budget), retry_in_s=wait - wait_budget)
            self._store(after)
            return starts

    def take(self, wait_budget: float) -> float:
        """Reserve one connection and sleep until its slot; returns the seconds waited."""
        start = self.reserve(1, wait_budget)[0]
        wait = max(0.0, start - self.clock())
        if wait > 0:
            self.sleep(wait)
        return wait

    def refused(self) -> None:
        """CyTube refused a connection for its rate limit: its bucket is empty now."""
        with self._locked(write=True) as (bucket, now):
            self._store(Bucket(min(bucket.count, 0), max(bucket.last_refill, now)))

    def forget(self) -> None:
        """Drop the stored state (e.g. after a test server's buckets were refilled)."""
        with self._locked(write=True):
            self._store(None)

    # ---- internals
    def _refusal(self, connections: int, wait: float, budget: float) -> str:
        return (
            "rate limited, retry in %d s: %d connection(s) to CyTube (%s) cannot start within %g s, "
            "the next in %.1f s (%s; this controller's recent connections used the burst)"
            % (math.ceil(wait - budget), connections, self.key, budget, wait, self.policy.describe())
        )

    @contextmanager
    def _locked(self, write: bool = False) -> Iterator[Tuple[Bucket, float]]:
        with open(self.path + ".lock", "a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                now = self.clock()
                yield self._load(now), now
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _load(self, now: float) -> Bucket:
        fresh = Bucket(self.policy.capacity, now)
        try:
            with open(self.path, "r", encoding="utf-8") as handle:
                data = json.load(handle)
            bucket = Bucket(int(data["count"]), float(data["last_refill"]))
        except (OSError, ValueError, KeyError, TypeError):
            return fresh  # first use, or a damaged file: start as the server does
        if bucket.last_refill > now + MAX_QUEUE_S or bucket.count > self.policy.capacity:
            return fresh
        return bucket

    def _store(self, bucket: Optional[Bucket]) -> None:
        if bucket is None:
            if os.path.exists(self.path):
                os.unlink(self.path)
            return
        data = {
            "version": STATE_VERSION,
            "key": self.key,
            "capacity": self.policy.capacity,
            "refill_s": self.policy.refill_s,
            "count": bucket.count,
            "last_refill": bucket.last_refill,
        }
        fd, tmp = tempfile.mkstemp(prefix=".%s." % self.key, dir=self.state_dir)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        os.replace(tmp, self.path)


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

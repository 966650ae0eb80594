"""Outgoing chat: one sender thread that honours reply delays and flood limits."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

# CyTube's floor for its per-user chat limiter (MIN_ANTIFLOOD): burst 20, then 10/s.
DEFAULT_BURST = 20
DEFAULT_PER_S = 10.0
MAX_PENDING = 100

Emit = Callable[[str], None]
SentCallback = Callable[[float], None]


class TokenBucket:
    def __init__(self, burst: int, per_s: float, now: float) -> None:
        self.burst = burst
        self.per_s = per_s
        self._tokens = float(burst)
        self._updated = now

    def _refill(self, now: float) -> None:
        self._tokens = min(float(self.burst), self._tokens + max(0.0, now - self._updated) * self.per_s)
        self._updated = now

    def next_free(self, now: float) -> float:
        """Earliest monotonic time at which one message may be sent."""
        self._refill(now)
        return now if self._tokens >= 1 else now + (1 - self._tokens) / self.per_s

    def take(self, now: float) -> None:
        self._refill(now)
        self._tokens -= 1


@dataclass(order=True)
class _Pending:
    due: float
    seq: int
    text: str = field(compare=False)
    on_sent: SentCallback | None = field(compare=False)


class Outbox:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._cond = threading.Condition()
        self._queue: list[_Pending] = []
        self._seq = itertools.count()
        self._emit: Emit | None = None
        self._bucket = TokenBucket(DEFAULT_BURST, DEFAULT_PER_S, clock())
        self._paused_until = 0.0
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="outbox", daemon=True)
        self._thread.start()

    def attach(self, emit: Emit) -> None:
        with self._cond:
            self._emit = emit
            self._cond.notify()

    def detach(self) -> None:
        """Forget the connection and the replies meant for it."""
        with self._cond:
            self._emit = None
            self._queue.clear()

    def submit(self, text: str, due: float, on_sent: SentCallback | None = None) -> None:
        with self._cond:
            if len(self._queue) >= MAX_PENDING:
                log.warning("dropping a reply: %d replies already waiting", MAX_PENDING)
                return
            heapq.heappush(self._queue, _Pending(due, next(self._seq), text, on_sent))
            self._cond.notify()

    def set_flood_limit(self, burst: int, per_s: float) -> None:
        with self._cond:
            self._bucket = TokenBucket(max(1, burst), max(0.1, per_s), self._clock())
            self._cond.notify()

    def pause(self, seconds: float) -> None:
        """The server throttled us (`cooldown`): send nothing for that long."""
        with self._cond:
            self._paused_until = max(self._paused_until, self._clock() + seconds)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()

    def _run(self) -> None:
        while (item := self._next_ready()) is not None:
            pending, emit = item
            try:
                emit(pending.text)
            except Exception as exc:  # a connection that just dropped; the reply is lost with it
                log.debug("reply not sent: %s", exc)
                continue
            if pending.on_sent is not None:
                pending.on_sent(self._clock())

    def _next_ready(self) -> tuple[_Pending, Emit] | None:
        with self._cond:
            while not self._closed:
                wait = self._seconds_until_sendable()
                if wait == 0.0 and self._emit is not None:
                    now = self._clock()
                    self._bucket.take(now)
                    return heapq.heappop(self._queue), self._emit
                self._cond.wait(wait)
            return None

    def _seconds_until_sendable(self) -> float | None:
        """0.0 when the head of the queue may go now; None to wait for news."""
        if not self._queue or self._emit is None:
            return None
        now = self._clock()
        ready_at = max(self._queue[0].due, self._paused_until, self._bucket.next_free(now))
        return max(0.0, ready_at - now)

"""Rate limiters with the same arithmetic as CyTube's, so limits bite at the same moments."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable

Clock = Callable[[], float]


class TokenBucket:
    """Connection-rate bucket: whole tokens only, refill clock restarts at each refill.

    Because the refill clock restarts whenever at least one token is added,
    fractions of a token are lost, exactly like CyTube's util/token-bucket.
    """

    def __init__(self, capacity: int, refill_per_s: float, clock: Clock = time.monotonic) -> None:
        self.capacity = capacity
        self.refill_per_s = refill_per_s
        self.count = capacity
        self._clock = clock
        self.last_refill = clock()

    def throttle(self) -> bool:
        """Take a token; return True (refuse, nothing taken) when the bucket is empty."""
        now = self._clock()
        added = math.floor((now - self.last_refill) * self.refill_per_s)
        if added > 0:
            self.count = min(self.capacity, self.count + added)
            self.last_refill = now
        if self.count <= 0:
            return True
        self.count -= 1
        return False


class FloodLimiter:
    """Per-socket chat/PM limiter: a burst, then one message per 1/sustained seconds.

    The burst counter resets once ``cooldown`` seconds (default burst/sustained)
    have passed since the last *accepted* message.
    """

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self.count = 0
        self.last_time = -math.inf
        self._clock = clock

    def throttle(self, burst: int, sustained: float, cooldown: float | None = None) -> bool:
        """Return True when the message must be dropped."""
        if cooldown is None:
            cooldown = burst / sustained
        now = self._clock()
        if self.last_time < now - cooldown:
            self.count = 1
            self.last_time = now
            return False
        if self.count < burst:
            self.count += 1
            self.last_time = now
            return False
        interval = math.inf if sustained <= 0 else 1.0 / sustained
        if now - self.last_time < interval:
            return True
        self.last_time = now
        return False


class GuestLoginTracker:
    """Time of the last successful guest login per IP, across all channels."""

    def __init__(self, delay_s: float, clock: Clock = time.monotonic) -> None:
        self.delay_s = delay_s
        self._last: dict[str, float] = {}
        self._clock = clock

    def blocked(self, ip: str) -> bool:
        last = self._last.get(ip)
        return last is not None and self._clock() - last < self.delay_s

    def record(self, ip: str) -> None:
        self._last[ip] = self._clock()

    def clear(self) -> None:
        self._last.clear()

    def snapshot(self) -> dict[str, float]:
        now = self._clock()
        return {
            ip: round(max(0.0, self.delay_s - (now - t)), 3) for ip, t in self._last.items() if now - t < self.delay_s
        }


class Throttle:
    """Leading- and trailing-edge throttle (CyTube's usercount broadcast).

    The first call runs the action at once (awaited, so it keeps its place in
    an event sequence); calls inside the interval collapse into one run at the
    end of the interval.
    """

    def __init__(self, interval_s: float, action: Callable[[], Awaitable[None]]) -> None:
        self.interval_s = interval_s
        self._action = action
        self._last_fire = -math.inf
        self._pending: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def call(self) -> None:
        if self._pending is not None:
            return
        loop = asyncio.get_running_loop()
        wait = self._last_fire + self.interval_s - loop.time()
        if wait <= 0:
            self._last_fire = loop.time()
            await self._action()
            return
        self._pending = loop.call_later(wait, self._fire_trailing)

    def _fire_trailing(self) -> None:
        self._pending = None
        self._last_fire = asyncio.get_running_loop().time()
        task = asyncio.ensure_future(self._action())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def cancel(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None

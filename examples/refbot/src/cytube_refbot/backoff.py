"""How long to wait before the next connection attempt."""

from __future__ import annotations

import random
from collections.abc import Callable

INITIAL_DELAY_S = 1.0
MAX_DELAY_S = 60.0
JITTER = 0.25  # each delay is drawn from base * [1 - JITTER, 1 + JITTER], then capped

# CyTube's per-IP connection limiter: a bucket of 5 tokens, one back every 10 s.
SERVER_BURST = 5
SERVER_REFILL_S = 10.0


class Backoff:
    """Exponential backoff with jitter: ~1 s, ~2 s, ~4 s ... never above the cap."""

    def __init__(
        self,
        initial_s: float = INITIAL_DELAY_S,
        cap_s: float = MAX_DELAY_S,
        jitter: float = JITTER,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._initial_s = initial_s
        self._cap_s = cap_s
        self._jitter = jitter
        self._rand = rand
        self._attempt = 0

    def next_delay(self) -> float:
        base = min(self._cap_s, self._initial_s * 2**self._attempt)
        self._attempt = min(self._attempt + 1, 32)  # 2**32 s is far past any cap
        spread = 1 - self._jitter + 2 * self._jitter * self._rand()
        return min(self._cap_s, base * spread)

    def reset(self) -> None:
        self._attempt = 0


class ConnectionBudget:
    """Mirror of the server's per-IP connection token bucket.

    Waiting for a token here means the bot never spends a connection that the
    server would refuse, which would only prolong the refusal.
    """

    def __init__(self, burst: int = SERVER_BURST, refill_s: float = SERVER_REFILL_S, now: float = 0.0) -> None:
        self._burst = burst
        self._refill_s = refill_s
        self._tokens = float(burst)
        self._updated = now

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(float(self._burst), self._tokens + elapsed / self._refill_s)
        self._updated = now

    def wait_s(self, now: float) -> float:
        """Seconds until a connection attempt is within the server's limit."""
        self._refill(now)
        return 0.0 if self._tokens >= 1 else (1 - self._tokens) * self._refill_s

    def spend(self, now: float) -> None:
        self._refill(now)
        self._tokens = max(0.0, self._tokens - 1)

    def exhaust(self, now: float) -> None:
        """The server said "Rate limit exceeded": its bucket is empty, whatever ours says."""
        self._refill(now)
        self._tokens = 0.0


def reconnect_delay(backoff: Backoff, budget: ConnectionBudget, now: float, minimum_s: float = 0.0) -> float:
    return max(backoff.next_delay(), budget.wait_s(now), minimum_s)

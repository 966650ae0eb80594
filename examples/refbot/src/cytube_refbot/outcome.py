"""How a connection ended; kept free of socket.io so a signal handler can use it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    """Why a connection ended and what the bot should do next."""

    reason: str
    exit_code: int | None = None  # None: reconnect
    min_delay_s: float = 0.0
    rate_limited: bool = False

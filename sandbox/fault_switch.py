"""The fault switch of the sandbox's HTTP stand-ins (GitHub API, webhook receiver): which fault the next
requests get, how often, and for which paths."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Fault:
    mode: str = "none"
    remaining: int | None = None  # None: until cleared
    delay_s: float = 3.0
    retry_after: float = 1.0
    match: str = ""

    def take(self, path: str) -> str:
        """The fault to apply to this request (and count it), or "none"."""
        if self.mode == "none" or (self.match and self.match not in path):
            return "none"
        if self.remaining is not None:
            if self.remaining <= 0:
                return "none"
            self.remaining -= 1
        return self.mode

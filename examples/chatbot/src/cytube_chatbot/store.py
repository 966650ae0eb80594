"""The bot's SQLite file: every chat message it saw and every user it met."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    time_ms INTEGER NOT NULL,
    username TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY COLLATE NOCASE,
    first_seen_ms INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL
);
"""


class StoreError(RuntimeError):
    pass


@dataclass(frozen=True)
class Counts:
    messages: int
    users: int


class Store:
    """One connection shared by the socket.io handler threads, behind a lock."""

    def __init__(self, path: Path) -> None:
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open database {path}: {exc} (the working directory must be writable)") from None
        self._lock = threading.Lock()

    def record_message(self, time_ms: int, username: str, text: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO messages (time_ms, username, text) VALUES (?, ?, ?)", (time_ms, username, text)
            )

    def saw_user(self, name: str, time_ms: int) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO users (name, first_seen_ms, last_seen_ms) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET last_seen_ms = excluded.last_seen_ms",
                (name, time_ms, time_ms),
            )

    def counts(self) -> Counts:
        with self._lock:
            (messages,) = self._db.execute("SELECT COUNT(*) FROM messages").fetchone()
            (users,) = self._db.execute("SELECT COUNT(*) FROM users").fetchone()
        return Counts(messages=messages, users=users)

    def close(self) -> None:
        with self._lock:
            self._db.close()

"""Database connections for SQLite and PostgreSQL behind one small interface.

SQL is written once with `?` placeholders; the PostgreSQL side turns them into `%s`.
Values always travel as parameters, never as SQL text.
"""

from __future__ import annotations

import queue
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

Row = dict[str, Any]


class DatabaseURLError(ValueError):
    """The --database value is not a URL this service understands."""


@dataclass(frozen=True)
class DatabaseURL:
    kind: str  # "sqlite" or "postgresql"
    target: str  # a file path for SQLite, the DSN for PostgreSQL

    @classmethod
    def parse(cls, url: str) -> DatabaseURL:
        if url.startswith("sqlite:///"):
            path = url[len("sqlite:///") :]
            if not path.startswith("/"):
                raise DatabaseURLError(
                    f"--database {url!r}: use an absolute path, e.g. sqlite:////var/lib/shipit-dashboard/outcomes.db"
                )
            return cls("sqlite", path)
        if url.startswith(("postgresql://", "postgres://")):
            return cls("postgresql", url)
        raise DatabaseURLError(
            f"--database {redact_url(url)!r} is not understood: use sqlite:////abs/path.db or postgresql://user@host/db"
        )

    def display(self) -> str:
        return f"sqlite:///{self.target}" if self.kind == "sqlite" else redact_url(self.target)


def redact_url(url: str) -> str:
    """The URL with any password replaced, also in key=value DSN form, for logs and errors."""
    url = re.sub(r"(password\s*=\s*)('[^']*'|\S+)", r"\1***", url, flags=re.IGNORECASE)
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable database URL>"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = (parts.username or "") + ":***"
    return urlunsplit(parts._replace(netloc=f"{user}@{netloc[1]}"))


class Query:
    """Runs statements on one borrowed connection."""

    def __init__(self, connection: Any, postgres: bool) -> None:
        self._connection = connection
        self._postgres = postgres

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self._postgres else sql

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        cursor = self._connection.execute(self._sql(sql), tuple(params))
        if cursor.description is None:
            return []
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = self.all(sql, params)
        return rows[0] if rows else None

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._connection.execute(self._sql(sql), tuple(params)).rowcount

    def script(self, statements: Sequence[str]) -> None:
        for statement in statements:
            self._connection.execute(self._sql(statement))


class ConnectionPool:
    """A bounded LIFO pool; a connection that failed mid-use is dropped, not reused."""

    def __init__(self, connect: Callable[[], Any], size: int) -> None:
        self._connect = connect
        self._idle: queue.LifoQueue[Any] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)

    @contextmanager
    def connection(self) -> Iterator[Any]:
        self._slots.acquire()
        try:
            try:
                connection = self._idle.get_nowait()
            except queue.Empty:
                connection = self._connect()
            try:
                yield connection
            except BaseException:
                _close_quietly(connection)
                raise
            self._idle.put(connection)
        finally:
            self._slots.release()

    def close(self) -> None:
        while True:
            try:
                _close_quietly(self._idle.get_nowait())
            except queue.Empty:
                return


def _close_quietly(connection: Any) -> None:
    try:
        connection.close()
    except Exception:  # closing a broken connection may fail; nothing to do about it
        pass


class Database:
    """Read and write transactions on SQLite (WAL) or PostgreSQL (psycopg 3)."""

    def __init__(self, url: DatabaseURL, pool_size: int = 8) -> None:
        self.url = url
        self.postgres = url.kind == "postgresql"
        connect = self._connect_postgres if self.postgres else self._connect_sqlite
        self._pool = ConnectionPool(connect, pool_size)

    def _connect_sqlite(self) -> sqlite3.Connection:
        Path(self.url.target).parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.url.target, isolation_level=None, check_same_thread=False, timeout=30)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA busy_timeout=30000")
        connection.execute("PRAGMA cache_size=-16000")  # 16 MB per connection: history pages stay in memory
        return connection

    def _connect_postgres(self) -> Any:
        import psycopg  # imported here: SQLite users do not need psycopg

        try:
            return psycopg.connect(self.url.target, autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as exc:
            raise ConnectionError(f"cannot connect to {self.url.display()}: {redact_url(str(exc)).strip()}") from None

    @contextmanager
    def read(self) -> Iterator[Query]:
        with self._pool.connection() as connection:
            yield Query(connection, self.postgres)

    @contextmanager
    def write(self) -> Iterator[Query]:
        """One transaction; SQLite takes its write lock at the start so writers queue, not fail."""
        with self._pool.connection() as connection:
            if self.postgres:
                with connection.transaction():
                    yield Query(connection, True)
                return
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield Query(connection, False)
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    def close(self) -> None:
        self._pool.close()

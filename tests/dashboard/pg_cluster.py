"""A throwaway PostgreSQL server (Debian's initdb + pg_ctl) for the dashboard tests and benchmark."""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"


class PostgresUnavailableError(RuntimeError):
    """The server binaries are missing or the server did not start."""


def find_bindir() -> Path:
    candidates = sorted(
        (Path(path) for path in glob.glob(PG_BIN_GLOB) if Path(path, "initdb").exists()),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
    )
    if not candidates:
        raise PostgresUnavailableError(
            f"PostgreSQL server binaries (initdb, pg_ctl) not found under {PG_BIN_GLOB}: "
            "install the Debian package postgresql (scripts/setup.sh installs it)"
        )
    return candidates[-1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class PostgresCluster:
    bindir: Path
    root: Path
    port: int
    user: str
    password: str

    @classmethod
    def start(cls) -> PostgresCluster:
        bindir = find_bindir()
        root = Path(tempfile.mkdtemp(prefix="shipit-dashboard-pg-"))
        cluster = cls(bindir, root, free_port(), "shipit", secrets.token_hex(12))
        try:
            cluster._initdb()
            cluster._pg_ctl("start", "-w", "-t", "60", "-l", str(root / "server.log"), "-o", cluster._server_options())
        except (subprocess.CalledProcessError, OSError) as exc:
            log = (root / "server.log").read_text(errors="replace") if (root / "server.log").exists() else ""
            cluster.remove()
            raise PostgresUnavailableError(f"PostgreSQL did not start: {exc}\n{log[-2000:]}") from exc
        return cluster

    def _as_server_user(self) -> list[str]:
        """initdb and postgres refuse to run as root; use the Debian postgres account then."""
        return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _initdb(self) -> None:
        password_file = self.root / "pwfile"
        password_file.write_text(self.password + "\n")
        password_file.chmod(0o600)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
            shutil.chown(password_file, "postgres")
        subprocess.run(
            [
                *self._as_server_user(),
                str(self.bindir / "initdb"),
                "-D",
                str(self.root / "data"),
                "-U",
                self.user,
                f"--pwfile={password_file}",
                "--auth=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        password_file.unlink()

    def _server_options(self) -> str:
        return (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )

    def _pg_ctl(self, *args: str) -> None:
        subprocess.run(
            [*self._as_server_user(), str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), *args],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.dsn(), autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.dsn(name)

    def stop(self) -> None:
        try:
            self._pg_ctl("stop", "-m", "immediate", "-w")
        finally:
            self.remove()

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

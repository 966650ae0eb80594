"""Start the GitHub stand-in and the webhook receiver as subprocesses on ephemeral ports (for tests)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 20.0
ADMIN_TIMEOUT_S = 5.0


class StandInFailed(RuntimeError):
    pass


@dataclass
class Running:
    """A stand-in subprocess: its ports, admin calls and log."""

    process: subprocess.Popen[bytes]
    ports: dict[str, int]
    log_path: Path
    port_key: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports[self.port_key]}"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['admin_port']}"

    def state(self) -> dict[str, Any]:
        response = requests.get(self.admin_url + "/admin/state", timeout=ADMIN_TIMEOUT_S)
        response.raise_for_status()
        return response.json()

    def admin(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = requests.post(self.admin_url + path, json=body, timeout=ADMIN_TIMEOUT_S)
        response.raise_for_status()
        return response.json()

    def fault(self, mode: str, **options: Any) -> None:
        self.admin("/admin/fault", {"mode": mode, **options})

    def reset(self) -> None:
        self.admin("/admin/reset", {})

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def _start(module: str, workdir: Path, extra: list[str], port_key: str) -> Running:
    ready = workdir / f"{module}.ready"
    log_path = workdir / f"{module}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", module, "--port", "0", "--admin-port", "0", "--ready-file", str(ready), *extra],
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise StandInFailed(f"{module} did not start: {log_path.read_text(errors='replace')[-2000:]}")
        time.sleep(0.05)
    return Running(process, json.loads(ready.read_text()), log_path, port_key)


def start_github(workdir: Path, tokens: list[str]) -> Running:
    token_file = workdir / "github-tokens"
    token_file.write_text("".join(f"{token}\n" for token in tokens))
    token_file.chmod(0o600)
    return _start("sandbox.github", workdir, ["--token-file", str(token_file)], "api_port")


def start_webhooks(workdir: Path, secrets: dict[str, str]) -> Running:
    secret_file = workdir / "webhook-secrets"
    secret_file.write_text("".join(f"{name}={secret}\n" for name, secret in secrets.items()))
    secret_file.chmod(0o600)
    return _start("sandbox.webhooks", workdir, ["--secret-file", str(secret_file)], "port")

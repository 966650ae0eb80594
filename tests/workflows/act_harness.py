"""Run the repository's GitHub workflows with act, in host mode, against the sandbox and the stand-ins.

A scenario works on a scratch repository: a copy of this checkout's files (what git would commit) with its
own history, whose ``origin`` is named like a GitHub repository (act takes ``github.repository`` from its
URL) while git pushes to a local bare repository (its ``pushurl``). act runs each job in a copy
of that repository, on this machine (``-P ubuntu-24.04=-self-hosted``); the pinned ``actions/checkout`` runs a
local stand-in (standins/checkout), so does ``actions/setup-python`` (only the full ci suite uses it), and
every other action is the repository's own. Secrets go in a 0600
file, never on a command line.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV = REPO_ROOT / ".venv"
ACT = VENV / "bin" / "act"
GITHUB_API = "http://127.0.0.1:8092"
GITHUB_ADMIN = "http://127.0.0.1:8093"
CHECKOUT = "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683"
SETUP_PYTHON = "actions/setup-python@a26af69be951a213d495a4c3e4e4022e16d87065"
STANDINS = Path(__file__).resolve().parent / "standins"
CHECKOUT_STANDIN = STANDINS / "checkout"
SETUP_PYTHON_STANDIN = STANDINS / "setup-python"
REPOSITORY = "shipit-ci/refbot-pipeline"
ACT_TIMEOUT_S = 900
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Scenario Author",
    "GIT_AUTHOR_EMAIL": "author@scenario.invalid",
    "GIT_COMMITTER_NAME": "Scenario Author",
    "GIT_COMMITTER_EMAIL": "author@scenario.invalid",
}


@dataclasses.dataclass
class ActRun:
    returncode: int
    log: str
    seconds: float

    def job_lines(self, job: str) -> list[str]:
        return [line for line in self.log.splitlines() if line.startswith(f"[{job}]") or f"/{job}]" in line]

    def ran(self, job_fragment: str) -> bool:
        """A job whose name contains ``job_fragment`` started (act prints its 'Set up job' step)."""
        return any(job_fragment in line and "Set up job" in line for line in self.log.splitlines())


def git(repo: Path, *args: str, check: bool = True) -> str:
    env = {**os.environ, **GIT_IDENTITY}
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, env=env, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def tracked_files() -> list[str]:
    listing = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "ls-files", "-co", "--exclude-standard", "-z"],
        capture_output=True,
        check=True,
    ).stdout
    return [name for name in listing.decode().split("\0") if name and (REPO_ROOT / name).exists()]


@dataclasses.dataclass
class ScratchRepo:
    """A repository a scenario pushes to, pull-requests against and releases from."""

    path: Path
    bare: Path

    @classmethod
    def create(cls, base: Path) -> ScratchRepo:
        path, bare = base / "repo", base / "origin.git"
        path.mkdir(parents=True)
        archive = subprocess.run(
            ["tar", "--null", "-T", "-", "-cf", "-"],
            input=b"\0".join(name.encode() for name in tracked_files()),
            cwd=REPO_ROOT,
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "-xf", "-"], input=archive, cwd=path, check=True)
        git(path, "init", "-q", "-b", "main")
        git(path, "remote", "add", "origin", f"https://github.com/{REPOSITORY}.git")
        git(path, "config", "remote.origin.pushurl", str(bare))
        git(path, "add", "-A")
        git(path, "commit", "-q", "-m", "chore: the pipeline under test")
        # The last release before the scenarios: what the galaxy.yml version says.
        version = git(path, "show", "HEAD:galaxy.yml").split("version:")[1].split()[0]
        git(path, "tag", "-a", f"v{version}", "-m", f"v{version}")
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True, capture_output=True)
        git(path, "push", "-q", "origin", "main", "--tags")
        return cls(path, bare)

    def commit(self, message: str, files: dict[str, str] | None = None) -> str:
        for name, text in (files or {}).items():
            (self.path / name).write_text(text, encoding="utf-8")
        git(self.path, "add", "-A")
        git(self.path, "commit", "-q", "--allow-empty", "-m", message)
        return git(self.path, "rev-parse", "HEAD")

    def head(self) -> str:
        return git(self.path, "rev-parse", "HEAD")

    def sync_from_origin(self) -> None:
        """Take what a workflow pushed (the release's bump commit and tag)."""
        git(self.path, "pull", "-q", "--ff-only", str(self.bare), "main")
        git(self.path, "fetch", "-q", "--tags", str(self.bare))


def pull_request_event(number: int, head_sha: str, action: str, head_repository: str = REPOSITORY) -> dict[str, Any]:
    repo = {"full_name": REPOSITORY, "name": REPOSITORY.split("/")[1], "owner": {"login": REPOSITORY.split("/")[0]}}
    head_repo = {"full_name": head_repository, "fork": head_repository != REPOSITORY}
    return {
        "action": action,
        "number": number,
        "pull_request": {
            "number": number,
            "head": {"sha": head_sha, "ref": f"feature-{number}", "repo": head_repo},
            "base": {"ref": "main", "sha": head_sha, "repo": repo},
        },
        "repository": repo,
    }


def push_event(ref: str, head_sha: str, message: str) -> dict[str, Any]:
    repo = {"full_name": REPOSITORY, "name": REPOSITORY.split("/")[1], "owner": {"login": REPOSITORY.split("/")[0]}}
    return {"ref": ref, "after": head_sha, "head_commit": {"id": head_sha, "message": message}, "repository": repo}


def dispatch_event(inputs: dict[str, Any]) -> dict[str, Any]:
    repo = {"full_name": REPOSITORY, "name": REPOSITORY.split("/")[1], "owner": {"login": REPOSITORY.split("/")[0]}}
    # The payload carries every input as a string, as a dispatch from the Actions tab or the API does.
    as_sent = {name: str(value).lower() if isinstance(value, bool) else str(value) for name, value in inputs.items()}
    return {"inputs": as_sent, "ref": "refs/heads/main", "repository": repo}


@dataclasses.dataclass
class Act:
    """act, configured once per test session: secrets, variables, the API stand-in, and the runner's
    virtualenv (made by scripts/ci/setup-controller.sh, shared by every job as on a self-hosted runner;
    never the project's .venv, whose pins the jobs' requirements would change)."""

    workdir: Path
    secrets: dict[str, str]
    variables: dict[str, str]
    venv: Path = VENV

    def _write(self, name: str, values: dict[str, str]) -> Path:
        path = self.workdir / name
        path.write_text("".join(f"{key}={json.dumps(value)}\n" for key, value in values.items()), encoding="utf-8")
        path.chmod(0o600)
        return path

    def run(self, repo: ScratchRepo, event: str, workflow: str, payload: dict[str, Any]) -> ActRun:
        event_file = self.workdir / f"event-{time.monotonic_ns()}.json"
        event_file.write_text(json.dumps(payload), encoding="utf-8")
        argv = [
            str(ACT), event,
            "-W", f".github/workflows/{workflow}",
            "-e", str(event_file),
            "-P", "ubuntu-24.04=-self-hosted",
            "--secret-file", str(self._write("act.secrets", self.secrets)),
            "--var-file", str(self._write("act.vars", self.variables)),
            "--env", f"GITHUB_API_URL={GITHUB_API}",
            "--env", f"SHIPIT_VENV={self.venv}",
            "--env", f"ACT_SCENARIO_REPO={repo.path}",
            # act numbers every run 1; outcomes and GitHub deployments are told apart by run id.
            "--env", f"GITHUB_RUN_ID={time.time_ns() // 1000}",
            "--local-repository", f"{CHECKOUT}={CHECKOUT_STANDIN}",
            "--local-repository", f"{SETUP_PYTHON}={SETUP_PYTHON_STANDIN}",
            "--no-cache-server",
            "--action-offline-mode",
        ]  # fmt: skip
        env = {key: value for key, value in os.environ.items() if not key.startswith(("ANSIBLE_", "SHIPIT_"))}
        started = time.monotonic()
        done = subprocess.run(
            argv, cwd=repo.path, capture_output=True, text=True, env=env, timeout=ACT_TIMEOUT_S, check=False
        )
        log = done.stdout + done.stderr
        # Kept beside the secrets file for whoever debugs a failed scenario (the workflows mask the secrets).
        (self.workdir / f"{event_file.stem}-{workflow}.log").write_text(log, encoding="utf-8")
        return ActRun(done.returncode, log, time.monotonic() - started)

"""Fixtures for the release tooling: throwaway copies of this repository with a bare `origin`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
RELEASE = REPO_ROOT / "scripts" / "ci" / "release.py"
AUTHOR = ("-c", "user.name=Test Author", "-c", "user.email=author@example.invalid")


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(["git", *AUTHOR, *args], cwd=cwd, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"git {args} failed: {result.stderr}"
    return result.stdout.strip()


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without git identity or GitHub Actions variables, plus `extra`."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "GITHUB_"))}
    return {**kept, **extra}


@dataclass
class Checkout:
    """A working copy (`work`) of the repository whose `origin` is the bare repository `origin`."""

    work: Path
    origin: Path

    def release(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(RELEASE), *args],
            cwd=self.work,
            env=clean_env(**env),
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )

    def commit(self, message: str, filename: str = "notes.txt") -> None:
        path = self.work / filename
        with path.open("a", encoding="utf-8") as notes:
            notes.write(message + "\n")
        git(self.work, "add", filename)
        git(self.work, "commit", "-q", "-m", message)

    def git(self, *args: str) -> str:
        return git(self.work, *args)

    def origin_git(self, *args: str) -> str:
        return git(self.origin, *args)


def _import_head(target: Path) -> None:
    """This repository's committed tree (git archive HEAD), with the working tree's commitizen config."""
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=REPO_ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    shutil.copy2(REPO_ROOT / ".cz.toml", target / ".cz.toml")


def _template(root: Path) -> Checkout:
    origin, work = root / "origin.git", root / "work"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    _import_head(work)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "import the collection")
    # Relative, so a copy of the pair next to each other still points at its own origin.
    git(work, "remote", "add", "origin", "../origin.git")
    checkout = Checkout(work, origin)
    result = checkout.release("baseline")
    assert result.returncode == 0, result.stderr
    git(work, "push", "-q", "--follow-tags", "origin", "main")
    return checkout


@pytest.fixture(scope="session")
def checkout_template(tmp_path_factory: pytest.TempPathFactory) -> Checkout:
    """Built once: this repository imported in one commit, then `release.py baseline` (tag v0.1.0), pushed."""
    return _template(tmp_path_factory.mktemp("template"))


def copy_checkout(template: Checkout, destination: Path) -> Checkout:
    shutil.copytree(template.work.parent, destination, symlinks=True)
    return Checkout(destination / "work", destination / "origin.git")


@pytest.fixture
def new_checkout(tmp_path: Path, checkout_template: Checkout) -> Callable[..., Checkout]:
    def copy(baseline: bool = True, name: str = "repo") -> Checkout:
        checkout = copy_checkout(checkout_template, tmp_path / name)
        if not baseline:
            # Back to the state before `release.py baseline` (locally; origin keeps it).
            checkout.git("tag", "-d", "v0.1.0")
            checkout.git("reset", "-q", "--hard", "HEAD~1")
        return checkout

    return copy


@pytest.fixture
def checkout(new_checkout: Callable[..., Checkout]) -> Checkout:
    return new_checkout()

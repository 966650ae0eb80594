"""Throwaway copies of this repository with a bare `origin`, for the release tooling tests.

A module of its own (not conftest) so the test module can import it in a full pytest run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
RELEASE = REPO_ROOT / "scripts" / "ci" / "release.py"
# The version in the tree the tests start from (this repository's, today 0.1.0).
BASE = tomllib.loads((REPO_ROOT / ".cz.toml").read_text())["tool"]["commitizen"]["version"]
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


def build_template(root: Path) -> Checkout:
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
    if re.search(r"^#+ .*unreleased", (work / "CHANGELOG.md").read_text(), re.MULTILINE | re.IGNORECASE):
        result = checkout.release("baseline")
        assert result.returncode == 0, result.stderr
    else:
        # This repository is past its baseline: the imported commit is the release of its version.
        git(work, "tag", "-a", f"v{BASE}", "-m", f"v{BASE}")
    git(work, "push", "-q", "--follow-tags", "origin", "main")
    return checkout


def undo_baseline(checkout: Checkout) -> None:
    """Back to before `release.py baseline`: no tag for the version, its changelog heading 'unreleased'."""
    checkout.git("tag", "-d", f"v{BASE}")
    changelog = checkout.work / "CHANGELOG.md"
    heading = re.compile(rf"^(#+) v{re.escape(BASE)} \(.*\)$", re.MULTILINE)
    text, count = heading.subn(rf"\1 {BASE} (unreleased)", changelog.read_text())
    assert count == 1, f"no heading for v{BASE} in the imported CHANGELOG.md"
    changelog.write_text(text)
    checkout.git("commit", "-q", "-am", "chore: the changelog as it was before the baseline")


def next_version(version: str, part: str) -> str:
    major, minor, patch = (int(n) for n in version.split("."))
    bumped = {"major": (major + 1, 0, 0), "minor": (major, minor + 1, 0), "patch": (major, minor, patch + 1)}[part]
    return ".".join(str(n) for n in bumped)


def copy_checkout(template: Checkout, destination: Path) -> Checkout:
    shutil.copytree(template.work.parent, destination, symlinks=True)
    return Checkout(destination / "work", destination / "origin.git")

"""Git and version bookkeeping for scripts/ci/release.py: versions in their files, tags, changelog, push."""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

DEFAULT_GIT_NAME = "cytube-shipit-release"
DEFAULT_GIT_EMAIL = "release@cytube-shipit.invalid"
VERSION = re.compile(r"^\d+\.\d+\.\d+$")
TAG = re.compile(r"^v(\d+\.\d+\.\d+)$")
GALAXY_VERSION = re.compile(r"^version:\s*(\S+)\s*$", re.MULTILINE)
PYPROJECT_VERSION = re.compile(r'^version = "([^"]*)"$', re.MULTILINE)
HEADING = re.compile(r"^(#+) (.*)$")
# What `git push` says when the remote ref is no longer what this job started from.
REMOTE_MOVED = ("non-fast-forward", "fetch first", "stale info", "[rejected]")

CZ_CONFIG = ".cz.toml"
GALAXY = "galaxy.yml"
PYPROJECT = "examples/refbot/pyproject.toml"
CHANGELOG = "CHANGELOG.md"


class ReleaseError(Exception):
    """A failure an operator can act on; str() says what to fix."""


@dataclass(frozen=True)
class Repo:
    root: Path

    def git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["git", *args], cwd=self.root, env=git_env(), capture_output=True, text=True, stdin=subprocess.DEVNULL
        )
        if check and result.returncode != 0:
            raise ReleaseError(f"git {' '.join(args)} failed: {result.stderr.strip() or result.stdout.strip()}")
        return result

    def out(self, *args: str) -> str:
        return self.git(*args).stdout.strip()


def find_repo(start: Path) -> Repo:
    result = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"], cwd=start, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    if result.returncode != 0:
        raise ReleaseError(f"{start} is not inside a git checkout: run release.py from the repository")
    return Repo(Path(result.stdout.strip()))


def git_env() -> dict[str, str]:
    """The environment for git and commitizen: the identity from GIT_* if set, else the release bot's."""
    env = dict(os.environ)
    name = env.get("GIT_AUTHOR_NAME") or env.get("GIT_COMMITTER_NAME") or DEFAULT_GIT_NAME
    email = env.get("GIT_AUTHOR_EMAIL") or env.get("GIT_COMMITTER_EMAIL") or DEFAULT_GIT_EMAIL
    env.setdefault("GIT_AUTHOR_NAME", name)
    env.setdefault("GIT_AUTHOR_EMAIL", email)
    env.setdefault("GIT_COMMITTER_NAME", name)
    env.setdefault("GIT_COMMITTER_EMAIL", email)
    env["GIT_TERMINAL_PROMPT"] = "0"
    return env


def _match_one(pattern: re.Pattern[str], path: Path) -> str:
    found = pattern.findall(path.read_text(encoding="utf-8"))
    if len(found) != 1:
        raise ReleaseError(f"{path}: expected one version line matching {pattern.pattern!r}, found {len(found)}")
    return found[0]


def versions_in_files(repo: Repo) -> dict[str, str]:
    with (repo.root / CZ_CONFIG).open("rb") as config:
        cz_version = tomllib.load(config)["tool"]["commitizen"]["version"]
    return {
        CZ_CONFIG: cz_version,
        GALAXY: _match_one(GALAXY_VERSION, repo.root / GALAXY),
        PYPROJECT: _match_one(PYPROJECT_VERSION, repo.root / PYPROJECT),
    }


def current_version(repo: Repo) -> str:
    """The one version the three files agree on; an error naming each file when they do not."""
    found = versions_in_files(repo)
    if len(set(found.values())) != 1:
        listed = ", ".join(f"{name}: {version}" for name, version in found.items())
        raise ReleaseError(f"the version files disagree ({listed}): set them to the last released version")
    version = next(iter(found.values()))
    if not VERSION.match(version):
        raise ReleaseError(f"version {version!r} in {CZ_CONFIG} is not X.Y.Z")
    return version


def tag_exists(repo: Repo, tag: str) -> bool:
    return repo.git("rev-parse", "-q", "--verify", f"refs/tags/{tag}", check=False).returncode == 0


def require_clean_tree(repo: Repo, *paths: str) -> None:
    """commitizen commits with `git commit -a`: a local change would ride along in the release commit."""
    changed = repo.out("status", "--porcelain", "--untracked-files=no", "--", *paths)
    if changed:
        raise ReleaseError(f"the working tree has uncommitted changes, release from a clean checkout:\n{changed}")


def version_tag_at_head(repo: Repo) -> str:
    tags = [t for t in repo.out("tag", "--points-at", "HEAD").split() if TAG.match(t)]
    if len(tags) != 1:
        raise ReleaseError(
            f"HEAD carries {len(tags)} version tags ({', '.join(tags) or 'none'}); "
            "run `release.py bump` first (it commits and tags), and push only when it said released=true"
        )
    return tags[0]


def changelog_lines(repo: Repo) -> list[str]:
    return (repo.root / CHANGELOG).read_text(encoding="utf-8").splitlines()


def unreleased_heading(lines: list[str]) -> str | None:
    """A heading commitizen would overwrite: it treats any heading with "unreleased" as its own scratch section."""
    for line in lines:
        if HEADING.match(line) and "unreleased" in line.lower():
            return line
    return None


def release_notes(lines: list[str], tag: str) -> str:
    """The body of the changelog section whose heading names `tag` (or its version), up to the next such heading."""
    version = TAG.match(tag)
    wanted = {tag, version.group(1) if version else tag}
    start = level = None
    for index, line in enumerate(lines):
        heading = HEADING.match(line)
        if heading is None:
            continue
        if start is not None and len(heading.group(1)) <= (level or 0):
            return "\n".join(lines[start:index]).strip() + "\n"
        first_word = heading.group(2).split(" ", 1)[0]
        if start is None and first_word in wanted:
            start, level = index + 1, len(heading.group(1))
    if start is None:
        raise ReleaseError(f"{CHANGELOG} has no section headed {tag}: was it written by `release.py bump`?")
    return "\n".join(lines[start:]).strip() + "\n"


def current_branch(repo: Repo) -> str:
    if os.environ.get("GITHUB_REF_TYPE") == "tag":
        raise ReleaseError("this run was started by a tag; run the release job on a branch push (main)")
    branch = os.environ.get("GITHUB_REF_NAME") or ""
    if branch:
        return branch
    result = repo.git("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    if result.returncode != 0:
        raise ReleaseError("HEAD is detached and GITHUB_REF_NAME is not set: say which branch to push to")
    return result.stdout.strip()


def push_release(repo: Repo, branch: str, tag: str) -> None:
    result = repo.git(
        "push", "--atomic", "--porcelain", "origin", f"HEAD:refs/heads/{branch}", f"refs/tags/{tag}", check=False
    )
    if result.returncode == 0:
        return
    said = (result.stdout + result.stderr).strip()
    if any(marker in said for marker in REMOTE_MOVED):
        raise ReleaseError(
            f"origin refused the push of {branch} and {tag} (nothing was pushed, the push is atomic): "
            f"someone pushed to {branch} while the release ran, or {tag} already exists there. "
            f"Re-run the release workflow on the new {branch}.\n{said}"
        )
    if "protected branch" in said or "[remote rejected]" in said:
        raise ReleaseError(
            f"origin refused {branch} or {tag} (nothing was pushed, the push is atomic): branch or tag protection "
            f"must let the release job push its bump commit and tag (see docs/deployment.md, Releases).\n{said}"
        )
    raise ReleaseError(f"git push to origin failed: {said}")

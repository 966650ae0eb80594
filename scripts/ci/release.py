#!/usr/bin/env python3
"""The `release` workflow job's steps, run in a checkout of main with full history and tags.

  release.py bump                              decide the version from conventional commits (commitizen),
                                               bump galaxy.yml + refbot pyproject, changelog, commit, tag
  release.py assets --out DIR                  refbot wheel, collection tarball, SHA256SUMS
  release.py push                              push the bump commit and its tag to origin, atomically
  release.py publish --tag vX.Y.Z --assets DIR the GitHub release with the changelog section as notes,
                                               and every asset it does not have yet
  release.py baseline                          once, before the first release: mark the version in the
                                               tree as released (changelog heading dated, tag vX.Y.Z)

Order in the job: bump, assets, push, publish (the release is created on the pushed tag).
Outputs (`released`, `version`, `tag`, `previous`, `previous_tag`) are printed as key=value and
appended to $GITHUB_OUTPUT when it is set.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from github_output import write_outputs
from release_assets import asset_files, build_assets
from release_git import (
    CHANGELOG,
    TAG,
    ReleaseError,
    Repo,
    changelog_lines,
    current_branch,
    current_version,
    find_repo,
    git_env,
    push_release,
    release_notes,
    require_clean_tree,
    tag_exists,
    unreleased_heading,
    version_tag_at_head,
)
from release_github import DEFAULT_API_URL, GitHub, publish

# commitizen's exit codes for "nothing to release" (NO_COMMITS_FOUND, NO_INCREMENT).
CZ_NOTHING_TO_RELEASE = (3, 21)


def print_and_write_outputs(values: dict[str, str]) -> None:
    print("\n".join(f"{key}={value}" for key, value in values.items()))
    write_outputs(values)


def check_ready_to_bump(repo: Repo, version: str) -> None:
    if not tag_exists(repo, f"v{version}"):
        raise ReleaseError(
            f"there is no tag v{version} for the version in the tree ({version}): commitizen counts commits "
            "from the last release's tag. Before the first release run `release.py baseline` once and push "
            "it (`release.py push`); later, fetch tags (actions/checkout with fetch-depth: 0)"
        )
    heading = unreleased_heading(changelog_lines(repo))
    if heading is not None:
        raise ReleaseError(
            f"{CHANGELOG} has the heading {heading!r}: commitizen replaces a section called 'unreleased' "
            "with the new release's notes; date it (`release.py baseline` does that for the first release)"
        )


def run_commitizen(repo: Repo) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "commitizen", "--no-raise", "3,21", "bump", "--yes"],
        cwd=repo.root,
        env=git_env(),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )


def command_bump(repo: Repo) -> int:
    require_clean_tree(repo)
    previous = current_version(repo)
    check_ready_to_bump(repo, previous)
    head_before = repo.out("rev-parse", "HEAD")
    result = run_commitizen(repo)
    print(result.stdout.strip(), file=sys.stderr)
    if result.returncode != 0:
        raise ReleaseError(f"commitizen bump failed (exit {result.returncode}):\n{result.stderr.strip()}")
    if repo.out("rev-parse", "HEAD") == head_before:
        print(f"nothing to release: no feat/fix/perf/refactor or breaking commit since v{previous}")
        print_and_write_outputs({"released": "false", "previous": previous, "previous_tag": f"v{previous}"})
        return 0
    version = current_version(repo)
    tag = version_tag_at_head(repo)
    if tag != f"v{version}":
        raise ReleaseError(f"commitizen tagged {tag}, but the files say {version}")
    values = {"released": "true", "version": version, "tag": tag, "previous": previous, "previous_tag": f"v{previous}"}
    print_and_write_outputs(values)
    return 0


def command_assets(repo: Repo, out: Path) -> int:
    version = current_version(repo)
    for path in build_assets(repo, out.resolve(), version):
        print(path)
    return 0


def command_publish(repo: Repo, tag: str, assets: Path) -> int:
    if not TAG.match(tag):
        raise ReleaseError(f"--tag {tag!r} is not vX.Y.Z")
    token = os.environ.get("GITHUB_TOKEN", "")
    if not token:
        raise ReleaseError("GITHUB_TOKEN is not set: pass the job's token (permissions: contents: write)")
    repository = os.environ.get("GITHUB_REPOSITORY", "")
    if not repository:
        raise ReleaseError("GITHUB_REPOSITORY is not set: 'owner/name' of the repository to release")
    if not tag_exists(repo, tag):
        raise ReleaseError(f"tag {tag} is not in this checkout: publish runs after bump and push")
    files = asset_files(assets)
    notes = release_notes(changelog_lines(repo), tag)
    commit = repo.out("rev-parse", f"{tag}^{{commit}}")
    github = GitHub(os.environ.get("GITHUB_API_URL") or DEFAULT_API_URL, repository, token)
    done = publish(github, tag, notes, commit, files)
    print(f"release {tag}: {'created' if done.created else 'already there'} {done.release.get('html_url', '')}")
    for name in done.uploaded:
        print(f"uploaded {name}")
    for name in done.kept:
        print(f"kept {name} (already uploaded, same size)")
    return 0


def command_push(repo: Repo) -> int:
    tag = version_tag_at_head(repo)
    branch = current_branch(repo)
    push_release(repo, branch, tag)
    print(f"pushed {branch} and {tag} to origin")
    return 0


def command_baseline(repo: Repo) -> int:
    """Date the changelog's 'unreleased' heading of the tree's version, commit it and tag vX.Y.Z.

    Only CHANGELOG.md goes into the commit, so other uncommitted work may stay in the tree.
    """
    require_clean_tree(repo, CHANGELOG)
    version = current_version(repo)
    tag = f"v{version}"
    if tag_exists(repo, tag):
        raise ReleaseError(f"{tag} already exists: the baseline is done, use `release.py bump`")
    path = repo.root / CHANGELOG
    lines = changelog_lines(repo)
    heading = unreleased_heading(lines)
    if heading is None or version not in heading:
        raise ReleaseError(f"{CHANGELOG} has no heading for {version} marked unreleased: write one, then re-run")
    level = heading.split(" ", 1)[0]
    lines[lines.index(heading)] = f"{level} {tag} ({datetime.now(UTC).date().isoformat()})"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    repo.git("commit", "-m", f"chore(release): {tag}, the baseline later releases count from", "--", CHANGELOG)
    repo.git("tag", "-a", tag, "-m", tag)
    print(f"tagged {tag}; push it with `release.py push`")
    return 0


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="release.py", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("bump", help="version, changelog, commit and tag from conventional commits")
    assets = commands.add_parser("assets", help="build the wheel, the collection tarball and SHA256SUMS")
    assets.add_argument("--out", type=Path, required=True, help="directory for the assets")
    published = commands.add_parser("publish", help="create the GitHub release and upload the assets")
    published.add_argument("--tag", required=True, help="the release tag, vX.Y.Z")
    published.add_argument("--assets", type=Path, required=True, help="directory built by `assets`")
    commands.add_parser("push", help="push the release commit and its tag to origin (atomic)")
    commands.add_parser("baseline", help="once: mark the tree's version as released (tag it)")
    return parser.parse_args(argv)


def dispatch(args: argparse.Namespace, repo: Repo) -> int:
    if args.command == "bump":
        return command_bump(repo)
    if args.command == "assets":
        return command_assets(repo, args.out)
    if args.command == "publish":
        return command_publish(repo, args.tag, args.assets)
    if args.command == "push":
        return command_push(repo)
    return command_baseline(repo)


def redact(text: str) -> str:
    token = os.environ.get("GITHUB_TOKEN", "")
    return text.replace(token, "***") if token else text


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        return dispatch(args, find_repo(Path.cwd()))
    except ReleaseError as error:
        print(f"release.py {args.command}: {redact(str(error))}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

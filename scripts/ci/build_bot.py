"""Build the bot under test into a wheel, from the commit the job checked out.

    python scripts/ci/build_bot.py --project examples/refbot --out dist [--sha SHA] [--release]

The version is the project's own (pyproject.toml ``version``); a build that is not a release gets the
commit as a PEP 440 local version (``1.4.0+g1a2b3c4d5e6f``), so every pushed commit is a release of its
own and a re-run of the same commit is the same, byte-identical wheel (a no-op deploy). Prints the wheel's
path and writes ``wheel=<path>``, ``version=<version>`` and ``sha=<commit>`` to ``$GITHUB_OUTPUT`` when set.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "examples"))

from build_wheel import build_wheel, parse_version  # noqa: E402
from github_output import write_outputs  # noqa: E402

VERSION_RE = re.compile(r'^version = "([^"]+)"$', re.MULTILINE)
SHA_RE = re.compile(r"^[0-9a-f]{7,40}$")


class BuildError(Exception):
    """The bot cannot be built as asked; the message names the fix."""


def project_version(project: Path) -> str:
    pyproject = project / "pyproject.toml"
    if not pyproject.is_file():
        raise BuildError(f"{project} has no pyproject.toml: give --project the bot's project directory")
    found = VERSION_RE.findall(pyproject.read_text(encoding="utf-8"))
    if len(found) != 1:
        raise BuildError(f"{pyproject} needs exactly one static 'version = \"X.Y.Z\"' line, found {len(found)}")
    return found[0]


def build_version(base: str, sha: str | None, release: bool) -> str:
    version = parse_version(base)
    if release:
        return version
    if not sha or not SHA_RE.match(sha.lower()):
        raise BuildError(
            f"commit {sha!r} is not a git SHA: run it in a git checkout or pass --sha (or --release for a tag)"
        )
    return parse_version(f"{version}+g{sha.lower()[:12]}")


def checkout_commit(project: Path) -> str:
    """The commit the job checked out (on a pull_request event, $GITHUB_SHA is the merge commit instead)."""
    done = subprocess.run(["git", "-C", str(project), "rev-parse", "HEAD"], capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else os.environ.get("GITHUB_SHA", "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", required=True, help="the bot's project directory (with pyproject.toml)")
    parser.add_argument("--out", required=True, help="where the wheel goes")
    parser.add_argument("--sha", default="", help="the commit built (default: the checkout's HEAD, else $GITHUB_SHA)")
    parser.add_argument("--release", action="store_true", help="a release build: the version as it is")
    args = parser.parse_args(argv)
    project = Path(args.project).resolve()
    sha = args.sha or checkout_commit(project)
    try:
        version = build_version(project_version(project), sha, args.release)
        wheel = build_wheel(version, Path(args.out), str(project))
    except (BuildError, ValueError) as exc:
        print(f"build_bot: {exc}", file=sys.stderr)
        return 2
    print(wheel)
    write_outputs({"wheel": str(wheel), "version": version, "sha": sha})
    return 0


if __name__ == "__main__":
    sys.exit(main())

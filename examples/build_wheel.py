"""Build an example bot's wheel with any version: build_wheel.py VERSION OUTDIR [PROJECT].

PROJECT is a directory under examples/ (default ``refbot``; ``chatbot`` is the other one), or the path
of any project directory with a pyproject.toml that has one ``version = "..."`` line
(scripts/ci/build_bot.py builds a bot repository's checkout this way).

The source is copied to a temporary directory and the version set there, so the
checked-in tree is never modified. Prints the wheel's path on stdout, and nothing
else. Builds are reproducible: the same source and version give a byte-identical
wheel (SOURCE_DATE_EPOCH fixes the zip timestamps unless already set).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent
PROJECTS = ("refbot", "chatbot")
VERSION_LINE = re.compile(r'^version = "[^"]*"$', re.MULTILINE)
# 1980-01-01, the earliest time a zip file can hold.
DEFAULT_SOURCE_DATE_EPOCH = "315532800"


def parse_version(text: str) -> str:
    """The PEP 440 normalized form of `text`; ValueError when it is not one."""
    from packaging.version import InvalidVersion, Version

    try:
        return str(Version(text))
    except InvalidVersion:
        raise ValueError(f"not a PEP 440 version: {text!r}") from None


def project_dir(project: str) -> Path:
    """An example's name (``refbot``) or a project directory's path."""
    return EXAMPLES / project if project in PROJECTS else Path(project).resolve()


def copy_source(destination: Path, project: str = "refbot") -> None:
    shutil.copytree(
        project_dir(project),
        destination,
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "dist", "*.pyc"),
    )
    # File modes end up in the zip; a checkout's umask must not change the wheel's checksum.
    for path in destination.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


def set_version(pyproject: Path, version: str) -> None:
    text = pyproject.read_text(encoding="utf-8")
    updated, count = VERSION_LINE.subn(f'version = "{version}"', text)
    if count != 1:
        raise RuntimeError(f"{pyproject}: expected exactly one 'version = \"...\"' line, found {count}")
    pyproject.write_text(updated, encoding="utf-8")


def build_wheel(version: str, outdir: Path, name: str = "refbot") -> Path:
    outdir = outdir.resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("SOURCE_DATE_EPOCH", DEFAULT_SOURCE_DATE_EPOCH)
    with tempfile.TemporaryDirectory(prefix="bot-build-") as tmp:
        project = Path(tmp) / project_dir(name).name
        copy_source(project, name)
        set_version(project / "pyproject.toml", version)
        if importlib.util.find_spec("setuptools") is None:
            return _build_isolated(project, outdir)
        return outdir / _build_in_process(project, outdir)


def _build_in_process(project: Path, outdir: Path) -> str:
    """The setuptools backend called directly: about half the time of `python -m build`."""
    from setuptools import build_meta

    previous = Path.cwd()
    os.chdir(project)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            return build_meta.build_wheel(str(outdir))
    finally:
        os.chdir(previous)


def _build_isolated(project: Path, outdir: Path) -> Path:
    """Without setuptools here, let pip build in an isolated environment (fetches setuptools)."""
    with tempfile.TemporaryDirectory(prefix="refbot-wheel-") as staging:
        command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", staging, str(project)]
        subprocess.run(command, check=True, stdout=sys.stderr)
        (built,) = Path(staging).glob("*.whl")
        return Path(shutil.copy2(built, outdir / built.name))


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print("usage: build_wheel.py VERSION OUTDIR [PROJECT]", file=sys.stderr)
        return 2
    name = argv[2] if len(argv) == 3 else "refbot"
    if name not in PROJECTS and not (Path(name) / "pyproject.toml").is_file():
        print(
            f"build_wheel: unknown project {name!r}; known: {', '.join(PROJECTS)}"
            " (or the path of a directory with a pyproject.toml)",
            file=sys.stderr,
        )
        return 2
    try:
        version = parse_version(argv[0])
    except ValueError as exc:
        print(f"build_wheel: {exc}", file=sys.stderr)
        return 2
    print(build_wheel(version, Path(argv[1]), name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

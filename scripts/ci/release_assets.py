"""The release assets: the refbot wheel, the collection tarball and SHA256SUMS over them."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from release_git import ReleaseError, Repo

SUMS = "SHA256SUMS"
CONTENT_TYPES = {".whl": "application/zip", ".gz": "application/gzip"}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def content_type(path: Path) -> str:
    if path.name == SUMS:
        return "text/plain"
    return CONTENT_TYPES.get(path.suffix, "application/octet-stream")


def _run(command: list[str], cwd: Path, what: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise ReleaseError(f"{what} failed (exit {result.returncode}):\n{(result.stderr or result.stdout)[-3000:]}")
    return result.stdout


def ansible_galaxy() -> str:
    """The venv's ansible-galaxy (next to this interpreter), else the one on PATH."""
    beside = Path(sys.executable).parent / "ansible-galaxy"
    if beside.is_file():
        return str(beside)
    found = shutil.which("ansible-galaxy")
    if found is None:
        raise ReleaseError("ansible-galaxy not found: install requirements/controller.txt into this venv")
    return found


def build_collection(repo: Repo, staging: Path, version: str) -> Path:
    _run([ansible_galaxy(), "collection", "build", "--output-path", str(staging)], repo.root, "ansible-galaxy build")
    expected = staging / f"cytube-shipit-{version}.tar.gz"
    if not expected.is_file():
        raise ReleaseError(f"ansible-galaxy built {sorted(p.name for p in staging.iterdir())}, not {expected.name}")
    return expected


def build_wheel(repo: Repo, staging: Path, version: str) -> Path:
    env = {**os.environ, "PYTHON": sys.executable}
    script = repo.root / "examples" / "build-wheel.sh"
    printed = _run([str(script), version, str(staging)], repo.root, "examples/build-wheel.sh", env).strip()
    wheel = Path(printed.splitlines()[-1]) if printed else Path()
    if not wheel.is_file():
        raise ReleaseError(f"examples/build-wheel.sh printed {printed!r}, not the path of a wheel")
    return wheel


def write_sums(directory: Path, files: list[Path]) -> Path:
    sums = directory / SUMS
    sums.write_text("".join(f"{sha256_of(path)}  {path.name}\n" for path in sorted(files)), encoding="utf-8")
    return sums


def build_assets(repo: Repo, out: Path, version: str) -> list[Path]:
    """Build in a staging directory outside the tree (the collection build must not pick up the wheel)."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="release-assets-") as tmp:
        staging = Path(tmp)
        built = [build_collection(repo, staging, version), build_wheel(repo, staging, version)]
        placed = [Path(shutil.copy2(path, out / path.name)) for path in built]
    return [*placed, write_sums(out, placed)]


def read_sums(directory: Path) -> dict[str, str]:
    """name -> sha256 from SHA256SUMS; every file it names must exist and match."""
    sums = directory / SUMS
    if not sums.is_file():
        raise ReleaseError(f"{sums} is missing: build the assets with `release.py assets --out {directory}`")
    expected: dict[str, str] = {}
    for line in sums.read_text(encoding="utf-8").splitlines():
        digest, _, name = line.partition("  ")
        if not name or len(digest) != 64:
            raise ReleaseError(f"{sums}: line {line!r} is not '<sha256>  <name>'")
        expected[name] = digest
    for name, digest in expected.items():
        path = directory / name
        if not path.is_file() or sha256_of(path) != digest:
            raise ReleaseError(f"{path} is missing or does not match {SUMS}: rebuild the assets")
    return expected


def asset_files(directory: Path) -> list[Path]:
    """The files to upload: those SHA256SUMS names, then SHA256SUMS itself (last, so it marks a complete set)."""
    names = read_sums(directory)
    return [*(directory / name for name in sorted(names)), directory / SUMS]

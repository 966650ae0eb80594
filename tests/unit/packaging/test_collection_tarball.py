"""The built collection tarball honours galaxy.yml's build_ignore, whatever is lying in the tree.

The collection is built once (``ansible-galaxy collection build``) from a copy of the tracked files with the
litter of a working checkout planted in it: a venv, test output, build outputs, egg-info, sandbox secrets and
host lists, a vault file, installed collections and Ansible's local state.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
ANSIBLE_GALAXY = Path(sys.executable).with_name("ansible-galaxy")

pytestmark = pytest.mark.timeout(300)

#: What a working checkout accumulates and the tarball must never ship.
LITTER = (
    ".venv/bin/python",
    ".collections/ansible_collections/community/general/MANIFEST.json",
    ".ansible/tmp/ansible-local-1/x",
    "tests/output/junit/python3.11-units.xml",
    "build/wheels/cytube_refbot-1.0.0-py3-none-any.whl",
    "dist/cytube-shipit-0.1.0.tar.gz",
    "dashboard/build/lib/shipit_dashboard/app.py",
    "dashboard/cytube_shipit_dashboard.egg-info/PKG-INFO",
    "examples/refbot/src/cytube_refbot.egg-info/PKG-INFO",
    "inventories/sandbox/hosts.yml",
    "inventories/sandbox/group_vars/all/secrets.yml",
    "inventories/prod/group_vars/all/vault.yml",
    "plugins/modules/__pycache__/cytube_check.cpython-311.pyc",
)


def tracked_files() -> list[str]:
    done = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True)
    return [name for name in done.stdout.decode().split("\0") if name and (REPO / name).is_file()]


@pytest.fixture(scope="module")
def tarball_names(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    tree = tmp_path_factory.mktemp("checkout")
    for name in tracked_files():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, tree / name)
    for name in LITTER:
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text("litter: password=not-for-the-tarball\n")
    out = tmp_path_factory.mktemp("galaxy")
    done = subprocess.run(
        [str(ANSIBLE_GALAXY), "collection", "build", "--output-path", str(out), str(tree)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (built,) = out.glob("cytube-shipit-*.tar.gz")
    with tarfile.open(built) as archive:
        return archive.getnames()


def litter_root(litter: str, tracked: set[str]) -> str:
    """The first directory (or the file) of ``litter`` that the checkout itself does not have."""
    parts = Path(litter).parts
    for depth in range(1, len(parts) + 1):
        prefix = "/".join(parts[:depth])
        if prefix not in tracked:
            return prefix
    return litter


@pytest.mark.parametrize("litter", LITTER)
def test_the_tarball_ships_no_litter(tarball_names: list[str], litter: str) -> None:
    tracked = set()
    for name in tracked_files():
        parts = Path(name).parts
        tracked.update("/".join(parts[:depth]) for depth in range(1, len(parts) + 1))
    root = litter_root(litter, tracked)
    assert root not in tarball_names, f"{root} is in the collection tarball: add it to build_ignore in galaxy.yml"


def test_the_tarball_ships_the_collection(tarball_names: list[str]) -> None:
    for name in ("MANIFEST.json", "plugins/modules/cytube_check.py", "roles/bot_verify/tasks/main.yml", "README.md"):
        assert name in tarball_names


def test_galaxy_links_point_at_the_project() -> None:
    galaxy = yaml.safe_load((REPO / "galaxy.yml").read_text())
    for key in ("repository", "documentation", "homepage", "issues"):
        assert str(galaxy.get(key, "")).startswith("https://github.com/cytube/shipit"), key
    assert "example.invalid" not in (REPO / "galaxy.yml").read_text()

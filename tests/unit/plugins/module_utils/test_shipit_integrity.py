"""Unit tests for shipit_integrity: a release's virtualenv checked against pip's RECORD files."""

from __future__ import annotations

import base64
import hashlib
import shutil
import sys
from pathlib import Path

import pytest
from ansible_collections.cytube.shipit.plugins.module_utils import shipit_integrity as integrity

pytestmark = pytest.mark.timeout(30)

PYTHON = f"python{sys.version_info[0]}.{sys.version_info[1]}"


def site_packages(release: Path) -> Path:
    path = release / "venv" / "lib" / PYTHON / "site-packages"
    path.mkdir(parents=True, exist_ok=True)
    return path


def record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def install_fake(release: Path, files: dict[str, bytes]) -> None:
    """A distribution as pip leaves it: the files, and a RECORD naming each with its hash."""
    site = site_packages(release)
    rows = []
    for name, data in files.items():
        target = (site / name).resolve()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        rows.append(f"{name},{record_hash(data)},{len(data)}")
    rows += ["mybot-1.0.dist-info/RECORD,,", "mybot/__pycache__/bot.cpython-311.pyc,,"]
    (site / "mybot-1.0.dist-info").mkdir(exist_ok=True)
    (site / "mybot-1.0.dist-info" / "RECORD").write_text("\n".join(rows) + "\n")


def test_an_intact_release_has_no_drift(tmp_path: Path) -> None:
    install_fake(tmp_path, {"mybot/bot.py": b"print('hi')\n", "../../../bin/mybot": b"#!/bin/sh\n"})
    assert integrity.drifted_files(str(tmp_path)) == []


def test_edited_and_removed_files_are_named(tmp_path: Path) -> None:
    install_fake(
        tmp_path, {"mybot/bot.py": b"print('hi')\n", "mybot/util.py": b"X = 1\n", "../../../bin/mybot": b"#!/bin/sh\n"}
    )
    site = site_packages(tmp_path)
    (site / "mybot" / "bot.py").write_bytes(b"raise SystemExit(1)\n")
    (site / "mybot" / "util.py").unlink()
    (tmp_path / "venv" / "bin" / "mybot").write_bytes(b"#!/bin/sh\nexit 1\n")
    assert integrity.drifted_files(str(tmp_path)) == [
        "venv/bin/mybot: modified",
        f"venv/lib/{PYTHON}/site-packages/mybot/bot.py: modified",
        f"venv/lib/{PYTHON}/site-packages/mybot/util.py: missing",
    ]


def test_a_real_pip_record_verifies_and_catches_an_edit(tmp_path: Path) -> None:
    """RECORD as pip wrote it (the controller venv's iniconfig, copied): intact, then one byte changed."""
    import iniconfig

    source_site = Path(iniconfig.__file__).parent.parent
    dist_info = next(source_site.glob("iniconfig-*.dist-info"))
    site = site_packages(tmp_path)
    shutil.copytree(dist_info, site / dist_info.name)
    shutil.copytree(source_site / "iniconfig", site / "iniconfig")
    assert integrity.drifted_files(str(tmp_path)) == []
    edited = site / "iniconfig" / "_parse.py"
    edited.write_bytes(edited.read_bytes().replace(b"def ", b"def  ", 1))
    assert integrity.drifted_files(str(tmp_path)) == [f"venv/lib/{PYTHON}/site-packages/iniconfig/_parse.py: modified"]


def test_a_release_without_a_venv_has_nothing_to_check(tmp_path: Path) -> None:
    assert integrity.drifted_files(str(tmp_path)) == []


def test_describe_drift_names_files_and_counts_the_rest() -> None:
    files = [f"f{i}: modified" for i in range(7)]
    text = integrity.describe_drift("1.0.0-abc", files, limit=2)
    assert text == "release 1.0.0-abc differs from what was built and verified (f0: modified; f1: modified and 5 more)"

"""Unit tests for the bot_release module: probe, check mode, no-op, failed builds.

The modules run for real (AnsibleModule, exit_json/fail_json) on a temporary root; systemctl and
journalctl are replaced by a fake systemd (run_command is patched). The same modules run on
sandbox hosts in tests/integration/test_deploy*.py and test_rollback.py.
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.cytube.shipit.plugins.modules import bot_release
from module_harness import make_release, run

pytestmark = pytest.mark.timeout(60)


# --------------------------------------------------------------------------- bot_release


def archive(tmp_path: Path, names: dict[str, bytes]) -> Path:
    path = tmp_path / "wheelhouse.tar"
    with tarfile.open(path, "w") as tar:
        for name, data in names.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def release_args(tmp_path: Path, **over: Any) -> dict[str, Any]:
    args = {
        "channel": "chan",
        "root": str(tmp_path / "root"),
        "config": "[server]\n",
        "release_id": "1.0.0-abc",
        "requirement": "mybot==1.0.0",
        "manifest": {"version": "1.0.0"},
    }
    args.update(over)
    return args


def test_bot_release_probe_and_check_mode(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    failed, out = run(bot_release, capsys, release_args(tmp_path))
    assert not failed and out["needs_archive"] and not out["changed"]
    failed, out = run(bot_release, capsys, release_args(tmp_path), check_mode=True, diff=True)
    assert not failed and out["changed"] and "1.0.0-abc" in out["diff"]["after"]
    assert not (tmp_path / "root").exists()


def test_bot_release_existing_release_is_a_noop(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    make_release(tmp_path / "root", "chan", "1.0.0-abc", 1)
    failed, out = run(bot_release, capsys, release_args(tmp_path, archive="/nonexistent"))
    assert not failed and out["exists"] and not out["changed"]


def test_bot_release_failed_build_leaves_nothing(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = archive(tmp_path, {"../evil": b"x", "pip-1-py3-none-any.whl": b"x"})
    failed, out = run(bot_release, capsys, release_args(tmp_path, archive=str(bad)))
    assert failed and "the live release is untouched" in out["msg"] and "unexpected entry" in out["msg"]
    assert os.listdir(tmp_path / "root" / "chan" / "releases") == []
    nopip = archive(tmp_path, {"mybot-1.0.0-py3-none-any.whl": b"x"})
    failed, out = run(bot_release, capsys, release_args(tmp_path, archive=str(nopip)))
    assert failed and "has no pip wheel" in out["msg"]
    assert os.listdir(tmp_path / "root" / "chan" / "releases") == []


def test_bot_release_refuses_bad_names(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    failed, out = run(bot_release, capsys, release_args(tmp_path, release_id="../x"))
    assert failed and "release id '../x' is not valid" in out["msg"]
    failed, out = run(bot_release, capsys, release_args(tmp_path, channel="bad name!"))
    assert failed and "'bad name!' is not a valid CyTube channel name" in out["msg"]


def tamper_release(tmp_path: Path) -> Path:
    """Release 1.0.0-abc with a one-file virtualenv whose file was edited after pip recorded its hash."""
    make_release(tmp_path / "root", "chan", "1.0.0-abc", 1)
    site = tmp_path / "root" / "chan" / "releases" / "1.0.0-abc" / "venv" / "lib" / "python3.11" / "site-packages"
    (site / "mybot-1.0.dist-info").mkdir(parents=True)
    (site / "mybot.py").write_text("print('tampered')\n")
    # sha256 of "print('hi')\n", as pip writes it into RECORD
    (site / "mybot-1.0.dist-info" / "RECORD").write_text(
        "mybot.py,sha256=yvAm8l1xQCCfmAcmBTB6Q4kUuc5vPBSyPRXZZnJB3lI,12\n"
    )
    return site


def test_a_drifted_release_is_built_again_not_reused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A re-deploy of a release edited on the host is not "already built, unchanged": the probe asks for the
    archive naming the drifted file; a rebuild that fails puts the old directory back."""
    tamper_release(tmp_path)
    failed, out = run(bot_release, capsys, release_args(tmp_path))
    assert not failed and not out["exists"] and out["needs_archive"]
    assert out["drifted"] == ["venv/lib/python3.11/site-packages/mybot.py: modified"]
    failed, out = run(bot_release, capsys, release_args(tmp_path), check_mode=True)
    assert not failed and out["changed"] and out["drifted"]
    nopip = archive(tmp_path, {"mybot-1.0.0-py3-none-any.whl": b"x"})
    failed, out = run(bot_release, capsys, release_args(tmp_path, archive=str(nopip)))
    assert failed and "has no pip wheel" in out["msg"]
    assert os.listdir(tmp_path / "root" / "chan" / "releases") == ["1.0.0-abc"]
    assert (tmp_path / "root" / "chan" / "releases" / "1.0.0-abc" / "RELEASE.json").is_file()

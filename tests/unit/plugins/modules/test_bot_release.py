"""Unit tests for the bot_release module: probe, check mode, no-op, failed builds.

The modules run for real (AnsibleModule, exit_json/fail_json) on a temporary root; systemctl and
journalctl are replaced by a fake systemd (run_command is patched). The same modules run on
sandbox hosts in tests/integration/test_deploy*.py and test_rollback.py.
"""

from __future__ import annotations

import io
import json
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


# --------------------------------------------------------------------------- the installer (pip, uv, auto)


def fake_uv(tmp_path: Path) -> Path:
    uv = tmp_path / "uv"
    uv.write_text("#!/bin/sh\nexit 0\n")
    uv.chmod(0o755)
    return uv


def build_with(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, **over: Any
) -> tuple[bool, dict[str, Any], list[list[str]]]:
    """A build whose commands are recorded instead of run (the real builds run on sandbox hosts)."""
    commands: list[list[str]] = []
    monkeypatch.setattr(bot_release.Builder, "run", lambda self, argv, what, cwd=None: commands.append(argv))
    wheelhouse = archive(tmp_path, {"pip-1-py3-none-any.whl": b"x", "mybot-1.0.0-py3-none-any.whl": b"x"})
    args = release_args(tmp_path, archive=str(wheelhouse), command=["/bin/true"], compile=False, **over)
    failed, out = run(bot_release, capsys, args)
    return failed, out, commands


@pytest.mark.parametrize(
    "installer,uv_there,expected",
    [("pip", True, "pip"), ("auto", True, "uv"), ("auto", False, "pip"), ("uv", True, "uv")],
)
def test_the_installer_is_pip_unless_uv_is_asked_for_and_there(
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    installer: str,
    uv_there: bool,
    expected: str,
) -> None:
    uv = fake_uv(tmp_path) if uv_there else tmp_path / "no-uv"
    failed, out, commands = build_with(tmp_path, capsys, monkeypatch, installer=installer, uv_path=str(uv))
    assert not failed, out
    assert out["installer"] == expected
    install = commands[1]
    release = tmp_path / "root" / "chan" / "releases" / "1.0.0-abc"
    if expected == "uv":
        assert install[:3] == [str(uv), "pip", "install"]
        # offline, from the shipped wheelhouse only, into the release's own virtualenv, no config or cache read
        for flag in ("--no-index", "--no-config", "--no-cache"):
            assert flag in install
        assert install[install.index("--python") + 1] == str(release / "venv" / "bin" / "python")
        assert install[install.index("--find-links") + 1] == str(release / ".wheelhouse")
    else:
        assert install[0] == str(release / "venv" / "bin" / "python") and install[2] == "install"
        assert install[1].endswith("pip-1-py3-none-any.whl/pip") and "--no-index" in install
    assert install[-1] == "mybot==1.0.0"
    assert json.loads((release / "RELEASE.json").read_text())["installer"] == expected


def test_installer_uv_without_uv_on_the_host_fails_naming_the_path_and_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "bin" / "uv"
    failed, out, commands = build_with(tmp_path, capsys, monkeypatch, installer="uv", uv_path=str(missing))
    assert failed and f"installer uv: {missing} is not an executable file on the host" in out["msg"]
    assert "the live release is untouched" in out["msg"] and "use installer pip" in out["msg"]
    assert len(commands) == 1  # only the virtualenv was made
    assert not (tmp_path / "root" / "chan" / "releases" / "1.0.0-abc").exists()

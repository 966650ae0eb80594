"""Shared helpers for the module unit tests: run a module for real, lay out releases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ansible.module_utils.testing import patch_module_args


def run(
    module: Any, capsys: pytest.CaptureFixture, args: dict[str, Any], check_mode: bool = False, diff: bool = False
) -> tuple[bool, dict[str, Any]]:
    args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    out = json.loads(capsys.readouterr().out)
    return bool(out.get("failed")), out


def make_release(root: Path, channel: str, release_id: str, built: float, version: str = "1.0.0") -> None:
    path = root / channel / "releases" / release_id
    path.mkdir(parents=True)
    (path / "RELEASE.json").write_text(
        json.dumps({"release_id": release_id, "version": version, "built_at_epoch": built, "built_at": "t"})
    )

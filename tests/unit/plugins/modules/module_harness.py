"""Shared helpers for the module unit tests: run a module for real, lay out releases, fake systemd."""

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


class FakeSystemd:
    """systemctl/journalctl for one unit: restart makes it active with a new pid.

    ``journal`` holds the unit's journal entries (``journalctl -o json``), ``nrestarts`` the
    automatic restarts systemd reports.
    """

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.active = False
        self.pid = 0
        self.enabled = False
        self.nrestarts = 0
        self.journal: list[dict[str, Any]] = [{"MESSAGE": "INFO joined", "PRIORITY": "6"}]

    def __call__(self, args: Any, **kwargs: Any) -> tuple[int, str, str]:
        argv = list(args)
        self.calls.append(argv)
        if argv[:2] == ["systemctl", "show"]:
            props = {
                "LoadState": "loaded",
                "ActiveState": "active" if self.active else "inactive",
                "SubState": "running" if self.active else "dead",
                "MainPID": str(self.pid),
                "NRestarts": str(self.nrestarts),
                "Result": "success",
                "InvocationID": "inv1",
                "UnitFileState": "enabled" if self.enabled else "disabled",
            }
            return 0, "".join("{}={}\n".format(*kv) for kv in props.items()), ""
        if argv[:2] == ["systemctl", "restart"]:
            self.active, self.pid = True, self.pid + 100
        if argv[:2] == ["systemctl", "enable"]:
            self.enabled = True
        if argv[0] == "journalctl":
            return 0, "".join(json.dumps(entry) + "\n" for entry in self.journal), ""
        return 0, "", ""

    def restarts(self) -> int:
        return sum(1 for c in self.calls if c[:2] == ["systemctl", "restart"])

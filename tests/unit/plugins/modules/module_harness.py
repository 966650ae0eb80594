"""Shared helpers for the module unit tests: run a module for real, lay out releases, fake systemd."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.cytube.shipit.plugins.module_utils import shipit_state as st
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_layout import ChannelLayout
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_release_dirs import switch_current


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


# ---- channels whose live stack a rollback to "previous" must walk (channel "chan")


def stack_with_a_gone_and_a_bad_entry(root: Path) -> None:
    """The live stack says r1, r2, r3, r4 (live); r3 was removed by hand and r2 is bad: "previous" is r1."""
    for built, release_id in enumerate(["r1", "r2", "r4"], start=1):
        make_release(root, "chan", release_id, built)
    layout = ChannelLayout(str(root), "chan")
    switch_current(layout, "r4")
    state = st.load_state(layout)
    state["stack"] = ["r1", "r2", "r3", "r4"]
    st.mark_bad(state, "r2", "command_round_trip: no reply")
    st.save_state(layout, state)


def stack_lost_with_a_verified_release(root: Path) -> None:
    """The live stack lost its entries (only r1-gone); r2 (built before r3) is live and r3 was verified."""
    for built, release_id in enumerate(["r2", "r3"], start=2):
        make_release(root, "chan", release_id, built)
    layout = ChannelLayout(str(root), "chan")
    state = st.empty_state()
    st.mark_good(state, "r3")
    state["stack"] = ["r1-gone"]
    st.save_state(layout, state)
    switch_current(layout, "r2")


def previous_edited_by_hand(root: Path) -> None:
    """r1 (previous good) had a venv file edited after its build; r2 is live."""
    for built, release_id in enumerate(["r1", "r2"], start=1):
        make_release(root, "chan", release_id, built)
    site = root / "chan" / "releases" / "r1" / "venv" / "lib" / "python3.11" / "site-packages"
    (site / "bot-1.dist-info").mkdir(parents=True)
    (site / "bot.py").write_text("tampered\n")
    # the sha256 pip recorded for "print('hi')\n"
    (site / "bot-1.dist-info" / "RECORD").write_text("bot.py,sha256=yvAm8l1xQCCfmAcmBTB6Q4kUuc5vPBSyPRXZZnJB3lI,12\n")
    switch_current(ChannelLayout(str(root), "chan"), "r2")

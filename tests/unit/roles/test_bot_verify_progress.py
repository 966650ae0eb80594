"""The stability window announces itself (roles/bot_verify/tasks/main.yml): a prod verification is silent for ~50 s
otherwise, and an operator must not take it for a hung run. The task is rendered with Ansible's own templating."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_settings import PROFILES

pytestmark = pytest.mark.timeout(30)

TASKS = yaml.safe_load((Path(__file__).resolve().parents[3] / "roles/bot_verify/tasks/main.yml").read_text())


def announcement() -> dict[str, Any]:
    """The task right before the outside check, which must be a debug line."""
    index = next(i for i, task in enumerate(TASKS) if "cytube.shipit.cytube_check" in task)
    task = TASKS[index - 1]
    assert "ansible.builtin.debug" in task, "no progress line right before the stability window"
    return task


def render(task: dict[str, Any], profile: str) -> tuple[bool, str]:
    role_vars = {name: trust_as_template(value) for name, value in (task.get("vars") or {}).items()}
    variables = dict(role_vars, bot_verify_channel="mychan", bot_verify_settings=PROFILES[profile])
    templar = Templar(loader=DataLoader(), variables=variables)
    shown = all(templar.template(trust_as_template("{{ " + condition + " }}")) for condition in task["when"])
    message = templar.template(trust_as_template(task["ansible.builtin.debug"]["msg"]))
    return shown, " ".join(str(message).split())


def test_the_prod_stability_window_says_what_it_waits_for_and_how_long() -> None:
    shown, text = render(announcement(), "prod")
    assert shown and text == "verifying mychan over 50 s (6 rounds, 10 s apart)"


def test_a_single_round_prints_nothing() -> None:
    shown, _text = render(announcement(), "test")
    assert not shown

"""Every failure a run can name links to a section of docs/troubleshooting.md that exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_outcome import PHASES, troubleshooting_link

DOC = Path(__file__).resolve().parents[3] / "docs" / "troubleshooting.md"
#: The checks of the host (bot_host_check, bot_instance) and of cytube_check.
CHECKS = (
    "unit_active",
    "unit_stable",
    "health",
    "journal",
    "socketconfig",
    "connect",
    "join",
    "login",
    "bot_present",
    "command_round_trip",
    "final_unit_active",
)


def anchors() -> set[str]:
    """GitHub's anchors of the doc's headings: lowercase, spaces to '-', punctuation dropped."""
    headings = re.findall(r"^#{2,4} (.+)$", DOC.read_text(), re.MULTILINE)
    return {re.sub(r"[^a-z0-9 _-]", "", heading.lower()).replace(" ", "-") for heading in headings}


@pytest.mark.parametrize("name", [*CHECKS, *PHASES, "inputs", "run"])
def test_each_failure_links_to_a_section(name: str) -> None:
    link = troubleshooting_link(name)
    assert link.startswith("docs/troubleshooting.md#")
    assert link.split("#", 1)[1] in anchors(), f"{name}: add a section for it to docs/troubleshooting.md"

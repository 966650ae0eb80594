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
    "probe_rank",
    "bot_stays",
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


CI_SCRIPTS = DOC.parents[1] / "scripts" / "ci"
#: How the scripts of scripts/ci/ prefix their errors: `print(f"channels: ...")`, `echo "setup-controller: ..."`.
ERROR_PREFIX_RE = re.compile(r'(?:print\(f?|echo |fail |ReleaseError\(f?)"([a-z_.-]+): ')


def workflow_error_prefixes() -> set[str]:
    found = set()
    for script in CI_SCRIPTS.iterdir():
        if script.suffix in (".py", ".sh"):
            found |= set(ERROR_PREFIX_RE.findall(script.read_text(encoding="utf-8")))
    return found - {"quick-tests", "actionlint"}  # progress lines, not errors


def test_every_workflow_script_that_prints_errors_has_a_section() -> None:
    prefixes = workflow_error_prefixes()
    assert {"setup-controller", "channels", "build_bot", "fetch_release", "fork_notice"} <= prefixes
    missing = {name for name in prefixes if re.sub(r"[^a-z0-9 _-]", "", name) not in anchors()}
    assert not missing, f"add a '### <name>' section under 'Workflow errors' in docs/troubleshooting.md for {missing}"

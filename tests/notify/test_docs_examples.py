"""docs/notifications.md shows what the renderers produce today."""

from __future__ import annotations

import re

from notify_harness import REPO_ROOT
from render_examples import sections


def test_rendered_examples_in_the_docs_are_current() -> None:
    doc = (REPO_ROOT / "docs" / "notifications.md").read_text()
    for name, text in sections().items():
        found = re.search(rf"<!-- example:{name} -->\n(.*?)\n<!-- /example:{name} -->", doc, re.S)
        assert found, f"docs/notifications.md lacks example {name}"
        shown = found.group(1).removeprefix("```text\n").removesuffix("\n```")
        assert shown == text, f"example {name} is stale: run tests/notify/render_examples.py and paste it"

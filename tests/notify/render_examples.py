"""Render the fixture outcomes as people see them, for docs/notifications.md.

Run: .venv/bin/python tests/notify/render_examples.py  (test_docs_examples.py keeps the doc in sync)
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / ".collections"))

from ansible_collections.cytube.shipit.plugins.module_utils.shipit_notify_render import (  # noqa: E402
    discord_message,
    pr_comment,
    slack_message,
)

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "outcomes"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def slack_as_seen(message: dict[str, Any]) -> str:
    """Block Kit as Slack shows it, in plain text (links as 'text <url>')."""
    lines: list[str] = []
    for block in message["blocks"]:
        if block["type"] == "header":
            lines += [block["text"]["text"].upper(), ""]
        elif block["type"] == "section" and "fields" in block:
            for field in block["fields"]:
                name, _, value = field["text"].partition("\n")
                lines.append(f"{name.strip('*')}: {_slack_links(value)}")
            lines.append("")
        elif block["type"] == "section":
            lines += [_slack_links(block["text"]["text"]), ""]
        elif block["type"] == "context":
            lines.append(" ".join(_slack_links(e["text"]) for e in block["elements"]))
    return "\n".join(lines).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _slack_links(text: str) -> str:
    out = ""
    while "<" in text and "|" in text and ">" in text:
        before, _, rest = text.partition("<")
        inner, _, text = rest.partition(">")
        url, _, label = inner.partition("|")
        out += f"{before}{label} <{url}>" if label else f"{before}<{inner}>"
    return out + text


def discord_as_seen(payload: dict[str, Any]) -> str:
    embed = payload["embeds"][0]
    lines = [f"┃ {embed['title']}", *(f"┃ {line}" for line in embed["description"].splitlines()), "┃"]
    for field in embed["fields"]:
        lines.append(f"┃ {field['name']}: {field['value']}")
    lines += ["┃", f"┃ {embed['footer']['text']} · {embed.get('timestamp', '')}"]
    return "\n".join(lines)


def sections() -> dict[str, str]:
    failed = fixture("deploy_rolled_back")
    return {
        "pr-comment-success": pr_comment(fixture("deploy_success")),
        "pr-comment-rolled-back": pr_comment(failed),
        "slack-rolled-back": slack_as_seen(slack_message(failed)),
        "discord-rolled-back": discord_as_seen(discord_message(failed)),
    }


if __name__ == "__main__":
    for name, text in sections().items():
        print(f"<!-- example:{name} -->\n{textwrap.dedent(text)}\n<!-- /example:{name} -->\n")

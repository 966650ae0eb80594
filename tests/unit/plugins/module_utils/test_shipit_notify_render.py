"""PR comment, Slack and Discord rendering, and their limits (40 checks into one Discord embed)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_notify_render import (
    DISCORD_FIELDS,
    DISCORD_TOTAL,
    discord_message,
    embed_size,
    marker,
    pr_comment,
    slack_message,
    started_event,
)

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "outcomes"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def with_checks(count: int, seen_length: int = 200, failing: int = 37) -> dict[str, Any]:
    outcome = copy.deepcopy(fixture("deploy_rolled_back"))
    outcome["verdict"]["checks"] = [
        {
            "name": f"check_{n:02d}",
            "ok": n != failing,
            "expected": "x" * 50,
            "seen": "y" * seen_length,
            "latency_ms": float(n),
            "message": None,
        }
        for n in range(count)
    ]
    outcome["failed_check"] = f"check_{failing:02d}"
    return outcome


def test_success_comment_has_everything_a_contributor_needs() -> None:
    outcome = fixture("deploy_success")
    body = pr_comment(outcome)
    assert body.startswith("<!-- cytube-shipit:sandbox/shipit-sandbox -->\n")
    assert "✅ Deploy of 1.1.0 to shipit-sandbox (sandbox) succeeded" in body
    assert "(http://10.231.255.1:8080/r/shipit-sandbox)" in body
    assert "| Release | 1.1.0 (`1.1.0-3f2a9c1d0e4b`) |" in body
    assert "| Commit | `4f06fd7a1b2c` |" in body
    assert "[CI run logs](https://github.com/example/bot/actions/runs/9001/attempts/1)" in body
    assert "| Finished | 2026-11-29 10:00:05 UTC |" in body and "| Duration | 5.4 s |" in body
    assert "| login | ✅ | 80 ms | `shipprobe` |" in body
    assert "Failed check" not in body


def test_failure_comment_names_check_expected_seen_rollback_and_guide() -> None:
    body = pr_comment(fixture("deploy_rolled_back"), troubleshooting_url="https://docs.example/troubleshooting.md")
    assert "↩️ Deploy of 1.2.0 to shipit-sandbox (sandbox) failed and was rolled back" in body
    assert "expected `pong 1.2.0 <token> within 2 s`, seen `no reply after 2.0 s`" in body
    assert "**Rollback:** verified to 1.1.0-3f2a9c1d0e4b" in body
    assert "(https://docs.example/troubleshooting.md#command_round_trip)" in body
    assert "&lt;token&gt;" in body, "angle brackets in prose are escaped so GitHub does not eat them"


def test_started_comment_and_marker() -> None:
    outcome = fixture("deploy_success")
    event = started_event({k: outcome[k] for k in ("run_id", "channel", "environment", "host", "release", "trigger")})
    body = pr_comment(event)
    assert marker(event) in body and "⏳ Deploying 1.1.0 to shipit-sandbox (sandbox)" in body
    assert "Duration" not in body


def test_table_cells_cannot_break_the_table() -> None:
    outcome = fixture("deploy_rolled_back")
    outcome["verdict"]["checks"][1]["seen"] = "a | b `c`\nd"
    assert "| command_round_trip | ❌ | 2000 ms | `a \\| b 'c' d` |" in pr_comment(outcome)


def test_discord_embed_with_40_checks_fits_every_limit() -> None:
    embed = discord_message(with_checks(40))["embeds"][0]
    assert len(embed["fields"]) <= DISCORD_FIELDS
    assert embed_size(embed) <= DISCORD_TOTAL
    assert len(embed["title"]) <= 256 and len(embed["description"]) <= 4096
    assert all(len(f["name"]) <= 256 and 0 < len(f["value"]) <= 1024 for f in embed["fields"])
    names = [f["name"] for f in embed["fields"]]
    assert names[4] == "❌ check_37", "the failed check comes first and survives shortening"
    assert names[-1].startswith("… ") and names[-1].endswith(" more checks")
    shown = sum(1 for n in names if n.startswith(("✅", "❌")))
    assert int(names[-1].split()[1]) == 40 - shown


@pytest.mark.parametrize(("count", "seen_length"), [(40, 5), (40, 900), (200, 50), (3, 5000)])
def test_discord_never_exceeds_limits(count: int, seen_length: int) -> None:
    outcome = with_checks(count, seen_length, failing=count - 1)
    outcome["reason"] = "r" * 5000
    embed = discord_message(outcome)["embeds"][0]
    assert embed_size(embed) <= DISCORD_TOTAL and len(embed["fields"]) <= DISCORD_FIELDS
    assert len(embed["description"]) <= 4096


def test_slack_blocks_respect_block_kit_limits() -> None:
    message = slack_message(with_checks(200))
    header = message["blocks"][0]
    assert header["type"] == "header" and len(header["text"]["text"]) <= 150
    for block in message["blocks"]:
        if block["type"] == "section":
            assert len(block.get("text", {}).get("text", "")) <= 3000
            assert len(block.get("fields", [])) <= 10
    checks = message["blocks"][-2]["text"]["text"]
    assert checks.startswith("❌ `check_37`") and "more checks (shortened to fit)" in checks


def test_slack_escapes_control_characters() -> None:
    message = slack_message(fixture("deploy_rolled_back"))
    text = json.dumps(message)
    assert "<token>" not in text and "&lt;token&gt;" in text

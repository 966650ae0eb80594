"""Slack's and Discord's documented payload limits, checked the way they reject.

Slack (incoming webhooks, Block Kit reference): at most 50 blocks; header text 150;
section text 3000, at most 10 fields of 2000 each; context at most 10 elements.
A payload with neither text nor blocks is "no_text"; bad blocks are "invalid_blocks".
Discord (Execute Webhook, embed limits): content 2000, 10 embeds, title 256,
description 4096, 25 fields, field name 256 and value 1024 (both required), footer
2048, author name 256, and 6000 characters over all embeds' text.
"""

from __future__ import annotations

from typing import Any

SLACK_MAX_BLOCKS = 50
SLACK_HEADER_TEXT = 150
SLACK_SECTION_TEXT = 3000
SLACK_SECTION_FIELDS = 10
SLACK_FIELD_TEXT = 2000
SLACK_CONTEXT_ELEMENTS = 10
SLACK_BLOCK_TYPES = ("section", "header", "context", "divider", "actions", "image", "rich_text", "markdown")

DISCORD_CONTENT = 2000
DISCORD_EMBEDS = 10
DISCORD_TITLE = 256
DISCORD_DESCRIPTION = 4096
DISCORD_FIELDS = 25
DISCORD_FIELD_NAME = 256
DISCORD_FIELD_VALUE = 1024
DISCORD_FOOTER = 2048
DISCORD_AUTHOR = 256
DISCORD_TOTAL = 6000


def slack_problems(payload: Any) -> tuple[str, list[str]]:
    """("", []) when Slack would accept the payload, else (Slack's error code, details)."""
    if not isinstance(payload, dict):
        return "invalid_payload", ["the body is not a JSON object"]
    blocks = payload.get("blocks")
    if not payload.get("text") and not blocks:
        return "no_text", ["neither text nor blocks"]
    if blocks is None:
        return "", []
    if not isinstance(blocks, list) or len(blocks) > SLACK_MAX_BLOCKS:
        return "invalid_blocks", [f"blocks must be a list of at most {SLACK_MAX_BLOCKS}"]
    details = [problem for index, block in enumerate(blocks) for problem in _slack_block(index, block)]
    return ("invalid_blocks", details) if details else ("", [])


def _slack_block(index: int, block: Any) -> list[str]:
    where = f"blocks[{index}]"
    if not isinstance(block, dict) or block.get("type") not in SLACK_BLOCK_TYPES:
        return [f"{where}: unknown block type"]
    kind = block["type"]
    problems: list[str] = []
    if kind == "header":
        problems += _slack_text(f"{where}.text", block.get("text"), SLACK_HEADER_TEXT, ("plain_text",))
    elif kind == "section":
        fields = block.get("fields") or []
        if "text" not in block and not fields:
            problems.append(f"{where}: a section needs text or fields")
        if "text" in block:
            problems += _slack_text(f"{where}.text", block["text"], SLACK_SECTION_TEXT)
        if len(fields) > SLACK_SECTION_FIELDS:
            problems.append(f"{where}.fields: more than {SLACK_SECTION_FIELDS}")
        for number, item in enumerate(fields):
            problems += _slack_text(f"{where}.fields[{number}]", item, SLACK_FIELD_TEXT)
    elif kind == "context":
        elements = block.get("elements") or []
        if not elements or len(elements) > SLACK_CONTEXT_ELEMENTS:
            problems.append(f"{where}.elements: 1 to {SLACK_CONTEXT_ELEMENTS} needed")
        for number, item in enumerate(elements):
            if isinstance(item, dict) and item.get("type") in ("mrkdwn", "plain_text"):
                problems += _slack_text(f"{where}.elements[{number}]", item, SLACK_SECTION_TEXT)
    return problems


def _slack_text(where: str, text: Any, limit: int, kinds: tuple[str, ...] = ("plain_text", "mrkdwn")) -> list[str]:
    if not isinstance(text, dict) or text.get("type") not in kinds or not isinstance(text.get("text"), str):
        return [f"{where}: must be a text object of type {' or '.join(kinds)}"]
    if not text["text"] or len(text["text"]) > limit:
        return [f"{where}: must be 1 to {limit} characters, got {len(text['text'])}"]
    return []


def discord_errors(payload: Any) -> dict[str, Any]:
    """Discord's `errors` object for an Invalid Form Body (50035); empty when it would accept."""
    if not isinstance(payload, dict):
        return {"_errors": [_discord_error("MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")]}
    errors: dict[str, Any] = {}
    content = payload.get("content") or ""
    embeds = payload.get("embeds") or []
    if not content and not embeds:
        return {"content": {"_errors": [_discord_error("BASE_TYPE_REQUIRED", "Cannot send an empty message")]}}
    if len(content) > DISCORD_CONTENT:
        errors["content"] = _too_long(DISCORD_CONTENT)
    if len(embeds) > DISCORD_EMBEDS:
        errors["embeds"] = {"_errors": [_discord_error("BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")]}
        return errors
    embed_errors = {str(i): found for i, embed in enumerate(embeds) if (found := _discord_embed(embed))}
    if embed_errors:
        errors["embeds"] = embed_errors
    elif sum(_embed_size(embed) for embed in embeds) > DISCORD_TOTAL:
        message = f"Embed size exceeds maximum size of {DISCORD_TOTAL}"
        errors["embeds"] = {"_errors": [_discord_error("MAX_EMBED_SIZE_EXCEEDED", message)]}
    return errors


def _discord_embed(embed: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, limit in (("title", DISCORD_TITLE), ("description", DISCORD_DESCRIPTION)):
        if len(embed.get(key) or "") > limit:
            found[key] = _too_long(limit)
    fields = embed.get("fields") or []
    if len(fields) > DISCORD_FIELDS:
        found["fields"] = {"_errors": [_discord_error("BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")]}
    else:
        field_errors = {}
        for index, item in enumerate(fields):
            problems = {}
            for key, limit in (("name", DISCORD_FIELD_NAME), ("value", DISCORD_FIELD_VALUE)):
                value = item.get(key)
                if not value:
                    problems[key] = {"_errors": [_discord_error("BASE_TYPE_REQUIRED", "This field is required")]}
                elif len(value) > limit:
                    problems[key] = _too_long(limit)
            if problems:
                field_errors[str(index)] = problems
        if field_errors:
            found["fields"] = field_errors
    if len((embed.get("footer") or {}).get("text") or "") > DISCORD_FOOTER:
        found["footer"] = {"text": _too_long(DISCORD_FOOTER)}
    if len((embed.get("author") or {}).get("name") or "") > DISCORD_AUTHOR:
        found["author"] = {"name": _too_long(DISCORD_AUTHOR)}
    return found


def _embed_size(embed: dict[str, Any]) -> int:
    fields = embed.get("fields") or []
    return (
        len(embed.get("title") or "")
        + len(embed.get("description") or "")
        + sum(len(f.get("name") or "") + len(f.get("value") or "") for f in fields)
        + len((embed.get("footer") or {}).get("text") or "")
        + len((embed.get("author") or {}).get("name") or "")
    )


def _too_long(limit: int) -> dict[str, Any]:
    return {"_errors": [_discord_error("BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")]}


def _discord_error(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}

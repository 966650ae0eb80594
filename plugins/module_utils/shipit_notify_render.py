# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What people read: the PR comment (Markdown), the Slack message (Block Kit), the Discord embed.

All three are rendered from an event: a run outcome (outcome.schema.json), or for a run
that is starting, the same fields with ``status: started`` (see :func:`started_event`).
Long check lists are shortened with a note so that Slack's and Discord's limits hold.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

MARKER_PREFIX = "<!-- cytube-shipit:"
DEFAULT_TROUBLESHOOTING_URL = "https://example.invalid/cytube/shipit/blob/main/docs/troubleshooting.md"

INDICATORS = {
    "started": ("⏳", "deploying"),
    "success": ("✅", "succeeded"),
    "rolled_back": ("↩️", "failed and was rolled back"),
    "rollback_failed": ("🚨", "failed and the rollback failed too"),
    "failed": ("❌", "failed"),
    "inconclusive": ("❔", "is inconclusive"),
    "refused": ("⛔", "was refused"),
    "invalid": ("❌", "was invalid"),
    "check": ("🔎", "was checked (--check, nothing changed)"),
}
COLORS = {  # Discord embed colours
    "started": 0x3498DB,
    "success": 0x2ECC71,
    "rolled_back": 0xE67E22,
    "rollback_failed": 0xC0392B,
    "failed": 0xE74C3C,
    "inconclusive": 0x95A5A6,
    "refused": 0x95A5A6,
    "invalid": 0xE74C3C,
    "check": 0x95A5A6,
}

SLACK_HEADER = 150
SLACK_SECTION = 3000
DISCORD_TITLE = 256
DISCORD_DESCRIPTION = 4096
DISCORD_FIELDS = 25
DISCORD_FIELD_VALUE = 1024
DISCORD_FIELD_NAME = 256
DISCORD_FOOTER = 2048
DISCORD_TOTAL = 6000


def started_event(context: Mapping[str, Any]) -> Dict[str, Any]:
    """An event for a run that starts, from the playbook's context (the outcome's fields known so far)."""
    event = dict(context)
    event["status"] = "started"
    event.setdefault("kind", "deploy")
    event.setdefault("trigger", {})
    event.setdefault("verdict", None)
    event.setdefault("rollback", None)
    event.setdefault("reason", "")
    return event


def marker(event: Mapping[str, Any]) -> str:
    return "%s%s/%s -->" % (MARKER_PREFIX, event.get("environment") or "-", event.get("channel") or "-")


def _release(event: Mapping[str, Any]) -> Tuple[str, str]:
    release = event.get("release") or {}
    return str(release.get("version") or "?"), str(release.get("id") or "?")


def commit_of(event: Mapping[str, Any]) -> Optional[str]:
    release = event.get("release") or {}
    trigger = event.get("trigger") or {}
    return release.get("git_sha") or trigger.get("sha") or None


def headline(event: Mapping[str, Any]) -> str:
    """One line: indicator, what, where."""
    icon, verb = INDICATORS.get(event.get("status", ""), ("•", str(event.get("status"))))
    version = _release(event)[0]
    kind = event.get("kind") or "deploy"
    where = "%s (%s)" % (event.get("channel") or "?", event.get("environment") or "?")
    if event.get("status") == "started":
        return "%s %s %s to %s" % (icon, "Rolling back" if kind == "rollback" else "Deploying", version, where)
    return "%s %s of %s to %s %s" % (icon, kind.capitalize(), version, where, verb)


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return " ".join(text.replace("|", "\\|").replace("`", "'").split())


def _prose(value: Any) -> str:
    """Markdown text outside code: angle brackets would be taken for HTML and vanish."""
    return _cell(value).replace("<", "&lt;").replace(">", "&gt;")


def _slack_escape(value: Any) -> str:
    return ("" if value is None else str(value)).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _code(value: Any) -> str:
    return "`%s`" % _cell(value) if value not in (None, "") else "—"


def _latency(check: Mapping[str, Any]) -> str:
    latency = check.get("latency_ms")
    if latency is None:
        return "—"
    return "%.0f ms" % latency if latency >= 10 else "%.1f ms" % latency


def _checks(event: Mapping[str, Any]) -> List[Mapping[str, Any]]:
    verdict = event.get("verdict") or {}
    return [c for c in verdict.get("checks") or [] if isinstance(c, Mapping)]


def failed_check(event: Mapping[str, Any]) -> Optional[Mapping[str, Any]]:
    name = event.get("failed_check")
    for check in _checks(event):
        if not check.get("ok") and (name is None or check.get("name") == name):
            return check
    return {"name": name, "expected": None, "seen": None} if name else None


def rollback_line(event: Mapping[str, Any]) -> Optional[str]:
    rollback = event.get("rollback")
    if not rollback:
        return None
    target = rollback.get("target") or {}
    text = "%s%s" % (rollback.get("result", "?"), " (emergency)" if rollback.get("emergency") else "")
    if target.get("id"):
        text += " to %s" % target["id"]
    if rollback.get("reason"):
        text += ": %s" % rollback["reason"]
    return text


def _when(event: Mapping[str, Any]) -> str:
    stamp = event.get("finished_at") or event.get("started_at") or ""
    return stamp.replace("T", " ").split(".")[0].rstrip("Z") + " UTC" if stamp else "—"


def _duration(event: Mapping[str, Any]) -> str:
    duration = event.get("duration_s")
    return "%.1f s" % duration if isinstance(duration, (int, float)) else "—"


def pr_comment(event: Mapping[str, Any], troubleshooting_url: str = DEFAULT_TROUBLESHOOTING_URL) -> str:
    """The Markdown body of the one PR comment per environment and channel."""
    version, release_id = _release(event)
    trigger = event.get("trigger") or {}
    commit = commit_of(event)
    run_url = trigger.get("run_url")
    channel_url = event.get("channel_url")
    lines = [marker(event), "### %s" % headline(event), ""]
    if event.get("reason"):
        lines += [_prose(event["reason"]), ""]
    lines += [
        "| | |",
        "|---|---|",
        "| Channel | %s |" % ("[%s](%s)" % (_cell(channel_url), channel_url) if channel_url else "—"),
        "| Release | %s (%s) |" % (_cell(version), _code(release_id)),
        "| Commit | %s |" % _code(commit[:12] if commit else None),
        "| Host | %s |" % _cell(event.get("host") or "—"),
        "| Run | %s |" % ("[CI run logs](%s)" % run_url if run_url else _cell(event.get("run_id") or "—")),
        "| %s | %s |" % ("Started" if event.get("status") == "started" else "Finished", _when(event)),
    ]
    if event.get("status") != "started":
        lines.append("| Duration | %s |" % _duration(event))
    lines.append("")
    failed = failed_check(event)
    if failed is not None:
        name = failed.get("name") or "?"
        lines += [
            "**Failed check `%s`**: expected %s, seen %s."
            % (_cell(name), _code(failed.get("expected")), _code(failed.get("seen"))),
            "",
        ]
        rollback = rollback_line(event)
        if rollback:
            lines += ["**Rollback:** %s" % _prose(rollback), ""]
        if event.get("next_step"):
            lines += ["**Next step:** %s" % _prose(event["next_step"]), ""]
        lines += ["Troubleshooting: [%s](%s#%s)" % (_cell(name), troubleshooting_url, name), ""]
    elif rollback_line(event):
        lines += ["**Rollback:** %s" % _prose(rollback_line(event)), ""]
    checks = _checks(event)
    if checks:
        passed = sum(1 for c in checks if c.get("ok"))
        lines += [
            "<details%s><summary>Checks: %d of %d passed</summary>" % (" open" if failed else "", passed, len(checks)),
            "",
            "| Check | Result | Latency | Seen |",
            "|---|---|---|---|",
        ]
        for check in checks:
            lines.append(
                "| %s | %s | %s | %s |"
                % (
                    _cell(check.get("name")),
                    "✅" if check.get("ok") else "❌",
                    _latency(check),
                    _code(check.get("seen")),
                )
            )
        lines += ["", "</details>", ""]
    lines.append(
        "<sub>cytube.shipit %s · run %s</sub>"
        % (_cell(event.get("collection_version") or ""), _cell(event.get("run_id") or "—"))
    )
    return "\n".join(lines)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def _check_line(check: Mapping[str, Any]) -> str:
    return "%s `%s` %s" % ("✅" if check.get("ok") else "❌", check.get("name"), _latency(check))


def _fit_lines(lines: List[str], limit: int, noun: str = "checks") -> str:
    """As many lines as fit in `limit` characters, then a note of how many were left out."""
    kept: List[str] = []
    for index, line in enumerate(lines):
        rest = len(lines) - index
        note = "\n… and %d more %s (shortened to fit)" % (rest, noun)
        if len("\n".join([*kept, line])) + (len(note) if rest > 1 else 0) > limit:
            return "\n".join(kept) + ("\n" if kept else "") + note.strip()
        kept.append(line)
    return "\n".join(kept)


def _ordered_checks(event: Mapping[str, Any]) -> List[Mapping[str, Any]]:
    """Failed checks first: they must survive shortening."""
    checks = _checks(event)
    return [c for c in checks if not c.get("ok")] + [c for c in checks if c.get("ok")]


def _facts(event: Mapping[str, Any]) -> List[Tuple[str, str]]:
    version, release_id = _release(event)
    commit = commit_of(event)
    facts = [
        ("Release", "%s (%s)" % (version, release_id)),
        ("Commit", commit[:12] if commit else "—"),
        ("Host", str(event.get("host") or "—")),
        ("Duration", _duration(event) if event.get("status") != "started" else "running"),
    ]
    return facts


def _failure_text(
    event: Mapping[str, Any],
    troubleshooting_url: str,
    link: Callable[[str, str], str],
    escape: Callable[[Any], str] = _cell,
) -> str:
    failed = failed_check(event)
    if failed is None:
        return ""
    name = failed.get("name") or "?"
    parts = [
        "Failed check `%s`: expected `%s`, seen `%s`"
        % (escape(name), escape(_cell(failed.get("expected"))), escape(_cell(failed.get("seen"))))
    ]
    rollback = rollback_line(event)
    if rollback:
        parts.append("Rollback: %s" % escape(rollback))
    if event.get("next_step"):
        parts.append("Next step: %s" % escape(event["next_step"]))
    parts.append(link("%s#%s" % (troubleshooting_url, name), "Troubleshooting: %s" % name))
    return "\n".join(parts)


def slack_message(event: Mapping[str, Any], troubleshooting_url: str = DEFAULT_TROUBLESHOOTING_URL) -> Dict[str, Any]:
    """Block Kit payload for an incoming webhook, within Slack's block limits."""
    title = _shorten(headline(event), SLACK_HEADER)
    trigger = event.get("trigger") or {}
    channel_url = event.get("channel_url")
    fields = [{"type": "mrkdwn", "text": "*%s*\n%s" % (k, v)} for k, v in _facts(event)]
    if channel_url:
        fields.insert(0, {"type": "mrkdwn", "text": "*Channel*\n<%s|%s>" % (channel_url, event.get("channel"))})
    if trigger.get("run_url"):
        fields.append({"type": "mrkdwn", "text": "*Run*\n<%s|CI run logs>" % trigger["run_url"]})
    blocks = [{"type": "header", "text": {"type": "plain_text", "text": title, "emoji": True}}]  # type: List[Dict[str, Any]]
    if event.get("reason"):
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _shorten(_slack_escape(event["reason"]), SLACK_SECTION)},
            }
        )
    blocks.append({"type": "section", "fields": fields[:10]})
    failure = _failure_text(event, troubleshooting_url, lambda url, text: "<%s|%s>" % (url, text), _slack_escape)
    if failure:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _shorten(failure, SLACK_SECTION)}})
    checks = _ordered_checks(event)
    if checks:
        text = _fit_lines([_check_line(c) for c in checks], SLACK_SECTION)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": "%s · run %s · cytube.shipit %s"
                    % (_when(event), event.get("run_id") or "—", event.get("collection_version") or ""),
                }
            ],
        }
    )
    return {"text": title, "blocks": blocks}


def discord_message(
    event: Mapping[str, Any], troubleshooting_url: str = DEFAULT_TROUBLESHOOTING_URL, username: Optional[str] = None
) -> Dict[str, Any]:
    """Execute Webhook payload with one embed that always fits Discord's limits."""
    trigger = event.get("trigger") or {}
    description = event.get("reason") or ""
    failure = _failure_text(event, troubleshooting_url, lambda url, text: "[%s](%s)" % (text, url))
    if failure:
        description = (description + "\n\n" + failure).strip()
    if trigger.get("run_url"):
        description += "\n[CI run logs](%s)" % trigger["run_url"]
    embed = {
        "title": _shorten(headline(event), DISCORD_TITLE),
        "description": _shorten(description, DISCORD_DESCRIPTION),
        "color": COLORS.get(event.get("status", ""), 0x95A5A6),
        "fields": [{"name": k, "value": _shorten(v, DISCORD_FIELD_VALUE), "inline": True} for k, v in _facts(event)],
        "footer": {
            "text": _shorten(
                "run %s · cytube.shipit %s" % (event.get("run_id") or "—", event.get("collection_version") or ""),
                DISCORD_FOOTER,
            )
        },
    }  # type: Dict[str, Any]
    if event.get("channel_url"):
        embed["url"] = event["channel_url"]
    stamp = event.get("finished_at") or event.get("started_at")
    if stamp:
        embed["timestamp"] = stamp
    _add_check_fields(embed, _ordered_checks(event))
    payload = {"embeds": [embed], "allowed_mentions": {"parse": []}}  # type: Dict[str, Any]
    if username:
        payload["username"] = username
    return payload


def embed_size(embed: Mapping[str, Any]) -> int:
    """Characters Discord counts against the 6000 total."""
    return (
        len(embed.get("title") or "")
        + len(embed.get("description") or "")
        + sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields") or [])
        + len((embed.get("footer") or {}).get("text") or "")
        + len((embed.get("author") or {}).get("name") or "")
    )


def _add_check_fields(embed: Dict[str, Any], checks: List[Mapping[str, Any]]) -> None:
    """One field per check while fields and the 6000 total allow, then a note field with the rest."""
    fields = embed["fields"]
    for index, check in enumerate(checks):
        rest = len(checks) - index
        field = {
            "name": _shorten("%s %s" % ("✅" if check.get("ok") else "❌", check.get("name")), DISCORD_FIELD_NAME),
            "value": _shorten("%s · %s" % (_latency(check), _cell(check.get("seen")) or "—"), DISCORD_FIELD_VALUE),
            "inline": True,
        }
        note = _note_field(rest - 1)
        room_fields = len(fields) + 1 + (1 if rest > 1 else 0) <= DISCORD_FIELDS
        room_chars = (
            embed_size(embed) + len(field["name"]) + len(field["value"]) + (_field_len(note) if rest > 1 else 0)
        )
        if not room_fields or room_chars > DISCORD_TOTAL:
            fields.append(_note_field(rest))
            break
        fields.append(field)
    if embed_size(embed) > DISCORD_TOTAL:  # a huge reason: shorten the description to what is left
        excess = embed_size(embed) - DISCORD_TOTAL
        embed["description"] = _shorten(embed["description"], max(len(embed["description"]) - excess, 0))


def _note_field(count: int) -> Dict[str, Any]:
    return {
        "name": "… %d more checks" % count,
        "value": "shortened to fit Discord's limits; the PR comment and the outcome have all of them",
        "inline": False,
    }


def _field_len(field: Mapping[str, Any]) -> int:
    return len(field["name"]) + len(field["value"])

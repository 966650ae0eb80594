"""Payload type checks with the error texts of CyTube's json-typecheck templates."""

from __future__ import annotations

from typing import Any, Final


class Missing:
    """Marker for an event sent without any payload (JavaScript ``undefined``)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = Missing()

# Template: key -> accepted type names; "optional" allows the key to be absent.
Template = dict[str, str]

CHAT_TEMPLATE: Final[Template] = {"msg": "string", "meta": "object,optional"}
PM_TEMPLATE: Final[Template] = {"msg": "string", "to": "string", "meta": "object,optional"}


def js_type(value: Any) -> str:
    """Name a decoded JSON value the way json-typecheck does."""
    if value is MISSING:
        return "undefined"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def check(value: Any, template: Template) -> str | None:
    """Return the json-typecheck error message for ``value``, or None when it matches."""
    actual = js_type(value)
    if actual != "object":
        return f"Expected type object, got {actual}"
    for key, expected in template.items():
        if key not in value:
            if "optional" in expected:
                continue
            return f"Missing key: {expected}:{key}"
        # json-typecheck tests with a substring search, so "object,optional" accepts "object".
        got = js_type(value[key])
        if got not in expected:
            return f"Expected key {key} to be of type {expected}, instead got {got}"
    for key in value:
        if key not in template:
            return f"Extra key: {key}"
    return None


def event_error(event: str, message: str) -> dict[str, str]:
    return {"msg": f"Unexpected error for message {event}: {message}"}

"""The JSON config file (password inline) and the fault switches."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

CHANNEL_RE = re.compile(r"[A-Za-z0-9_-]{1,30}")
USERNAME_RE = re.compile(r"[A-Za-z0-9_-]{1,20}")
LOG_LEVELS = ("debug", "info", "warning", "error")
FAULTS_ENV = "CHATBOT_FAULTS"


class SettingsError(ValueError):
    """A bad config; the message names the key and never holds the password."""


@dataclass(frozen=True)
class Faults:
    """Switches that make a deliberately bad release."""

    crash_at_start: bool = False  # exit 1 right after start
    never_join: bool = False  # connect, never send joinChannel
    never_answer: bool = False  # join and log in, answer nothing


@dataclass(frozen=True)
class Settings:
    server: str
    channel: str
    username: str
    password: str = field(default="", repr=False)  # empty: guest login
    database: str = "chatbot.db"  # relative paths are taken from the working directory
    log_level: str = "info"
    faults: Faults = Faults()


def _string(raw: dict[str, Any], key: str, pattern: re.Pattern[str] | None, hint: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or (pattern is not None and pattern.fullmatch(value) is None):
        raise SettingsError(f"{key} = {value!r}: expected {hint}")
    return value


def _faults(raw: Any, from_env: str | None) -> Faults:
    if not isinstance(raw, dict):
        raise SettingsError(f'faults must be an object like {{"never_answer": true}}, got {raw!r}')
    known = {f.name for f in fields(Faults)}
    values: dict[str, bool] = {}
    for key, value in raw.items():
        if key not in known or not isinstance(value, bool):
            raise SettingsError(f"faults.{key} = {value!r}: expected true or false for one of {sorted(known)}")
        values[key] = value
    for name in filter(None, (part.strip() for part in (from_env or "").split(","))):
        if name not in known:
            raise SettingsError(f"{FAULTS_ENV}: unknown fault {name!r}; known: {sorted(known)}")
        values[name] = True
    return Faults(**values)


def parse(raw: Any, faults_env: str | None = None) -> Settings:
    if not isinstance(raw, dict):
        raise SettingsError("the config must be a JSON object")
    known = {f.name for f in fields(Settings)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise SettingsError(f"unknown keys {unknown}; known: {sorted(known)}")
    server = _string(raw, "server", None, "the CyTube site URL, e.g. https://cytu.be")
    if not server.startswith(("http://", "https://")):
        raise SettingsError(f"server = {server!r}: expected an http:// or https:// URL")
    password = raw.get("password", "")
    if not isinstance(password, str):
        raise SettingsError("password must be a string (empty for a guest login)")
    database = raw.get("database", "chatbot.db")
    if not isinstance(database, str) or not database:
        raise SettingsError(f"database = {database!r}: expected a file name")
    level = raw.get("log_level", "info")
    if level not in LOG_LEVELS:
        raise SettingsError(f"log_level = {level!r}: expected one of {list(LOG_LEVELS)}")
    return Settings(
        server=server.rstrip("/"),
        channel=_string(raw, "channel", CHANNEL_RE, "1-30 characters from a-z A-Z 0-9 _ -"),
        username=_string(raw, "username", USERNAME_RE, "1-20 characters from a-z A-Z 0-9 _ -"),
        password=password,
        database=database,
        log_level=level,
        faults=_faults(raw.get("faults", {}), faults_env),
    )


def load(path: Path) -> Settings:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"cannot read config {path}: {exc.strerror}") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        # Only the position: the offending text could be the password.
        raise SettingsError(f"config {path} is not valid JSON (line {exc.lineno}, column {exc.colno})") from None
    return parse(raw, os.environ.get(FAULTS_ENV))

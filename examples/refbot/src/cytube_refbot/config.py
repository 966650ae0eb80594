"""Load and validate the bot's TOML configuration.

Every problem is reported as a ConfigError naming the key, the bad value and
what was expected. Password values are never part of an error message.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

NAME_RE = re.compile(r"^[\w-]{1,20}$", re.ASCII)
CHANNEL_RE = re.compile(r"^[\w-]{1,30}$", re.ASCII)
CREDENTIAL_RE = re.compile(r"^[\w.@-]{1,255}$", re.ASCII)
HOSTNAME_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$")
PREFIX_RE = re.compile(r"^\S{1,8}$")
LOG_LEVELS = ("debug", "info", "warning", "error")
PASSWORD_ENV = "CYTUBE_BOT_PASSWORD"
MAX_ANSWER_DELAY_S = 3600.0

_MISSING = object()
_HIDDEN = object()  # an unknown key's value may be a misplaced password: never echo it

SECTIONS: dict[str, frozenset[str]] = {
    "server": frozenset({"url", "channel", "socket_url"}),
    "account": frozenset({"name", "password_file", "password_credential"}),
    "bot": frozenset({"command_prefix", "health_listen", "log_level"}),
    "faults": frozenset({"crash_at_start", "never_join", "never_answer", "answer_delay_s"}),
}


class ConfigError(Exception):
    """A configuration value is missing or invalid."""

    def __init__(self, key: str, value: object, expected: str) -> None:
        self.key = key
        self.value = value
        self.expected = expected
        shown = {id(_MISSING): "<missing>", id(_HIDDEN): "<not shown>"}.get(id(value), repr(value))
        super().__init__(f"config error: {key} = {shown}: expected {expected}")


@dataclass(frozen=True)
class ServerConfig:
    url: str
    channel: str
    socket_url: str | None


@dataclass(frozen=True)
class AccountConfig:
    name: str
    password: str = field(repr=False)

    @property
    def is_guest(self) -> bool:
        return self.password == ""


@dataclass(frozen=True)
class HealthListen:
    host: str
    port: int


@dataclass(frozen=True)
class BotConfig:
    command_prefix: str
    health_listen: HealthListen | None
    log_level: str


@dataclass(frozen=True)
class FaultConfig:
    crash_at_start: bool = False
    never_join: bool = False
    never_answer: bool = False
    answer_delay_s: float = 0.0


@dataclass(frozen=True)
class Config:
    server: ServerConfig
    account: AccountConfig
    bot: BotConfig
    faults: FaultConfig


def load_config(path: Path, environ: dict[str, str] | None = None, read_password: bool = True) -> Config:
    """Parse and validate the file at `path`; raise ConfigError on any problem.

    With read_password=False the password source is validated but not read
    (used by --check-config, which may run outside the systemd unit).
    """
    env = dict(os.environ) if environ is None else environ
    doc = _read_toml(path)
    _reject_unknown_keys(doc)
    return Config(
        server=_server_section(_section(doc, "server")),
        account=_account_section(_section(doc, "account"), env, path.parent, read_password),
        bot=_bot_section(_section(doc, "bot")),
        faults=_faults_section(_section(doc, "faults")),
    )


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ConfigError("--config", str(path), f"a readable TOML file ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("--config", str(path), f"valid TOML ({exc})") from None


def _reject_unknown_keys(doc: dict[str, Any]) -> None:
    for section, table in doc.items():
        if section not in SECTIONS:
            raise ConfigError(section, _HIDDEN, f"one of the sections {sorted(SECTIONS)}")
        if not isinstance(table, dict):
            raise ConfigError(section, table, "a table ([section])")
        for key in table:
            if key == "password":
                raise ConfigError(
                    f"{section}.password",
                    _HIDDEN,
                    f"no password in the config file; use password_file, password_credential or ${PASSWORD_ENV}",
                )
            if key not in SECTIONS[section]:
                raise ConfigError(f"{section}.{key}", _HIDDEN, f"one of the keys {sorted(SECTIONS[section])}")


def _section(doc: dict[str, Any], name: str) -> dict[str, Any]:
    table = doc.get(name, {})
    return table if isinstance(table, dict) else {}


def _value(
    table: dict[str, Any], section: str, key: str, kinds: tuple[type, ...], expected: str, default: object = _MISSING
) -> Any:
    value = table.get(key, default)
    if value is _MISSING:
        raise ConfigError(f"{section}.{key}", _MISSING, f"{expected} (the key is required)")
    # bool is a subclass of int: keep `true` out of numeric keys.
    if not isinstance(value, kinds) or (bool not in kinds and isinstance(value, bool)):
        raise ConfigError(f"{section}.{key}", value, expected)
    return value


def _str(table: dict[str, Any], section: str, key: str, default: object = _MISSING) -> str:
    return _value(table, section, key, (str,), "a string", default)


def _bool(table: dict[str, Any], section: str, key: str) -> bool:
    return _value(table, section, key, (bool,), "true or false", False)


def _server_section(table: dict[str, Any]) -> ServerConfig:
    url = _http_url(_str(table, "server", "url"), "server.url")
    channel = _str(table, "server", "channel")
    if not CHANNEL_RE.match(channel):
        raise ConfigError("server.channel", channel, "1-30 characters from a-z A-Z 0-9 _ -")
    socket_url = _str(table, "server", "socket_url", default="")
    return ServerConfig(
        url=url, channel=channel, socket_url=_http_url(socket_url, "server.socket_url") if socket_url else None
    )


def _http_url(value: str, key: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(key, value, "an http:// or https:// URL with a host and no query or fragment")
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ConfigError(key, value, "an http:// or https:// URL with a valid port") from None
    return value.rstrip("/")


def _account_section(table: dict[str, Any], env: dict[str, str], base_dir: Path, read_password: bool) -> AccountConfig:
    name = _str(table, "account", "name")
    if not NAME_RE.match(name):
        raise ConfigError("account.name", name, "1-20 characters from a-z A-Z 0-9 _ -")
    _check_password_source(table)
    password = _password(table, env, base_dir) if read_password else ""
    return AccountConfig(name=name, password=password)


def _check_password_source(table: dict[str, Any]) -> None:
    password_file = _str(table, "account", "password_file", default="")
    credential = _str(table, "account", "password_credential", default="")
    if password_file and credential:
        raise ConfigError("account.password_credential", credential, "not both password_file and password_credential")
    if credential and not CREDENTIAL_RE.match(credential):
        raise ConfigError("account.password_credential", credential, "a credential name (letters, digits, _ . @ -)")


def _password(table: dict[str, Any], env: dict[str, str], base_dir: Path) -> str:
    password_file = _str(table, "account", "password_file", default="")
    credential = _str(table, "account", "password_credential", default="")
    if password_file:
        return _read_secret(base_dir / password_file, "account.password_file", password_file)
    if credential:
        directory = env.get("CREDENTIALS_DIRECTORY", "")
        if not directory:
            raise ConfigError(
                "account.password_credential",
                credential,
                "a credential passed by systemd LoadCredential= ($CREDENTIALS_DIRECTORY is not set)",
            )
        return _read_secret(Path(directory) / credential, "account.password_credential", credential)
    return env.get(PASSWORD_ENV, "")


def _read_secret(path: Path, key: str, shown_value: str) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
        raise ConfigError(key, shown_value, f"a readable UTF-8 file holding the password ({path}: {reason})") from None
    # Files written by editors and `echo` end with a newline that is not part of the password.
    return text.rstrip("\r\n")


def _bot_section(table: dict[str, Any]) -> BotConfig:
    prefix = _str(table, "bot", "command_prefix", default="!")
    if not PREFIX_RE.match(prefix):
        raise ConfigError("bot.command_prefix", prefix, "1-8 non-space characters")
    listen = _str(table, "bot", "health_listen", default="127.0.0.1:8765")
    level = _str(table, "bot", "log_level", default="info")
    if level.lower() not in LOG_LEVELS:
        raise ConfigError("bot.log_level", level, f"one of {', '.join(LOG_LEVELS)}")
    return BotConfig(command_prefix=prefix, health_listen=parse_listen(listen), log_level=level.lower())


def parse_listen(value: str) -> HealthListen | None:
    """Parse "host:port" ("[v6]:port" for IPv6); "" disables the endpoint."""
    if value == "":
        return None
    expected = 'HOST:PORT (e.g. "127.0.0.1:8765", "[::1]:8765") or "" to disable'
    host, sep, port_text = value.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ConfigError("bot.health_listen", value, expected)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        if not _is_ip(host, version=6):
            raise ConfigError("bot.health_listen", value, expected)
    elif not (_is_ip(host, version=4) or HOSTNAME_RE.match(host)):
        raise ConfigError("bot.health_listen", value, expected)
    return HealthListen(host=host, port=int(port_text))


def _is_ip(text: str, version: int) -> bool:
    try:
        return ipaddress.ip_address(text).version == version
    except ValueError:
        return False


def _faults_section(table: dict[str, Any]) -> FaultConfig:
    delay = _value(table, "faults", "answer_delay_s", (int, float), "a number of seconds", 0.0)
    if not math.isfinite(delay) or not 0 <= delay <= MAX_ANSWER_DELAY_S:
        raise ConfigError("faults.answer_delay_s", delay, f"a number of seconds from 0 to {MAX_ANSWER_DELAY_S:g}")
    return FaultConfig(
        crash_at_start=_bool(table, "faults", "crash_at_start"),
        never_join=_bool(table, "faults", "never_join"),
        never_answer=_bool(table, "faults", "never_answer"),
        answer_delay_s=float(delay),
    )

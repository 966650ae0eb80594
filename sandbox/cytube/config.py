"""Configuration of the CyTube stand-in: a JSON file plus command-line overrides.

Every default is CyTube 3.86's template default, so a config file that only
sets addresses behaves like a stock server. ``limits`` may relax them for tests.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

CHANNEL_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,30}")
USERNAME_RE = re.compile(r"[A-Za-z0-9_-]{1,20}")

CHAT_BUFFER_SIZE = 15  # chat.js keeps the last 15 messages for replay
MAX_CHAT_LENGTH_CAP = 1000  # config.js caps max-chat-message-length at 1000
PING_INTERVAL_S = 25
PING_TIMEOUT_S = 120  # CyTube raises engine.io's 20 s default to 2 minutes
MAX_HTTP_BUFFER_SIZE = 1 << 20
DEFAULT_CHANNEL_RANK = 1  # CyTube's channel rank lookup answers 1 when no rank is stored
MAX_RANK = 255
ACCOUNT_HASH_ROUNDS = 10  # CyTube hashes account passwords with bcrypt cost 10


class ConfigError(ValueError):
    """The configuration file or an override is invalid."""


@dataclass(frozen=True)
class Limits:
    conn_burst: int = 5  # ioserver.js: TokenBucket(5, 0.1)
    conn_refill_per_s: float = 0.1
    ip_connection_limit: int = 10  # io.ip-connection-limit
    guest_login_delay_s: float = 60  # guest-login-delay
    max_chat_message_length: int = 320  # max-chat-message-length
    chat_burst: int = 20  # chat.js MIN_ANTIFLOOD
    chat_sustained: float = 10
    usercount_throttle_ms: int = 10000  # channel.js USERCOUNT_THROTTLE
    afk_timeout_s: float = 600  # channel option afk_timeout


@dataclass(frozen=True)
class Config:
    binds: tuple[str, ...] = ("127.0.0.1",)
    http_port: int = 8080
    io_port: int = 1337
    admin_bind: str = "127.0.0.1"
    admin_port: int = 8091
    # None: built from the first bind address and the actual socket.io port.
    advertised_io_url: str | None = None
    accounts_file: Path | None = None
    # Channels that behave as registered ones: names or shell-style patterns ("*" = all).
    registered_channels: tuple[str, ...] = ()
    # Stored channel ranks of accounts: channel -> lower-case account name -> rank
    # (an owner has 5, CyTube's rank for the channel's registrant).
    channel_ranks: dict[str, dict[str, float]] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)

    def is_registered(self, channel: str) -> bool:
        return any(fnmatch.fnmatchcase(channel, pattern) for pattern in self.registered_channels)

    def channel_rank(self, channel: str, account: str) -> float:
        """What CyTube's channel rank lookup answers for an account in a channel."""
        return self.channel_ranks.get(channel, {}).get(account.lower(), DEFAULT_CHANNEL_RANK)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def _as_port(value: Any, key: str) -> int:
    _require(
        isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 65535,
        f"{key} must be a port number 0-65535, got {value!r}",
    )
    return int(value)


def _as_address(value: Any, key: str) -> str:
    _require(isinstance(value, str), f"{key} entries must be strings, got {value!r}")
    try:
        ipaddress.ip_address(value)
    except ValueError as exc:
        raise ConfigError(f"{key}: {value!r} is not an IP address") from exc
    return str(value)


def _parse_limits(raw: Any) -> Limits:
    _require(isinstance(raw, dict), "limits must be an object")
    known = {f.name: f for f in fields(Limits)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        _require(key in known, f"unknown limits key {key!r}; known: {sorted(known)}")
        _require(
            isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0,
            f"limits.{key} must be a positive number, got {value!r}",
        )
        if known[key].type == "int":
            _require(float(value).is_integer(), f"limits.{key} must be a whole number, got {value!r}")
            values[key] = int(value)
        else:
            values[key] = float(value)
    limits = Limits(**values)
    if limits.max_chat_message_length > MAX_CHAT_LENGTH_CAP:
        limits = replace(limits, max_chat_message_length=MAX_CHAT_LENGTH_CAP)
    return limits


def _parse_channels(raw: Any) -> tuple[str, ...]:
    _require(
        isinstance(raw, list) and all(isinstance(n, str) for n in raw),
        "registered_channels must be a list of channel names",
    )
    return tuple(name.lower() for name in raw)


def _parse_channel_ranks(raw: Any) -> dict[str, dict[str, float]]:
    _require(isinstance(raw, dict), 'channel_ranks must be an object like {"chan": {"user": 2}}')
    parsed: dict[str, dict[str, float]] = {}
    for channel, ranks in raw.items():
        _require(
            CHANNEL_NAME_RE.fullmatch(channel) is not None,
            f"channel_ranks: {channel!r} is not a valid channel name (1-30 of a-z A-Z 0-9 _ -)",
        )
        _require(isinstance(ranks, dict), f"channel_ranks.{channel} must be an object of account name -> rank")
        parsed[channel.lower()] = {}
        for account, rank in ranks.items():
            _require(
                USERNAME_RE.fullmatch(account) is not None,
                f"channel_ranks.{channel}: {account!r} is not a valid account name (1-20 of a-z A-Z 0-9 _ -)",
            )
            _require(
                isinstance(rank, (int, float)) and not isinstance(rank, bool) and 0 <= rank <= MAX_RANK,
                f"channel_ranks.{channel}.{account} must be a rank from 0 to {MAX_RANK} (owner: 5), got {rank!r}",
            )
            parsed[channel.lower()][account.lower()] = rank
    return parsed


def from_mapping(raw: dict[str, Any], base_dir: Path) -> Config:
    """Build a Config from decoded JSON; relative paths are taken from ``base_dir``."""
    known = {f.name for f in fields(Config)}
    unknown = sorted(set(raw) - known)
    _require(not unknown, f"unknown config keys {unknown}; known: {sorted(known)}")
    config = Config()
    if "binds" in raw:
        binds = raw["binds"]
        _require(isinstance(binds, list) and len(binds) > 0, "binds must be a non-empty list")
        config = replace(config, binds=tuple(_as_address(b, "binds") for b in binds))
    for key in ("http_port", "io_port", "admin_port"):
        if key in raw:
            config = replace(config, **{key: _as_port(raw[key], key)})
    if "admin_bind" in raw:
        config = replace(config, admin_bind=_as_address(raw["admin_bind"], "admin_bind"))
    if raw.get("advertised_io_url") is not None:
        url = raw["advertised_io_url"]
        _require(
            isinstance(url, str) and url.startswith(("http://", "https://")), "advertised_io_url must be an http(s) URL"
        )
        config = replace(config, advertised_io_url=url)
    if raw.get("accounts_file") is not None:
        _require(isinstance(raw["accounts_file"], str), "accounts_file must be a path string")
        config = replace(config, accounts_file=base_dir / raw["accounts_file"])
    if "registered_channels" in raw:
        config = replace(config, registered_channels=_parse_channels(raw["registered_channels"]))
    if "limits" in raw:
        config = replace(config, limits=_parse_limits(raw["limits"]))
    if "channel_ranks" in raw:
        config = replace(config, channel_ranks=_parse_channel_ranks(raw["channel_ranks"]))
    return validate(config)


def validate(config: Config) -> Config:
    # Only a registered channel stores ranks; an unregistered one answers 1 for everyone.
    unregistered = sorted(name for name in config.channel_ranks if not config.is_registered(name))
    _require(
        not unregistered,
        f"channel_ranks names unregistered channels {unregistered}: add them to registered_channels",
    )
    # The admin API can switch faults and register accounts: never expose it off the host.
    _require(
        ipaddress.ip_address(config.admin_bind).is_loopback,
        f"admin_bind must be a loopback address, got {config.admin_bind}",
    )
    return config


def load(path: Path) -> Config:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"config {path} is not valid JSON: {exc}") from exc
    _require(isinstance(raw, dict), f"config {path} must hold a JSON object")
    return from_mapping(raw, path.parent)


def with_overrides(
    config: Config,
    *,
    http_port: int | None = None,
    io_port: int | None = None,
    admin_port: int | None = None,
    binds: list[str] | None = None,
    accounts_file: Path | None = None,
    advertised_io_url: str | None = None,
) -> Config:
    """Apply command-line overrides (None leaves a value as configured)."""
    changes: dict[str, Any] = {}
    for key, value in (("http_port", http_port), ("io_port", io_port), ("admin_port", admin_port)):
        if value is not None:
            changes[key] = _as_port(value, key)
    if binds:
        changes["binds"] = tuple(_as_address(b, "--bind") for b in binds)
    if accounts_file is not None:
        changes["accounts_file"] = accounts_file
    if advertised_io_url is not None:
        changes["advertised_io_url"] = advertised_io_url
    return validate(replace(config, **changes))

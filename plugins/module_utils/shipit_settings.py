# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inputs of a run (inventory and extra vars): one home for their rules and defaults.

``resolve_inputs`` checks every input a playbook needs, before anything is contacted or
changed, and returns the settings the roles receive (verification thresholds resolved from
the environment's profile, defaults filled in).  Every problem names the variable, its value
and the fix; all problems are reported at once.
"""

from __future__ import annotations

import os
import re
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple
from urllib.parse import urlsplit

from ansible_collections.cytube.shipit.plugins.module_utils.shipit_layout import (
    CHANNEL_RE,
    CHANNEL_RULE,
    DEFAULT_ROOT,
    RELEASE_ID_RE,
    USER_RE,
    USER_RULE,
)
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_lock import DEFAULT_LOCK_TTL, DEFAULT_LOCK_WAIT
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_ratelimit import DEFAULT_CONNECTION_WAIT_S
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_service import DEFAULT_ERROR_PATTERN

PURPOSES = ("deploy", "verify", "rollback")

#: Verification thresholds per environment profile. test: one pass. prod: a stricter reply
#: deadline and a stability window (the round trip repeated ``repeat`` times, ``interval``
#: seconds apart, on one connection, at most ``max_failures`` failed rounds), then the host is
#: checked again. ``ready_timeout``: how long a (re)started bot may take to become ready. ``connection_wait``: how
#: long a run may wait for CyTube's per-IP connection limit (runs on one controller share it and queue).
PROFILES: Dict[str, Dict[str, float]] = {
    "test": {
        "connect_timeout": 5,
        "reply_timeout": 5,
        "repeat": 1,
        "interval": 0,
        "max_failures": 0,
        "ready_timeout": 30,
        "connection_wait": DEFAULT_CONNECTION_WAIT_S,
    },
    "prod": {
        "connect_timeout": 5,
        "reply_timeout": 3,
        "repeat": 6,
        "interval": 10,
        "max_failures": 0,
        "ready_timeout": 30,
        "connection_wait": DEFAULT_CONNECTION_WAIT_S,
    },
}
DEFAULT_PROFILE = "test"
#: key -> (type, lowest allowed value, whether the lowest value itself is allowed)
THRESHOLDS: Dict[str, Tuple[type, float, bool]] = {
    "connect_timeout": (float, 0, False),
    "reply_timeout": (float, 0, False),
    "ready_timeout": (float, 0, False),
    "repeat": (int, 1, True),
    "interval": (float, 0, True),
    "max_failures": (int, 0, True),
    "connection_wait": (float, 0, True),
}
DEFAULT_KEEP_RELEASES = 5
#: Where a bot's health endpoint listens on its host (127.0.0.1), unless the channel sets shipit_health_port.
DEFAULT_HEALTH_PORT = 8765
ROLLBACK_WORDS = ("previous", "list")
SOURCE_HOWTO = (
    "give the bot to deploy as a wheel file (-e shipit_bot_source=dist/mybot-1.2.3-py3-none-any.whl), "
    "a pinned pip requirement (mybot==1.2.3) or a VCS URL (git+https://host/org/mybot.git@<commit>)"
)


#: The bot contract (docs/bots.md): how the password reaches the bot, where it runs, how it is verified.
PASSWORD_DELIVERIES = ("credential", "env", "config")
DEFAULT_PASSWORD_DELIVERY = "credential"
DEFAULT_PASSWORD_ENV = "CYTUBE_BOT_PASSWORD"
WORKDIRS = ("shared", "release")
DEFAULT_WORKDIR = "shared"
DEFAULT_CONFIG_NAME = "config.toml"
CONFIG_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
#: Variables the unit or the launcher set themselves: a password there would be lost or break the bot.
RESERVED_ENV_NAMES = frozenset(("PATH", "HOME", "USER", "LANG", "CREDENTIALS_DIRECTORY", "INVOCATION_ID", "PWD"))
DEFAULT_SETTLE = 2.0
VERIFY_MODES = ("command", "pm", "presence")
#: CyTube's ranks run from -1 (anonymous) to 255 (site admin); 2 is a channel moderator.
MAX_RANK = 255
DEFAULT_VERIFY_COMMAND = "!ping"
DEFAULT_VERIFY_EXPECT = r"^pong (?P<version>\S+) {token}$"
EXPECT_VERSION_WORDS = ("auto", "none")
TOKEN_PLACEHOLDER = "{token}"
SAMPLE_TOKEN = "0123abcd45"


class Inputs:
    """Collects problems while reading raw values."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw
        self.problems: List[str] = []

    def get(self, name: str) -> Any:
        value = self.raw.get(name)
        return None if value is None or (isinstance(value, str) and value.strip() == "") else value

    def problem(self, text: str) -> None:
        self.problems.append(text)

    def text(self, name: str, default: str) -> str:
        """A string input (a number given for it is taken as its text)."""
        value = self.get(name)
        if value is None:
            return default
        if isinstance(value, (list, dict, bool)):
            self.problem("shipit_%s %r is not a string" % (name, value))
            return default
        return str(value)

    def number(self, name: str, default: float, cast: Callable[[Any], Any], minimum: float, rule: str) -> Any:
        value = self.get(name)
        if value is None:
            return default
        try:
            number = cast(str(value).strip()) if isinstance(value, str) else cast(value)
        except (TypeError, ValueError):
            number = None
        if number is None or isinstance(value, bool) or number < minimum:
            self.problem("shipit_%s %r is not valid: %s" % (name, value, rule))
            return default
        return number


def _shown(value: Any) -> str:
    return "(not set)" if value is None else repr(value)


# --------------------------------------------------------------------------- single inputs


def check_channel(inputs: Inputs) -> str:
    channel = inputs.get("channel")
    if not isinstance(channel, str) or not CHANNEL_RE.match(channel):
        inputs.problem(
            "shipit_channel %s is not a CyTube channel name: use %s (the part after /r/ in its address); "
            "set it in the inventory or with -e shipit_channel=NAME" % (_shown(channel), CHANNEL_RULE)
        )
        return channel if isinstance(channel, str) else ""
    known = inputs.get("channels")
    if isinstance(known, (Mapping, list)) and known and channel not in known:
        inputs.problem(
            "shipit_channel %r is not one of the channels of this inventory (%s); pick one with -e shipit_channel=NAME"
            % (channel, ", ".join(sorted(known)))
        )
    return channel


def check_server_url(inputs: Inputs) -> Optional[str]:
    url = inputs.get("server_url")
    if not isinstance(url, str) or not re.match(r"^https?://[^/?#\s]+(/[^?#\s]*)?$", url):
        inputs.problem(
            "shipit_server_url %s is not a web address: use CyTube's address, e.g. https://cytu.be" % _shown(url)
        )
        return None
    if urlsplit(url).username is not None or "@" in urlsplit(url).netloc:
        inputs.problem(
            "shipit_server_url has credentials in it (user:password@): they would be printed, written to the bot's "
            "config and logged; CyTube needs none in its address, so use just https://host"
        )
        return None
    return url.rstrip("/")


def check_user(inputs: Inputs, name: str) -> Optional[str]:
    value = inputs.get(name)
    if not isinstance(value, str) or not USER_RE.match(value):
        inputs.problem("shipit_%s %s is not a CyTube user name (%s)" % (name, _shown(value), USER_RULE))
        return None
    return value


def check_secret(inputs: Inputs, name: str, env_name: str) -> None:
    value = inputs.raw.get(name)
    if not isinstance(value, str) or value == "":
        inputs.problem(
            "the %s (shipit_%s) is %s: export %s or set vault_shipit_%s in an Ansible Vault file "
            "(see docs/operating.md); never commit it"
            % (name.replace("_", " "), name, "empty" if value == "" else "missing", env_name, name)
        )


def check_bot_source(inputs: Inputs, base_dir: str) -> Optional[str]:
    source = inputs.get("bot_source")
    if not isinstance(source, str):
        inputs.problem("shipit_bot_source is not set: " + SOURCE_HOWTO)
        return None
    path = os.path.join(base_dir, os.path.expanduser(source.strip()))
    if os.path.isdir(path):
        inputs.problem(
            "shipit_bot_source %r is a directory: a deploy needs a built, versioned bot; build a wheel from it "
            "(python -m build --wheel %s) and give that file" % (source, source)
        )
        return None
    return source.strip()


def _port(value: Any) -> Optional[int]:
    try:
        port = int(str(value).strip())
    except ValueError:
        return None
    return port if not isinstance(value, bool) and 1 <= port <= 65535 else None


def check_health_port(inputs: Inputs, channel: str) -> int:
    """``shipit_health_port`` (default DEFAULT_HEALTH_PORT), unique among the inventory's channels."""
    value = inputs.get("health_port")
    if value is None:
        return DEFAULT_HEALTH_PORT
    port = _port(value)
    if port is None:
        inputs.problem("shipit_health_port %r is not a port number (1-65535)" % (value,))
        return DEFAULT_HEALTH_PORT
    check_health_port_unique(inputs, channel, port)
    return port


def check_health_port_unique(inputs: Inputs, channel: str, port: int) -> None:
    """The channels of an inventory share its bot hosts: two bots on one port cannot both listen, and the
    health check of one would read the other's answer."""
    known = inputs.get("channels")
    if not isinstance(known, Mapping):
        return
    others = sorted(
        str(name)
        for name, entry in known.items()
        if name != channel and isinstance(entry, Mapping) and _port(entry.get("health_port")) == port
    )
    if others:
        inputs.problem(
            "shipit_health_port %d of channel %s is also the health port of channel %s (shipit_channels): bots of "
            "one host cannot share a port (the second cannot listen, and its health check would read the first "
            "bot's answer); give each channel its own health_port in shipit_channels"
            % (port, channel, ", ".join(others))
        )


def resolve_health_url(bot_health_url: Optional[str], port: int) -> str:
    """The bot's health endpoint on its host: shipit_bot_health_url, else derived from the port ('' = none)."""
    if bot_health_url is not None:
        return bot_health_url
    return "http://127.0.0.1:%d/health" % port


def resolve_verify_settings(inputs: Inputs) -> Dict[str, float]:
    profile = inputs.get("verify_profile") or DEFAULT_PROFILE
    if profile not in PROFILES:
        inputs.problem("shipit_verify_profile %r is not a profile: use %s" % (profile, " or ".join(PROFILES)))
        profile = DEFAULT_PROFILE
    settings: Dict[str, float] = dict(PROFILES[profile])
    overrides = inputs.raw.get("verify_overrides") or {}
    if not isinstance(overrides, Mapping):
        inputs.problem("shipit_verify_overrides %r is not a mapping, e.g. {reply_timeout: 2}" % (overrides,))
        return settings
    for key, value in overrides.items():
        settings[key] = _threshold(inputs, key, value, settings.get(key))
    if settings["max_failures"] >= settings["repeat"] and settings["repeat"] > 1:
        inputs.problem(
            "shipit_verify_overrides max_failures %s must be smaller than repeat %s (else every round may fail)"
            % (settings["max_failures"], settings["repeat"])
        )
    settings["profile"] = profile  # type: ignore[assignment]
    return settings


def _threshold(inputs: Inputs, key: str, value: Any, fallback: Any) -> Any:
    if key not in THRESHOLDS:
        inputs.problem("shipit_verify_overrides has an unknown key %r: use %s" % (key, ", ".join(sorted(THRESHOLDS))))
        return fallback
    cast, lowest, inclusive = THRESHOLDS[key]
    try:
        number = cast(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        number = None
    if number is None or number < lowest or (number == lowest and not inclusive):
        inputs.problem(
            "shipit_verify_overrides %s %r is not valid: a number %s %s"
            % (key, value, ">=" if inclusive else ">", lowest)
        )
        return fallback
    return number


def check_rollback(inputs: Inputs) -> Dict[str, Any]:
    target = str(inputs.get("rollback_to") or "previous")
    if target not in ROLLBACK_WORDS and not RELEASE_ID_RE.match(target):
        inputs.problem(
            "rollback_to %r is not a release id: use -e rollback_to=previous (the default), "
            "-e rollback_to=list to see the releases, or a release id from that list" % target
        )
    return {
        "to": target,
        "emergency": _flag(inputs, "rollback_emergency"),
        "force": _flag(inputs, "rollback_force"),
    }


def _flag(inputs: Inputs, name: str) -> bool:
    value = inputs.raw.get(name)
    if value is None or isinstance(value, bool):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("", "0", "false", "no", "off"):
        return False
    inputs.problem("%s %r is not a boolean: use true or false" % (name, value))
    return False


def check_root(inputs: Inputs) -> str:
    root = inputs.get("root") or DEFAULT_ROOT
    if not isinstance(root, str) or not os.path.isabs(root):
        inputs.problem("shipit_root %r must be an absolute path, e.g. %s" % (root, DEFAULT_ROOT))
        return DEFAULT_ROOT
    return os.path.normpath(root)


# --------------------------------------------------------------------------- the bot contract


def check_config_name(inputs: Inputs) -> str:
    name = inputs.text("bot_config_name", DEFAULT_CONFIG_NAME)
    if not CONFIG_NAME_RE.match(name) or name in (".", ".."):
        inputs.problem(
            "shipit_bot_config_name %r is not a plain file name: use letters, digits, '.', '_' and '-', "
            "e.g. config.json" % name
        )
        return DEFAULT_CONFIG_NAME
    return name


def check_password_delivery(inputs: Inputs) -> str:
    delivery = inputs.text("bot_password_delivery", DEFAULT_PASSWORD_DELIVERY)
    if delivery not in PASSWORD_DELIVERIES:
        inputs.problem(
            "shipit_bot_password_delivery %r is not a way to deliver the password: use credential (a 0600 "
            "systemd credential file), env (an environment variable) or config (the rendered config is the "
            "secret)" % delivery
        )
        return DEFAULT_PASSWORD_DELIVERY
    return delivery


def check_password_env(inputs: Inputs) -> str:
    name = inputs.text("bot_password_env", DEFAULT_PASSWORD_ENV)
    if not ENV_NAME_RE.match(name) or name in RESERVED_ENV_NAMES:
        inputs.problem(
            "shipit_bot_password_env %r is not a usable environment variable name: use letters, digits and '_' "
            "(not starting with a digit), other than %s; e.g. %s"
            % (name, ", ".join(sorted(RESERVED_ENV_NAMES)), DEFAULT_PASSWORD_ENV)
        )
        return DEFAULT_PASSWORD_ENV
    return name


def check_workdir(inputs: Inputs) -> str:
    workdir = inputs.text("bot_workdir", DEFAULT_WORKDIR)
    if workdir not in WORKDIRS:
        # The unit is shared by every channel of a host and lets the bot write to shared/ only.
        inputs.problem(
            "shipit_bot_workdir %r is not a working directory: use shared (the channel's shared/ directory, "
            "writable and kept across releases; the default) or release (the read-only release)" % workdir
        )
        return DEFAULT_WORKDIR
    return workdir


def check_args_list(inputs: Inputs, delivery: str) -> Optional[List[str]]:
    """``shipit_bot_check_args``: None when not set (the role's default, the reference bot's)."""
    value = inputs.raw.get("bot_check_args")
    if value is None:
        args = None
    elif isinstance(value, list) and all(isinstance(a, (str, int, float)) and not isinstance(a, bool) for a in value):
        args = [str(a) for a in value]
    else:
        inputs.problem(
            "shipit_bot_check_args %r is not a list of arguments: give e.g. ['--check-config'], or [] when the bot "
            "has no config check" % (value,)
        )
        return None
    if delivery == "config" and args != []:
        inputs.problem(
            "shipit_bot_check_args %s: with shipit_bot_password_delivery config the config holds the password and "
            "is not in the release, so it cannot be checked at build time; set shipit_bot_check_args: []"
            % ("is not set (default ['--check-config'])" if args is None else repr(args))
        )
    return args


def check_health_url(inputs: Inputs) -> Optional[str]:
    """``shipit_bot_health_url``: None when not set (derived from shipit_health_port), '' for none."""
    value = inputs.raw.get("bot_health_url")
    if value is None:
        return None
    if isinstance(value, str) and value.strip() == "":
        return ""
    if not isinstance(value, str) or not re.match(r"^https?://[^/?#\s]+(/\S*)?$", value):
        inputs.problem(
            "shipit_bot_health_url %r is not a web address: give the bot's health endpoint on its host, e.g. "
            "http://127.0.0.1:8765/health, or '' when the bot has none" % (value,)
        )
        return None
    return value


def _compiles(inputs: Inputs, name: str, value: str, compiled: str, hint: str) -> bool:
    """Whether ``compiled`` (``value`` as it will be used) is a regular expression; else a problem naming ``value``."""
    try:
        re.compile(compiled)
    except re.error as exc:
        inputs.problem("shipit_%s %r is not a valid regular expression (%s)%s" % (name, value, exc, hint))
        return False
    return True


def journal_pattern(error_pattern: Optional[str], ignore_pattern: Optional[str]) -> str:
    """One regular expression for the host checks: lines matching ``error_pattern`` (default: the
    collection's) count as errors unless they match ``ignore_pattern``.

    ``^`` in either pattern keeps meaning "start of the line": both are tried from the line's start.
    """
    errors = error_pattern or DEFAULT_ERROR_PATTERN
    if not ignore_pattern:
        return errors
    return r"^(?!.*?(?:%s)).*?(?:%s)" % (ignore_pattern, errors)


def check_journal_patterns(inputs: Inputs) -> str:
    hint = "; inline flags such as (?i) are not allowed here, use [Ee]rror"
    error = inputs.text("bot_journal_error_pattern", "")
    ignore = inputs.text("bot_journal_ignore_pattern", "")
    ok = True
    for name, pattern in (("bot_journal_error_pattern", error), ("bot_journal_ignore_pattern", ignore)):
        # Wrapped as it is combined, so that "a)|(b" cannot pass alone and break the combination.
        if pattern and not _compiles(inputs, name, pattern, "^(?:%s)" % pattern, hint):
            ok = False
    return journal_pattern(error or None, ignore or None) if ok else DEFAULT_ERROR_PATTERN


def resolve_bot_settings(inputs: Inputs) -> Dict[str, Any]:
    """How the bot is configured and run on its host (docs/bots.md, settings)."""
    delivery = check_password_delivery(inputs)
    return {
        "config_name": check_config_name(inputs),
        "password_delivery": delivery,
        "password_env": check_password_env(inputs),
        "workdir": check_workdir(inputs),
        "check_args": check_args_list(inputs, delivery),
        "health_url": check_health_url(inputs),
        "settle": inputs.number("bot_settle", DEFAULT_SETTLE, float, 0, "seconds, a number >= 0"),
        "journal_pattern": check_journal_patterns(inputs),
    }


def resolve_check_settings(inputs: Inputs) -> Dict[str, Any]:
    """What the probe does and expects (docs/bots.md, "How a bot is verified")."""
    mode = inputs.text("verify_mode", "command")
    if mode not in VERIFY_MODES:
        inputs.problem(
            "shipit_verify_mode %r is not a verification mode: use command (say shipit_verify_command in public "
            "chat, match the reply with shipit_verify_expect), pm (send it as a private message, match the private "
            "reply) or presence (no message: the bot must be in the user list for the window)" % mode
        )
        mode = "command"
    probe_rank = inputs.number(
        "verify_probe_rank",
        0,
        float,
        0,
        "a CyTube rank from 0 to %d, e.g. 2 for a bot that answers moderators" % MAX_RANK,
    )
    if probe_rank > MAX_RANK:
        inputs.problem("shipit_verify_probe_rank %r is not valid: a CyTube rank from 0 to %d" % (probe_rank, MAX_RANK))
        probe_rank = 0
    if mode == "presence":
        return check_presence_settings(inputs, probe_rank)
    settings = resolve_reply_settings(inputs)
    settings.update(mode=mode, probe_rank=probe_rank)
    return settings


def check_presence_settings(inputs: Inputs, probe_rank: float) -> Dict[str, Any]:
    """Presence sends no message: a command, a reply pattern or a version to compare is a mistake."""
    version = inputs.text("verify_expect_version", "auto").strip()
    given = [name for name in ("verify_command", "verify_expect") if inputs.get(name) is not None]
    if version not in EXPECT_VERSION_WORDS:
        given.append("verify_expect_version")
    for name in given:
        inputs.problem(
            "shipit_%s %r is set but shipit_verify_mode presence sends no message and reads no reply: remove it "
            "(for this channel), or use shipit_verify_mode command or pm" % (name, inputs.get(name))
        )
    return {"mode": "presence", "probe_rank": probe_rank, "command": "", "expect": "", "expect_version": "none"}


def resolve_reply_settings(inputs: Inputs) -> Dict[str, Any]:
    """The command and the reply it must get (modes command and pm)."""
    command = inputs.text("verify_command", DEFAULT_VERIFY_COMMAND).strip()
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in command):
        inputs.problem("shipit_verify_command %r contains control characters, which CyTube replaces" % command)
    expect = inputs.text("verify_expect", DEFAULT_VERIFY_EXPECT)
    has_version = False
    sample = expect.replace(TOKEN_PLACEHOLDER, SAMPLE_TOKEN)
    if _compiles(inputs, "verify_expect", expect, sample, "; {token} stands for the token"):
        has_version = "version" in re.compile(sample).groupindex
    version = inputs.text("verify_expect_version", "auto").strip()
    if version not in EXPECT_VERSION_WORDS and not has_version:
        inputs.problem(
            "shipit_verify_expect_version %r needs a (?P<version>...) group in shipit_verify_expect %r to compare "
            "with; add one, or use none when the bot does not say its version" % (version, expect)
        )
    return {
        "command": command,
        "expect": expect,
        # auto: the deployed release's version, compared only when the reply says one.
        "expect_version": version if has_version else "none",
    }


# --------------------------------------------------------------------------- all of them


def resolve_inputs(purpose: str, raw: Mapping[str, Any], base_dir: str = ".") -> Tuple[Dict[str, Any], List[str]]:
    """``(settings, problems)`` for a run of ``purpose`` (deploy, verify or rollback)."""
    inputs = Inputs(raw)
    rollback = check_rollback(inputs) if purpose == "rollback" else {"to": None, "emergency": False, "force": False}
    listing = rollback["to"] == "list"
    probe_needed = not (purpose == "rollback" and (rollback["emergency"] or listing))
    settings: Dict[str, Any] = {
        "purpose": purpose,
        "channel": check_channel(inputs),
        "root": check_root(inputs),
        "environment": str(inputs.get("environment") or ""),
        "rollback": rollback,
        "keep_releases": inputs.number(
            "keep_releases", DEFAULT_KEEP_RELEASES, int, 0, "a whole number >= 0 (0 keeps every release)"
        ),
        "lock_wait": inputs.number(
            "lock_wait", DEFAULT_LOCK_WAIT, float, 0, "seconds to wait for the lock, a number >= 0"
        ),
        "lock_ttl": inputs.number(
            "lock_ttl", DEFAULT_LOCK_TTL, int, 1, "seconds, a whole number >= 1, above the longest deploy"
        ),
    }
    if listing:
        return settings, inputs.problems
    settings["server_url"] = check_server_url(inputs)
    settings["bot_name"] = check_user(inputs, "bot_name")
    settings["health_port"] = check_health_port(inputs, settings["channel"])
    settings["verify"] = resolve_verify_settings(inputs)
    settings["bot"] = resolve_bot_settings(inputs)
    settings["health_url"] = resolve_health_url(settings["bot"]["health_url"], settings["health_port"])
    settings["verify"].update(resolve_check_settings(inputs))
    settings["verify"]["journal_pattern"] = settings["bot"]["journal_pattern"]
    if probe_needed:
        settings["probe_user"] = check_user(inputs, "probe_user")
        check_secret(inputs, "probe_password", "SHIPIT_PROBE_PASSWORD")
        if (
            settings["probe_user"]
            and settings["bot_name"]
            and settings["probe_user"].lower() == settings["bot_name"].lower()
        ):
            inputs.problem(
                "shipit_probe_user is the bot's own account %s: the probe would kick the bot; "
                "use a separate probe account" % settings["bot_name"]
            )
    if purpose == "deploy":
        check_secret(inputs, "bot_password", "SHIPIT_BOT_PASSWORD")
        settings["bot_source"] = check_bot_source(inputs, base_dir)
    return settings, inputs.problems

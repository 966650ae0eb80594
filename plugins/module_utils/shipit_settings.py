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
)
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_lock import DEFAULT_LOCK_TTL, DEFAULT_LOCK_WAIT

PURPOSES = ("deploy", "verify", "rollback")
USER_RE = re.compile(r"^[\w-]{1,20}$", re.ASCII)
USER_RULE = "1-20 characters from a-z, A-Z, 0-9, '-' and '_'"

#: Verification thresholds per environment profile. test: one pass. prod: a stricter reply
#: deadline and a stability window (the round trip repeated ``repeat`` times, ``interval``
#: seconds apart, on one connection, at most ``max_failures`` failed rounds), then the host is
#: checked again. ``ready_timeout``: how long a (re)started bot may take to become ready.
PROFILES: Dict[str, Dict[str, float]] = {
    "test": {
        "connect_timeout": 5,
        "reply_timeout": 5,
        "repeat": 1,
        "interval": 0,
        "max_failures": 0,
        "ready_timeout": 30,
    },
    "prod": {
        "connect_timeout": 5,
        "reply_timeout": 3,
        "repeat": 6,
        "interval": 10,
        "max_failures": 0,
        "ready_timeout": 30,
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
}
DEFAULT_KEEP_RELEASES = 5
ROLLBACK_WORDS = ("previous", "list")
SOURCE_HOWTO = (
    "give the bot to deploy as a wheel file (-e shipit_bot_source=dist/mybot-1.2.3-py3-none-any.whl), "
    "a pinned pip requirement (mybot==1.2.3) or a VCS URL (git+https://host/org/mybot.git@<commit>)"
)


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


def check_health_port(inputs: Inputs) -> Optional[int]:
    value = inputs.get("health_port")
    if value is None:
        return None
    try:
        port = int(str(value))
    except ValueError:
        port = 0
    if isinstance(value, bool) or not 1 <= port <= 65535:
        inputs.problem("shipit_health_port %r is not a port number (1-65535)" % (value,))
        return None
    return port


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
    settings["health_port"] = check_health_port(inputs)
    settings["verify"] = resolve_verify_settings(inputs)
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

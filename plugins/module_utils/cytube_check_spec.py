# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options of ``cytube.shipit.cytube_check`` and their validation.

Validation runs before anything touches the network. Every message names the
option, the bad value and what to do about it.
"""

from __future__ import annotations

import ipaddress
import os
import re
from typing import Any, Dict, List, Mapping

from ansible_collections.cytube.shipit.plugins.module_utils.cytube_client import (
    MAX_CHAT_LENGTH,
    check_server_url,
    same_name,
    valid_channel_name,
    valid_user_name,
)
from ansible_collections.cytube.shipit.plugins.module_utils.cytube_probe import (
    DEFAULT_COMMAND,
    DEFAULT_EXPECT,
    INCONCLUSIVE,
    MODES,
    PRESENCE_MODE,
    SAMPLE_TOKEN,
    UNHEALTHY,
    ProbeConfig,
    build_expect_pattern,
)
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_layout import CHANNEL_RULE, USER_RULE

#: the longest token the probe generates (12 hex characters) plus the space
_TOKEN_ROOM = 13

ARGUMENT_SPEC: Dict[str, Dict[str, Any]] = {
    "server_url": {"type": "str", "required": True},
    "channel": {"type": "str", "required": True},
    "channel_password": {"type": "str", "no_log": True},
    "bot_name": {"type": "str", "required": True},
    "probe_user": {"type": "str", "required": True},
    "probe_password": {"type": "str", "required": True, "no_log": True},
    # No defaults for command and expect: presence mode must tell "not given" apart (documented defaults apply).
    "mode": {"type": "str", "default": "command", "choices": list(MODES)},
    "command": {"type": "str"},
    "expect": {"type": "str"},
    "probe_rank": {"type": "float", "default": 0.0},
    "expect_version": {"type": "str"},
    "connect_timeout": {"type": "float", "default": 5.0},
    "reply_timeout": {"type": "float", "default": 5.0},
    "repeat": {"type": "int", "default": 1},
    "interval": {"type": "float", "default": 10.0},
    "max_failures": {"type": "int", "default": 0},
    "validate_certs": {"type": "bool", "default": True},
    "ca_path": {"type": "path"},
    "fail_on": {"type": "list", "elements": "str", "default": [], "choices": [UNHEALTHY, INCONCLUSIVE]},
    "forwarded_for": {"type": "str"},
}


def argument_spec() -> Dict[str, Dict[str, Any]]:
    """A fresh copy of the module's argument spec."""
    return {name: dict(spec) for name, spec in ARGUMENT_SPEC.items()}


def validate(params: Mapping[str, Any]) -> List[str]:
    """Problems with ``params`` (already type-converted by AnsibleModule); [] when fine."""
    errors: List[str] = []

    problem = check_server_url(params.get("server_url") or "")
    if problem:
        errors.append("server_url %r %s" % (params.get("server_url"), problem))

    channel = params.get("channel") or ""
    if not valid_channel_name(channel):
        errors.append(
            "channel %r is not a valid CyTube channel name: use %s (the part after /r/ in the "
            "channel's address)" % (channel, CHANNEL_RULE)
        )

    for option in ("bot_name", "probe_user"):
        value = params.get(option) or ""
        if not valid_user_name(value):
            errors.append("%s %r is not a valid CyTube user name: use %s" % (option, value, USER_RULE))
    if same_name(params.get("bot_name"), params.get("probe_user")):
        errors.append(
            "probe_user %r is the bot's own name: logging in with it would kick the bot "
            "(CyTube's duplicate login rule); use a separate probe account" % params.get("probe_user")
        )

    if params.get("mode") == PRESENCE_MODE:
        errors.extend(_presence_problems(params))
    errors.extend(_message_problems(params))
    errors.extend(_number_problems(params))
    errors.extend(_connection_problems(params))
    return errors


def _presence_problems(params: Mapping[str, Any]) -> List[str]:
    """Presence mode sends nothing: options about a reply are a mistake, named with the fix."""
    given = [option for option in ("command", "expect", "expect_version") if params.get(option) is not None]
    if not given:
        return []
    return [
        "%s is set but mode presence sends no message and reads no reply: remove %s, or use mode command "
        "(public chat) or pm (a private message)" % (" and ".join(given), " and ".join(given))
    ]


def _message_problems(params: Mapping[str, Any]) -> List[str]:
    """The command, the reply pattern and the expected version (command and pm modes)."""
    errors: List[str] = []
    if params.get("mode") == PRESENCE_MODE:
        return errors
    command = params.get("command")
    if command is None:
        command = DEFAULT_COMMAND
    if not command.strip():
        errors.append("command %r is empty: give the chat command the bot answers, e.g. '!ping'" % command)
    else:
        if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in command):
            errors.append("command %r contains control characters, which CyTube replaces with spaces" % command)
        if len(command) + _TOKEN_ROOM > MAX_CHAT_LENGTH:
            errors.append(
                "command is %d characters long: with the probe token it must fit CyTube's %d-character "
                "chat limit (at most %d)" % (len(command), MAX_CHAT_LENGTH, MAX_CHAT_LENGTH - _TOKEN_ROOM)
            )

    expect = params.get("expect")
    if expect is None:
        expect = DEFAULT_EXPECT
    compiled = None
    if expect == "":
        errors.append("expect is empty: give a regular expression for the reply, e.g. %r" % DEFAULT_EXPECT)
    else:
        try:
            compiled = build_expect_pattern(expect, SAMPLE_TOKEN)
        except re.error as exc:
            errors.append(
                "expect %r is not a valid regular expression (%s); '{token}' stands for the probe token" % (expect, exc)
            )
    if params.get("expect_version") is not None:
        if params.get("expect_version") == "":
            errors.append("expect_version is empty: give the version the bot must report, or omit it")
        elif compiled is not None and "version" not in compiled.groupindex:
            errors.append(
                "expect_version is set but expect %r has no (?P<version>...) group to capture the version from" % expect
            )
    return errors


def _number_problems(params: Mapping[str, Any]) -> List[str]:
    errors: List[str] = []
    for option in ("connect_timeout", "reply_timeout"):
        value = params.get(option)
        if value is None or not value > 0:
            errors.append("%s %r must be a positive number of seconds, e.g. 5" % (option, value))
    repeat = params.get("repeat")
    if repeat is None or repeat < 1:
        errors.append("repeat %r must be 1 or more (1 = a single round trip, more = a stability window)" % repeat)
    interval = params.get("interval")
    if interval is None or interval < 0:
        errors.append("interval %r must be 0 or more seconds between the starts of two rounds" % interval)
    max_failures = params.get("max_failures")
    if max_failures is None or max_failures < 0:
        errors.append("max_failures %r must be 0 or more" % max_failures)
    elif repeat is not None and repeat >= 1 and max_failures >= repeat:
        errors.append(
            "max_failures %r must be smaller than repeat %r, or no window could ever fail" % (max_failures, repeat)
        )
    probe_rank = params.get("probe_rank")
    if probe_rank is not None and not 0 <= probe_rank <= 255:
        errors.append(
            "probe_rank %r is not a CyTube rank: use 0 (any) up to 255, e.g. 2 for a bot that answers "
            "channel moderators only" % probe_rank
        )
    return errors


def _connection_problems(params: Mapping[str, Any]) -> List[str]:
    errors: List[str] = []
    ca_path = params.get("ca_path")
    if ca_path and not os.path.isfile(ca_path):
        errors.append("ca_path %r is not a file: give a PEM bundle of CA certificates" % ca_path)

    forwarded_for = params.get("forwarded_for")
    if forwarded_for:
        try:
            ipaddress.ip_address(forwarded_for)
        except ValueError:
            errors.append(
                "forwarded_for %r is not an IP address (it is sent as X-Forwarded-For, for local "
                "testing only)" % forwarded_for
            )
    return errors


def to_config(params: Mapping[str, Any]) -> ProbeConfig:
    """A :class:`ProbeConfig` from validated module parameters."""
    return ProbeConfig(
        server_url=params["server_url"].strip(),
        channel=params["channel"],
        bot_name=params["bot_name"],
        probe_user=params["probe_user"],
        probe_password=params.get("probe_password") or "",
        channel_password=params.get("channel_password") or None,
        mode=params.get("mode") or "command",
        probe_rank=float(params.get("probe_rank") or 0.0),
        command=params.get("command") or DEFAULT_COMMAND,
        expect=params.get("expect") or DEFAULT_EXPECT,
        expect_version=params.get("expect_version"),
        connect_timeout=float(params.get("connect_timeout") or 5.0),
        reply_timeout=float(params.get("reply_timeout") or 5.0),
        repeat=int(params.get("repeat") or 1),
        interval=float(params["interval"]) if params.get("interval") is not None else 10.0,
        max_failures=int(params.get("max_failures") or 0),
        validate_certs=bool(params.get("validate_certs", True)),
        ca_path=params.get("ca_path"),
        forwarded_for=params.get("forwarded_for") or None,
    )

"""The inputs of a run: every problem named with its value and the fix, settings resolved from one home."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_layout import DEFAULT_ROOT
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_service import DEFAULT_ERROR_PATTERN, journal_errors
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_settings import (
    PROFILES,
    journal_pattern,
    resolve_inputs,
)

SECRET = "p4ssw0rd-never-shown"


def raw(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "channel": "shipit-sandbox",
        "server_url": "https://cytu.be",
        "bot_name": "shipbot",
        "bot_password": SECRET,
        "probe_user": "shipprobe",
        "probe_password": SECRET,
        "bot_source": "mybot==1.2.3",
    }
    base.update(extra)
    return base


def test_good_inputs_resolve_defaults_from_one_home() -> None:
    settings, problems = resolve_inputs("deploy", raw())
    assert problems == []
    assert settings["root"] == DEFAULT_ROOT
    assert settings["keep_releases"] == 5 and settings["lock_wait"] == 120 and settings["lock_ttl"] == 1800
    assert {k: settings["verify"][k] for k in PROFILES["test"]} == PROFILES["test"]
    assert settings["verify"]["profile"] == "test"


def test_the_wait_for_cytubes_connection_limit_is_a_setting() -> None:
    settings, problems = resolve_inputs("deploy", raw())
    assert problems == [] and settings["verify"]["connection_wait"] == 60
    settings, problems = resolve_inputs("deploy", raw(verify_overrides={"connection_wait": 300}))
    assert problems == [] and settings["verify"]["connection_wait"] == 300


def test_prod_profile_with_overrides() -> None:
    settings, problems = resolve_inputs("verify", raw(verify_profile="prod", verify_overrides={"reply_timeout": 2}))
    assert problems == []
    assert settings["verify"]["repeat"] == PROFILES["prod"]["repeat"] and settings["verify"]["reply_timeout"] == 2


@pytest.mark.parametrize(
    "extra, expected",
    [
        ({"channel": "bad name!"}, "shipit_channel 'bad name!' is not a CyTube channel name"),
        ({"channel": None}, "shipit_channel (not set)"),
        ({"server_url": "cytu.be"}, "shipit_server_url 'cytu.be' is not a web address"),
        ({"server_url": "https://u:pw@cytu.be"}, "has credentials in it"),
        ({"probe_password": ""}, "the probe password (shipit_probe_password) is empty"),
        ({"probe_password": None}, "the probe password (shipit_probe_password) is missing"),
        ({"bot_password": None}, "export SHIPIT_BOT_PASSWORD"),
        ({"probe_user": "ShipBot"}, "the probe would kick the bot"),
        ({"keep_releases": -1}, "shipit_keep_releases -1 is not valid: a whole number >= 0 (0 keeps every release)"),
        ({"lock_wait": -5}, "shipit_lock_wait -5 is not valid"),
        ({"lock_ttl": "abc"}, "shipit_lock_ttl 'abc' is not valid"),
        ({"health_port": 70000}, "shipit_health_port 70000 is not a port number"),
        ({"verify_profile": "staging"}, "shipit_verify_profile 'staging' is not a profile"),
        ({"verify_overrides": {"reply_timeut": 2}}, "unknown key 'reply_timeut'"),
        ({"verify_overrides": {"reply_timeout": 0}}, "reply_timeout 0 is not valid"),
        ({"verify_overrides": {"connection_wait": -1}}, "connection_wait -1 is not valid: a number >= 0"),
        ({"verify_overrides": {"repeat": 3, "max_failures": 3}}, "max_failures 3 must be smaller than repeat 3"),
        ({"bot_source": None}, "shipit_bot_source is not set"),
        ({"root": "srv/bots"}, "shipit_root 'srv/bots' must be an absolute path"),
        ({"bot_config_name": "../config.json"}, "shipit_bot_config_name '../config.json' is not a plain file name"),
        ({"bot_password_delivery": "file"}, "shipit_bot_password_delivery 'file' is not a way to deliver"),
        ({"bot_password_env": "PATH"}, "shipit_bot_password_env 'PATH' is not a usable environment variable name"),
        ({"bot_password_env": "1PW"}, "shipit_bot_password_env '1PW'"),
        ({"bot_workdir": "data"}, "shipit_bot_workdir 'data' is not a working directory: use shared"),
        ({"bot_workdir": "/var/lib/bot"}, "shipit_bot_workdir '/var/lib/bot' is not a working directory"),
        ({"bot_check_args": "--check"}, "shipit_bot_check_args '--check' is not a list of arguments"),
        ({"bot_password_delivery": "config"}, "it cannot be checked at build time; set shipit_bot_check_args: []"),
        ({"bot_health_url": "localhost:8765"}, "shipit_bot_health_url 'localhost:8765' is not a web address"),
        ({"bot_settle": -1}, "shipit_bot_settle -1 is not valid"),
        ({"bot_journal_error_pattern": "ERROR("}, "shipit_bot_journal_error_pattern 'ERROR(' is not a valid regular"),
        ({"bot_journal_ignore_pattern": "(?i)chat"}, "inline flags such as (?i) are not allowed here"),
        ({"verify_mode": "ping"}, "shipit_verify_mode 'ping' is not a verification mode: use command"),
        (
            {"verify_mode": "presence", "verify_expect": "^ok"},
            "shipit_verify_expect '^ok' is set but shipit_verify_mode presence sends no message and reads no reply: "
            "remove it",
        ),
        (
            {"verify_mode": "presence", "verify_command": "!help"},
            "shipit_verify_command '!help' is set but shipit_verify_mode presence",
        ),
        (
            {"verify_mode": "presence", "verify_expect_version": "1.0"},
            "shipit_verify_expect_version '1.0' is set but shipit_verify_mode presence",
        ),
        ({"verify_probe_rank": -1}, "shipit_verify_probe_rank -1 is not valid: a CyTube rank from 0 to 255"),
        ({"verify_probe_rank": 300}, "shipit_verify_probe_rank 300.0 is not valid: a CyTube rank from 0 to 255"),
        (
            {
                "channels": {"shipit-sandbox": {"health_port": 8765}, "other": {"health_port": "8765"}},
                "health_port": 8765,
            },
            "shipit_health_port 8765 of channel shipit-sandbox is also the health port of channel other "
            "(shipit_channels): bots of one host cannot share a port",
        ),
        ({"verify_command": "!he\tlp"}, "shipit_verify_command '!he\\tlp' contains control characters"),
        ({"verify_expect": "^help ["}, "shipit_verify_expect '^help [' is not a valid regular expression"),
        (
            {"verify_expect": "^chatbot commands", "verify_expect_version": "1.0.0"},
            "shipit_verify_expect_version '1.0.0' needs a (?P<version>...) group",
        ),
    ],
)
def test_each_bad_input_is_named_with_its_value_and_fix(extra: dict[str, Any], expected: str) -> None:
    _settings, problems = resolve_inputs("deploy", raw(**extra))
    assert any(expected in problem for problem in problems), problems
    assert all(SECRET not in problem for problem in problems)


def test_a_directory_is_not_a_bot_source(tmp_path: Path) -> None:
    (tmp_path / "mybot").mkdir()
    _settings, problems = resolve_inputs("deploy", raw(bot_source="mybot"), base_dir=str(tmp_path))
    assert any("'mybot' is a directory" in problem and "build a wheel" in problem for problem in problems)


def test_rollback_needs_no_bot_password_and_emergency_no_probe() -> None:
    _s, problems = resolve_inputs("rollback", raw(bot_password=None))
    assert problems == []
    _s, problems = resolve_inputs("rollback", raw(probe_password=None, rollback_emergency="true"))
    assert problems == []
    _s, problems = resolve_inputs("rollback", raw(probe_password=None))
    assert any("shipit_probe_password" in problem for problem in problems)


def test_rollback_target_and_flags() -> None:
    settings, problems = resolve_inputs("rollback", raw(rollback_to="../etc"))
    assert any("rollback_to '../etc' is not a release id" in problem for problem in problems)
    settings, problems = resolve_inputs("rollback", raw(rollback_to="list", server_url=None))
    assert problems == [] and settings["rollback"]["to"] == "list"
    _s, problems = resolve_inputs("rollback", raw(rollback_force="maybe"))
    assert any("rollback_force 'maybe' is not a boolean" in problem for problem in problems)


def test_verify_needs_no_bot_password_or_source() -> None:
    _s, problems = resolve_inputs("verify", raw(bot_password=None, bot_source=None))
    assert problems == []


def test_the_channel_must_be_one_of_the_inventory() -> None:
    _s, problems = resolve_inputs("verify", raw(channel="other", channels={"shipit-sandbox": {}}))
    assert any("not one of the channels of this inventory (shipit-sandbox)" in problem for problem in problems)


def test_bot_contract_defaults_fit_the_reference_bot() -> None:
    settings, problems = resolve_inputs("deploy", raw())
    assert problems == []
    assert settings["bot"] == {
        "config_name": "config.toml",
        "password_delivery": "credential",
        "password_env": "CYTUBE_BOT_PASSWORD",
        "workdir": "shared",
        "check_args": None,
        "health_url": None,
        "settle": 2.0,
        "journal_pattern": DEFAULT_ERROR_PATTERN,
    }
    verify = settings["verify"]
    assert (verify["mode"], verify["command"], verify["expect_version"]) == ("command", "!ping", "auto")
    assert verify["journal_pattern"] == DEFAULT_ERROR_PATTERN


def test_the_chatbot_settings_resolve() -> None:
    settings, problems = resolve_inputs(
        "deploy",
        raw(
            bot_config_name="config.json",
            bot_password_delivery="config",
            bot_workdir="release",
            bot_check_args=[],
            bot_health_url="",
            bot_settle="3",
            bot_journal_error_pattern=r"^\S+ \S+ ERROR ",
            bot_journal_ignore_pattern=r"^\S+ \S+ INFO <",
            verify_command="!help",
            verify_expect="^chatbot commands: !help",
            verify_expect_version="auto",
        ),
    )
    assert problems == []
    bot = settings["bot"]
    assert (bot["config_name"], bot["password_delivery"], bot["workdir"]) == (
        "config.json",
        "config",
        "release",
    )
    assert bot["check_args"] == [] and bot["health_url"] == "" and bot["settle"] == 3.0
    # A reply pattern without a version group cannot compare one: auto means none then.
    assert settings["verify"]["expect_version"] == "none"
    assert settings["verify"]["command"] == "!help"


def test_literal_expected_version_with_a_version_group() -> None:
    settings, problems = resolve_inputs("verify", raw(verify_expect_version="2.0.0"))
    assert problems == [] and settings["verify"]["expect_version"] == "2.0.0"


@pytest.mark.parametrize(
    "line, is_error",
    [
        ("2026-11-29 11:00:00,001 ERROR login refused: bad password", True),
        ("2026-11-29 11:00:00,002 INFO <alice> ERROR in my code, help", False),
        ("2026-11-29 11:00:00,003 WARNING kicked from #chan", False),
        ("Traceback (most recent call last):", False),
        ("2026-11-29 11:00:00,004 INFO joined #chan (3 users)", False),
    ],
)
def test_journal_error_and_ignore_patterns_combine(line: str, is_error: bool) -> None:
    pattern = journal_pattern(r"^\S+ \S+ ERROR ", r"^\S+ \S+ INFO <")
    entry = json.dumps({"MESSAGE": line, "PRIORITY": "6"})
    found, problem = journal_errors(lambda argv: (0, entry, ""), "u.service", "inv", pattern)
    assert problem == "" and bool(found) is is_error


def test_an_ignore_pattern_alone_narrows_the_default_errors() -> None:
    pattern = journal_pattern(None, r"INFO <")
    entry = '{"MESSAGE": "2026-11-29 11:00:00,002 INFO <bob> FATAL joke", "PRIORITY": "6"}'
    assert journal_errors(lambda argv: (0, entry, ""), "u.service", "inv", pattern)[0] == []
    entry = '{"MESSAGE": "2026-11-29 11:00:00,002 FATAL db gone", "PRIORITY": "6"}'
    assert journal_errors(lambda argv: (0, entry, ""), "u.service", "inv", pattern)[0] != []


def test_pm_mode_with_a_probe_rank() -> None:
    settings, problems = resolve_inputs(
        "deploy", raw(verify_mode="pm", verify_command="status", verify_expect="^status: up", verify_probe_rank="2")
    )
    assert problems == []
    verify = settings["verify"]
    assert (verify["mode"], verify["command"], verify["probe_rank"], verify["expect_version"]) == (
        "pm",
        "status",
        2,
        "none",
    )


def test_presence_mode_sends_nothing_and_compares_no_version() -> None:
    settings, problems = resolve_inputs("verify", raw(verify_mode="presence", verify_expect_version="none"))
    assert problems == []
    verify = settings["verify"]
    assert (verify["mode"], verify["command"], verify["expect"], verify["expect_version"]) == (
        "presence",
        "",
        "",
        "none",
    )
    assert verify["probe_rank"] == 0


def test_health_port_and_url_have_one_home() -> None:
    settings, problems = resolve_inputs("deploy", raw())
    assert problems == [] and settings["health_port"] == 8765
    assert settings["health_url"] == "http://127.0.0.1:8765/health"
    settings, _ = resolve_inputs("deploy", raw(health_port="8770"))
    assert settings["health_url"] == "http://127.0.0.1:8770/health"
    settings, _ = resolve_inputs("deploy", raw(health_port=8770, bot_health_url=""))
    assert settings["health_url"] == ""


def test_distinct_health_ports_of_the_inventorys_channels_pass() -> None:
    channels = {"shipit-sandbox": {"health_port": 8765}, "shipit-sandbox2": {"health_port": 8766}}
    _settings, problems = resolve_inputs("deploy", raw(channels=channels, health_port=8765))
    assert problems == []

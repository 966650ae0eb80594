"""The inputs of a run: every problem named with its value and the fix, settings resolved from one home."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_layout import DEFAULT_ROOT
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_settings import PROFILES, resolve_inputs

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
    assert {k: v for k, v in settings["verify"].items() if k != "profile"} == PROFILES["test"]


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
        ({"verify_overrides": {"repeat": 3, "max_failures": 3}}, "max_failures 3 must be smaller than repeat 3"),
        ({"bot_source": None}, "shipit_bot_source is not set"),
        ({"root": "srv/bots"}, "shipit_root 'srv/bots' must be an absolute path"),
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

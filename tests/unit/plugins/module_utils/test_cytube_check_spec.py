"""Unit tests for plugins/module_utils/cytube_check_spec.py (option validation)."""

from __future__ import annotations

from typing import Any

import pytest
from ansible_collections.cytube.shipit.plugins.module_utils import cytube_check_spec as spec
from ansible_collections.cytube.shipit.plugins.module_utils.cytube_probe import DEFAULT_EXPECT

pytestmark = pytest.mark.timeout(30)


def params(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {name: option.get("default") for name, option in spec.ARGUMENT_SPEC.items()}
    base.update(
        server_url="https://cytu.be",
        channel="testchan",
        bot_name="shipbot",
        probe_user="shipprobe",
        probe_password="pw",
    )
    base.update(over)
    return base


def test_defaults_are_valid() -> None:
    assert spec.validate(params()) == []
    cfg = spec.to_config(params())
    assert cfg.command == "!ping" and cfg.expect == DEFAULT_EXPECT
    assert (cfg.connect_timeout, cfg.reply_timeout, cfg.repeat, cfg.interval, cfg.max_failures) == (5, 5, 1, 10, 0)
    assert cfg.validate_certs is True


def test_secrets_are_no_log_in_the_spec() -> None:
    assert spec.ARGUMENT_SPEC["probe_password"]["no_log"] is True
    assert spec.ARGUMENT_SPEC["channel_password"]["no_log"] is True
    assert spec.ARGUMENT_SPEC["fail_on"]["choices"] == ["unhealthy", "inconclusive"]


@pytest.mark.parametrize(
    "over,needles",
    [
        ({"server_url": "ftp://cytu.be"}, ["server_url 'ftp://cytu.be'", "http:// or https://"]),
        ({"server_url": "cytu.be"}, ["server_url 'cytu.be'", "http:// or https://"]),
        ({"channel": "bad name!"}, ["channel 'bad name!'", "1-30 characters"]),
        ({"channel": "x" * 31}, ["channel 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'", "1-30"]),
        ({"bot_name": "bot!"}, ["bot_name 'bot!'", "1-20 characters"]),
        ({"probe_user": "p" * 21}, ["probe_user '" + "p" * 21 + "'", "1-20 characters"]),
        ({"probe_user": "ShipBot"}, ["probe_user 'ShipBot'", "kick the bot"]),
        ({"command": "  "}, ["command '  ' is empty", "!ping"]),
        ({"command": "!ping\n"}, ["control characters"]),
        ({"command": "!" * 310}, ["command is 310 characters", "at most 307"]),
        ({"expect": "(unclosed"}, ["expect '(unclosed'", "not a valid regular expression"]),
        ({"expect": ""}, ["expect is empty"]),
        ({"expect": r"^pong {token}$", "expect_version": "1.0"}, ["expect_version", "(?P<version>...)"]),
        ({"expect_version": ""}, ["expect_version is empty"]),
        ({"connect_timeout": 0.0}, ["connect_timeout 0.0", "positive"]),
        ({"reply_timeout": -1.0}, ["reply_timeout -1.0", "positive"]),
        ({"repeat": 0}, ["repeat 0", "1 or more"]),
        ({"interval": -0.5}, ["interval -0.5", "0 or more"]),
        ({"max_failures": -1}, ["max_failures -1", "0 or more"]),
        ({"repeat": 3, "max_failures": 3}, ["max_failures 3 must be smaller than repeat 3"]),
        ({"ca_path": "/nonexistent/ca.pem"}, ["ca_path '/nonexistent/ca.pem'", "PEM"]),
        ({"forwarded_for": "10.0.0.300"}, ["forwarded_for '10.0.0.300'", "not an IP address"]),
    ],
)
def test_validation_messages_name_the_value_and_the_fix(over: dict[str, Any], needles: list) -> None:
    errors = spec.validate(params(**over))
    assert len(errors) == 1, errors
    for needle in needles:
        assert needle in errors[0]


def test_all_problems_are_reported_at_once() -> None:
    errors = spec.validate(params(channel="a b", bot_name="c d", connect_timeout=0.0, repeat=0))
    assert len(errors) == 4


@pytest.mark.parametrize(
    "over",
    [
        {"expect": r"^ok \d{2} {token}$"},
        {"expect_version": "1.2.3"},
        {"repeat": 5, "max_failures": 4, "interval": 0.0},
        {"forwarded_for": "10.1.2.3"},
        {"forwarded_for": "::1"},
        {"server_url": "http://127.0.0.1:8080/"},
        {"probe_password": ""},
    ],
)
def test_valid_variants(over: dict[str, Any]) -> None:
    assert spec.validate(params(**over)) == []


def test_ca_path_that_exists_is_fine(tmp_path: Any) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    assert spec.validate(params(ca_path=str(ca))) == []


def test_to_config_keeps_guest_and_strips_url() -> None:
    cfg = spec.to_config(params(probe_password="", server_url=" http://h:1 ", interval=0.0))
    assert cfg.probe_password == "" and cfg.server_url == "http://h:1" and cfg.interval == 0.0
    assert cfg.secrets == []


def test_pm_and_presence_modes_reach_the_probe_config() -> None:
    cfg = spec.to_config(params(mode="pm", command="status", expect=r"^status: up", probe_rank=2.0))
    assert (cfg.mode, cfg.command, cfg.probe_rank, cfg.sends_token) == ("pm", "status", 2.0, False)
    assert spec.validate(params(mode="presence")) == []
    assert spec.to_config(params(mode="presence", repeat=6, interval=10.0)).window_s == 50


@pytest.mark.parametrize("option", ["command", "expect", "expect_version"])
def test_presence_with_a_reply_option_names_the_option_and_the_fix(option: str) -> None:
    errors = spec.validate(params(mode="presence", **{option: "x"}))
    assert len(errors) == 1
    assert errors[0].startswith(f"{option} is set but mode presence sends no message")
    assert f"remove {option}" in errors[0] and "use mode command" in errors[0]


@pytest.mark.parametrize("rank", [-1.0, 256.0])
def test_probe_rank_out_of_range(rank: float) -> None:
    assert any(f"probe_rank {rank!r} is not a CyTube rank" in e for e in spec.validate(params(probe_rank=rank)))

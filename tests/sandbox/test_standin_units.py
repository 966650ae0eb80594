"""In-process checks of the stand-in's building blocks (no server needed)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from sandbox.cytube import config as config_module
from sandbox.cytube.accounts import AccountStore, dedupe_name, is_valid_username, parse_accounts
from sandbox.cytube.clientip import resolve_client_ip
from sandbox.cytube.config import Config, ConfigError, Limits
from sandbox.cytube.limits import FloodLimiter, TokenBucket
from sandbox.cytube.model import Channel, Session
from sandbox.cytube.server import RESERVED_NAME_RE, CytubeServer
from sandbox.cytube.textproc import format_chat_text, js_substring, js_trim
from sandbox.cytube.typecheck import CHAT_TEMPLATE, MISSING, check


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_default_limits_are_cytubes() -> None:
    limits = Limits()
    assert (limits.conn_burst, limits.conn_refill_per_s) == (5, 0.1)
    assert limits.ip_connection_limit == 10
    assert limits.guest_login_delay_s == 60
    assert limits.max_chat_message_length == 320
    assert (limits.chat_burst, limits.chat_sustained) == (20, 10)
    assert limits.usercount_throttle_ms == 10000
    assert limits.afk_timeout_s == 600


def test_committed_sandbox_config_matches_contracts() -> None:
    path = Path(__file__).resolve().parents[2] / "sandbox" / "cytube.sandbox.json"
    config = config_module.load(path)
    assert config.binds == ("127.0.0.1", "10.231.255.1")
    assert (config.http_port, config.io_port, config.admin_port) == (8080, 1337, 8091)
    assert config.admin_bind == "127.0.0.1"
    assert config.advertised_io_url == "http://10.231.255.1:1337"
    assert config.limits == Limits()
    # The probe must be a moderator where the example chatbot answers status PMs (docs/bots.md).
    assert config.channel_rank("shipit-chatbot", "shipprobe") == 2
    assert config.channel_rank("shipit-sandbox", "shipprobe") == 1


def test_admin_listener_must_be_loopback(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"admin_bind": "10.231.255.1"}))
    with pytest.raises(ConfigError, match="loopback"):
        config_module.load(path)


def test_unknown_config_key_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"http_prot": 1}))
    with pytest.raises(ConfigError, match="http_prot"):
        config_module.load(path)


def test_registered_channel_patterns() -> None:
    config = Config(registered_channels=("reg-*", "main"))
    assert config.is_registered("reg-1") and config.is_registered("main")
    assert not config.is_registered("other")


def test_token_bucket_burst_refill_and_lost_fraction() -> None:
    clock = FakeClock()
    bucket = TokenBucket(5, 0.1, clock)
    assert [bucket.throttle() for _ in range(6)] == [False] * 5 + [True]
    clock.now += 9.9
    assert bucket.throttle() is True  # refused attempts take nothing and add nothing
    clock.now += 0.1
    assert bucket.throttle() is False
    assert bucket.throttle() is True


def test_flood_limiter_burst_then_rate_then_reset() -> None:
    clock = FakeClock()
    limiter = FloodLimiter(clock)
    assert [limiter.throttle(20, 10) for _ in range(25)] == [False] * 20 + [True] * 5
    clock.now += 0.1
    assert limiter.throttle(20, 10) is False  # one per 100 ms after the burst
    assert limiter.throttle(20, 10) is True
    clock.now += 2.01
    assert [limiter.throttle(20, 10) for _ in range(20)] == [False] * 20


@pytest.mark.parametrize(
    ("peer", "header", "expected"),
    [
        ("127.0.0.1", "10.1.2.3", "10.1.2.3"),
        ("10.9.9.9", "10.1.2.3", "10.9.9.9"),  # not from loopback: header ignored
        ("127.0.0.1", "10.1.2.3, 127.0.0.1", "10.1.2.3"),  # loopback hops are walked past
        ("127.0.0.1", "10.1.2.3, 10.4.4.4", "10.4.4.4"),  # 10.4.4.4 is not trusted
        ("::ffff:127.0.0.1", "10.1.2.3", "10.1.2.3"),
        ("127.0.0.1", None, "127.0.0.1"),
    ],
)
def test_forwarded_for_trusted_only_from_loopback(peer: str, header: str | None, expected: str) -> None:
    assert resolve_client_ip(peer, header) == expected


@pytest.mark.parametrize(
    ("name", "reserved"),
    [
        ("admin", True),
        ("Administrator", True),
        ("owner", True),
        ("bot-admin", True),
        ("admin_bot", True),
        ("x-OWNER-y", True),
        ("xadmin", False),
        ("admins", False),
        ("probebot", False),
    ],
)
def test_reserved_names(name: str, reserved: bool) -> None:
    assert bool(RESERVED_NAME_RE.match(name)) is reserved


def test_lookalike_names_collapse() -> None:
    assert dedupe_name("PR0BEB0T") == dedupe_name("probebot")
    assert dedupe_name("Il1") == dedupe_name("111")
    assert dedupe_name("ship-bot") == dedupe_name("ship_bot")
    assert dedupe_name("shipbat") != dedupe_name("shipbot")


def test_username_validation_is_ascii_and_anchored() -> None:
    assert is_valid_username("a" * 20) and not is_valid_username("a" * 21)
    assert not is_valid_username("bad name!") and not is_valid_username("é")
    assert not is_valid_username("abc\n")


def test_accounts_file_rejects_duplicates() -> None:
    entry = {"name": "x", "bcrypt": "$2b$04$" + "a" * 53}
    with pytest.raises(ValueError, match="twice"):
        parse_accounts(json.dumps({"accounts": [entry, {**entry, "name": "X"}]}))


@pytest.mark.parametrize(
    ("raw", "registered", "expected"),
    [
        ("health_check_token_42", True, "health<em>check</em>token_42"),
        ("health_check_token_42", False, "health_check_token_42"),
        ("<b>hi</b> & \"q\" 'a' (p)", True, "&lt;b&gt;hi&lt;/b&gt; &amp; \"q\" 'a' (p)"),
        ("`c` *b* ~~s~~ [SP]x[/sp]", True, '<code>c</code> <strong>b</strong> <s>s</s> <span class="spoiler">x</span>'),
        (
            "see http://x.org/a_b_c now",
            True,
            'see <a href="http://x.org/a_b_c" target="_blank" rel="noopener noreferrer">http://x.org/a_b_c</a> now',
        ),
        ("foo://x", False, '<a target="_blank" rel="noopener noreferrer">foo://x</a>'),
        ("*a _b* c_", True, "<strong>a <em>b</em></strong> c"),
        (">quote", True, "&gt;quote"),
    ],
)
def test_chat_html_transform(raw: str, registered: bool, expected: str) -> None:
    assert format_chat_text(raw, use_filters=registered) == expected


def test_js_string_helpers() -> None:
    assert js_substring("a" * 400, 320) == "a" * 320
    assert js_substring("ab\U0001f600c", 3) == "ab\ud83d"  # cut inside a surrogate pair, as JS does
    assert js_trim("\ufeff x \u00a0") == "x"


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({"msg": 1}, "Expected key msg to be of type string, instead got number"),
        ({}, "Missing key: string:msg"),
        ({"msg": "x", "meta": None}, "Expected key meta to be of type object,optional, instead got null"),
        ({"msg": "x", "extra": 1}, "Extra key: extra"),
        ("text", "Expected type object, got string"),
        (MISSING, "Expected type object, got undefined"),
        ({"msg": "x"}, None),
        ({"msg": "x", "meta": {}}, None),
    ],
)
def test_typecheck_messages(payload: object, error: str | None) -> None:
    assert check(payload, CHAT_TEMPLATE) == error


def test_limits_can_be_relaxed_but_stay_typed(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"limits": {"conn_burst": 40, "conn_refill_per_s": 1, "max_chat_message_length": 5000}}))
    limits = config_module.load(path).limits
    assert (limits.conn_burst, limits.conn_refill_per_s) == (40, 1.0)
    assert limits.max_chat_message_length == 1000  # CyTube caps it at 1000
    path.write_text(json.dumps({"limits": {"conn_burst": 4.5}}))
    with pytest.raises(ConfigError, match="whole number"):
        config_module.load(path)


@pytest.mark.parametrize(
    ("ranks", "message"),
    [
        ({"bad chan": {"a": 2}}, "'bad chan' is not a valid channel name"),
        ({"reg-x": {"bad name": 2}}, "'bad name' is not a valid account name"),
        ({"reg-x": {"a": 256}}, "channel_ranks.reg-x.a must be a rank from 0 to 255"),
        ({"reg-x": {"a": True}}, "channel_ranks.reg-x.a must be a rank"),
        ({"reg-x": ["a"]}, "channel_ranks.reg-x must be an object"),
    ],
)
def test_channel_ranks_validation_names_the_bad_value(ranks: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config_module.from_mapping({"registered_channels": ["reg-*"], "channel_ranks": ranks}, Path("."))


def test_channel_rank_lookup_ignores_case_and_defaults_to_1() -> None:
    config = config_module.from_mapping(
        {"registered_channels": ["Reg-*"], "channel_ranks": {"Reg-X": {"ShipProbe": 5}}}, Path(".")
    )
    assert config.channel_rank("reg-x", "SHIPPROBE") == 5
    assert config.channel_rank("reg-x", "someone") == 1
    assert config.channel_rank("reg-y", "shipprobe") == 1


class RecordingOutbox:
    """Stands in for the server's Outbox: records who was sent what, in call order."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def emit(self, sid: str, event: str, payload: object = None) -> None:
        self.sent.append((sid, event))

    async def emit_many(self, sids: list[str], event: str, payload: object = None) -> None:
        self.sent.extend((sid, event) for sid in sids)


def test_everyone_else_gets_a_new_channel_rank_before_the_user_does() -> None:
    """The rank lookup runs beside the user's next events: whatever the user sends on seeing its new rank (a PM to
    a bot that checks ranks) must find the others told already, as in CyTube, where it all happens in one tick."""
    server = CytubeServer(
        Config(registered_channels=("reg",), channel_ranks={"reg": {"moderator": 2}}), AccountStore(None, 4)
    )
    recorder = RecordingOutbox()
    server.out = recorder  # type: ignore[assignment]
    channel = Channel(name="reg", registered=True, afk_timeout_s=600)
    bot = Session(sid="bot", ip="10.0.0.1", name="bot", channel=channel, accepted=True)
    user = Session(sid="user", ip="10.0.0.2", name="moderator", channel=channel, accepted=True)
    channel.room.extend([bot, user])
    asyncio.run(server._apply_channel_rank(user))
    assert user.effective_rank == 2
    assert recorder.sent.index(("bot", "setUserRank")) < recorder.sent.index(("user", "rank"))
    assert [event for sid, event in recorder.sent if sid == "user"][-1] == "setUserRank"

"""The reference bot, run from its wheel, against a real socket.io server."""

from __future__ import annotations

import itertools
import re
import signal
import time

import pytest
from refbot_harness import (
    BOT_NAME,
    BUILT_VERSION,
    BotFactory,
    CytubeServer,
    FakeServerHandle,
    LoopThread,
    Probe,
    free_port,
    require_fake,
    wait_until,
)

pytestmark = pytest.mark.timeout(60)

REPLY_TIMEOUT_S = 5.0
# How long silence must last before "the bot did not answer" is believed; a
# healthy bot answers in milliseconds.
SILENCE_S = 1.5


def test_answers_ping_with_token_version_and_plain_ping(bots: BotFactory, probe: Probe) -> None:
    bots.start()
    assert BOT_NAME in probe.users()

    sent = probe.say("!ping abc123")
    reply = probe.wait_chat(BOT_NAME, f"pong {BUILT_VERSION} abc123", REPLY_TIMEOUT_S)
    assert reply is not None, "no pong for !ping abc123"
    assert reply.received - sent < 1.0

    probe.say("!ping")
    assert probe.wait_chat(BOT_NAME, f"pong {BUILT_VERSION}", REPLY_TIMEOUT_S)
    probe.say("!version")
    assert probe.wait_chat(BOT_NAME, f"cytube-refbot {BUILT_VERSION}", REPLY_TIMEOUT_S)


def test_health_reports_joined_bot(bots: BotFactory, probe: Probe, channel: str) -> None:
    bot = bots.start()
    status, body = bot.health()
    assert status == 200
    assert body["connected"] is True and body["joined"] is True
    assert body["channel"] == channel and body["name"] == BOT_NAME and body["version"] == BUILT_VERSION
    assert isinstance(body["uptime_s"], float) and body["uptime_s"] > 0
    assert bot.health("/nope")[0] == 404


def test_ignores_bad_tokens_and_decodes_html(bots: BotFactory, probe: Probe) -> None:
    # With "&" as prefix a command only parses after HTML-decoding ("&amp;ping").
    bots.start(bots.config(bot={"command_prefix": "&"}))
    probe.say("&ping bad_token")  # "_" is not allowed in a token
    probe.say("&ping a1 b2")
    probe.say("&ping ok-1")
    assert probe.wait_chat(BOT_NAME, f"pong {BUILT_VERSION} ok-1", REPLY_TIMEOUT_S)
    # The bot handles chat in order and replies in order: a reply to a bad one would have come first.
    bot_lines = [c.text for c in probe.chat.items if c.username == BOT_NAME]
    assert bot_lines == [f"pong {BUILT_VERSION} ok-1"]


def test_ignores_the_join_replay(bots: BotFactory, probe: Probe) -> None:
    probe.say("!ping before-join")
    assert probe.wait_chat(probe.name, "!ping before-join", REPLY_TIMEOUT_S)  # now in the replay buffer
    bots.start()
    probe.say("!ping after-join")
    assert probe.wait_chat(BOT_NAME, f"pong {BUILT_VERSION} after-join", REPLY_TIMEOUT_S)
    # The bot handles chat in order and replies in order: a reply to the replay would have come first.
    bot_lines = [c.text for c in probe.chat.items if c.username == BOT_NAME]
    assert bot_lines == [f"pong {BUILT_VERSION} after-join"]


def test_ignores_server_messages(bots: BotFactory, probe: Probe, cytube_server: CytubeServer, channel: str) -> None:
    bots.start()
    cytube_server.say_as(channel, "[server]", "!ping from-server")
    probe.say("!ping after-server")
    assert probe.wait_chat(BOT_NAME, f"pong {BUILT_VERSION} after-server", REPLY_TIMEOUT_S)
    bot_lines = [c.text for c in probe.chat.items if c.username == BOT_NAME]
    assert bot_lines == [f"pong {BUILT_VERSION} after-server"]


def test_userlist_resent_after_login_changes_nothing(
    bots: BotFactory, probe: Probe, cytube_server: CytubeServer
) -> None:
    require_fake(cytube_server).fake.resend_userlist = True
    bot = bots.start()
    probe.say("!ping resent1")
    assert probe.wait_chat(BOT_NAME, f"pong {BUILT_VERSION} resent1", REPLY_TIMEOUT_S)
    assert len(bot.log_times("joined #")) == 1 and len(bot.log_times("logged in as")) == 1, bot.output()


def test_guest_login_with_empty_password(bots: BotFactory, probe: Probe) -> None:
    bot = bots.start(bots.config(name="guestbot"), password="")
    assert bot.wait_log(r"logged in as guestbot \(guest\)")
    probe.say("!ping g1")
    assert probe.wait_chat("guestbot", f"pong {BUILT_VERSION} g1", REPLY_TIMEOUT_S)


def test_guest_login_cooldown_is_waited_out_not_fatal(bots: BotFactory, cytube_server: CytubeServer) -> None:
    require_fake(cytube_server).fake.guest_login_delay = True
    bot = bots.start(bots.config(name="guestbot"), password="", wait_joined=False)
    match = bot.wait_log(r"guest login refused: Guest logins are restricted.*; reconnect in (\d+\.\d) s")
    assert match, bot.output()
    assert float(match.group(1)) >= 60.0
    assert bot.wait_exit(0.5) is None, "a guest login cooldown must not end the bot"


def test_password_from_environment(bots: BotFactory, probe: Probe) -> None:
    bot = bots.start(env={"CYTUBE_BOT_PASSWORD": bots.password})
    assert bot.wait_log(r"logged in as shipbot \(account\)")


def test_password_from_systemd_credential(bots: BotFactory, probe: Probe) -> None:
    credentials = bots.workdir / "credentials"
    credentials.mkdir()
    (credentials / "botpw").write_text(bots.password)
    config = bots.config(account={"password_credential": "botpw"})
    bot = bots.start(config, env={"CREDENTIALS_DIRECTORY": str(credentials)})
    assert bot.wait_log(r"logged in as shipbot \(account\)")


def test_crash_at_start_exits_1(bots: BotFactory) -> None:
    bot = bots.start(bots.config(faults={"crash_at_start": True}), wait_joined=False)
    assert bot.wait_exit(10) == 1
    assert "fault crash_at_start" in bot.output()


def test_never_join_connects_but_stays_out(bots: BotFactory, probe: Probe) -> None:
    bot = bots.start(bots.config(faults={"never_join": True}), wait_joined=False)
    assert bot.wait_health(lambda status, body: body["connected"]), bot.output()
    status, body = bot.health()
    assert status == 503 and body["joined"] is False
    assert BOT_NAME not in probe.users()
    probe.say("!ping nj1")
    assert probe.wait_chat(BOT_NAME, f"pong {BUILT_VERSION} nj1", SILENCE_S) is None


def test_never_answer_joins_but_stays_silent(bots: BotFactory, probe: Probe) -> None:
    bot = bots.start(bots.config(faults={"never_answer": True}))
    assert bot.health()[0] == 200
    assert wait_until(lambda: BOT_NAME in probe.users(), 5)
    probe.say("!ping na1")
    assert probe.wait_chat(probe.name, "!ping na1", REPLY_TIMEOUT_S), "the probe's own message did not come back"
    assert probe.wait_chat(BOT_NAME, f"pong {BUILT_VERSION} na1", SILENCE_S) is None


def test_answer_delay(bots: BotFactory, probe: Probe) -> None:
    bots.start(bots.config(faults={"answer_delay_s": 2.0}))
    sent = probe.say("!ping slow1")
    reply = probe.wait_chat(BOT_NAME, f"pong {BUILT_VERSION} slow1", 2.0 + REPLY_TIMEOUT_S)
    assert reply is not None
    assert 2.0 <= reply.received - sent < 3.0


def test_duplicate_login_kick_is_fatal_and_newcomer_survives(bots: BotFactory, probe: Probe) -> None:
    first = bots.start()
    second = bots.start()
    assert first.wait_exit(5) == 3
    assert "Duplicate login" in first.output()
    # The newcomer was told that "its" name left (the old socket): it must stay.
    assert second.health()[0] == 200
    assert wait_until(lambda: BOT_NAME in probe.users(), 5)
    probe.say("!ping dup1")
    assert probe.wait_chat(BOT_NAME, f"pong {BUILT_VERSION} dup1", REPLY_TIMEOUT_S)
    assert sum(1 for c in probe.chat.items if c.username == BOT_NAME) == 1


def test_bad_password_exits_4_without_logging_it(bots: BotFactory) -> None:
    wrong = "wrong-password-3f9a"
    bot = bots.start(password=wrong, wait_joined=False)
    assert bot.wait_exit(10) == 4
    output = bot.output()
    assert "login as shipbot failed: Invalid username/password combination" in output
    assert wrong not in output


def test_other_kick_reconnects_with_backoff(
    bots: BotFactory, probe: Probe, cytube_server: CytubeServer, channel: str
) -> None:
    bot = bots.start()
    assert cytube_server.kick(channel, BOT_NAME, "Kicked by a moderator") == 1
    match = bot.wait_log(r"kicked: Kicked by a moderator; reconnect in (\d+\.\d) s")
    assert match, bot.output()
    assert 0.7 <= float(match.group(1)) <= 1.3
    assert bot.wait_log(r"(?s)reconnect in.*joined #", timeout=5)
    kicked_at = bot.log_times("kicked: ")[0]
    reconnected_at = bot.log_times("connecting to ")[1]
    assert reconnected_at - kicked_at >= float(match.group(1)) - 0.06  # it really waited
    bot.wait_joined()
    probe.say("!ping back1")
    assert probe.wait_chat(BOT_NAME, f"pong {BUILT_VERSION} back1", REPLY_TIMEOUT_S)


def test_server_down_at_start_backs_off_then_connects(bots: BotFactory, test_loop: LoopThread) -> None:
    port = free_port()
    config = bots.config()
    config["server"]["url"] = f"http://127.0.0.1:{port}"
    bot = bots.start(config, wait_joined=False)
    assert bot.wait_log(r"(?s)(reconnect in .*){2}", timeout=6), bot.output()
    delays = [float(d) for d in re.findall(r"reconnect in (\d+\.\d) s", bot.output())]
    assert len(delays) <= 3, "reconnecting in a tight loop"
    assert 0.7 <= delays[0] <= 1.3 and 1.4 <= delays[1] <= 2.6
    server = FakeServerHandle(test_loop, port=port)
    try:
        server.register_account(BOT_NAME, bots.password)
        bot.wait_joined(timeout=10)
    finally:
        bot.stop()
        server.close()


def test_connection_rate_limit_waits_for_the_server_bucket(bots: BotFactory, cytube_server: CytubeServer) -> None:
    fake = require_fake(cytube_server).fake
    fake.refusal = "Rate limit exceeded"
    bot = bots.start(wait_joined=False)
    match = bot.wait_log(r"failed: Rate limit exceeded; reconnect in (\d+\.\d) s")
    assert match, bot.output()
    assert float(match.group(1)) >= 9.9, "CyTube refills one connection token per 10 s"


def test_cooldown_pauses_replies(bots: BotFactory, probe: Probe, cytube_server: CytubeServer) -> None:
    fake = require_fake(cytube_server).fake
    bot = bots.start()
    fake.throttle_next_chat(BOT_NAME, 1500)
    probe.say("!ping dropped1")
    assert bot.wait_log("chat throttled by the server: pausing replies for 1500 ms"), bot.output()
    sent = probe.say("!ping after1")
    reply = probe.wait_chat(BOT_NAME, f"pong {BUILT_VERSION} after1", REPLY_TIMEOUT_S)
    assert reply is not None
    assert reply.received - sent >= 1.2, "the bot did not wait out the server's cooldown"


def test_channel_antiflood_paces_replies(bots: BotFactory, probe: Probe, cytube_server: CytubeServer) -> None:
    fake = require_fake(cytube_server).fake
    fake.channel_opts = {"chat_antiflood": True, "chat_antiflood_params": {"burst": 1, "sustained": 2, "cooldown": 4}}
    bots.start()
    for n in range(3):
        probe.say(f"!ping flood{n}")
    replies = [probe.wait_chat(BOT_NAME, f"pong {BUILT_VERSION} flood{n}", REPLY_TIMEOUT_S) for n in range(3)]
    assert all(replies)
    gaps = [b.received - a.received for a, b in itertools.pairwise(replies)]
    assert min(gaps) >= 0.4, f"replies not paced at 2/s: {gaps}"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_disconnects_and_exits_0_quickly(
    bots: BotFactory, probe: Probe, cytube_server: CytubeServer, signum: int
) -> None:
    bot = bots.start()
    assert wait_until(lambda: BOT_NAME in probe.users(), 5)
    sent = time.monotonic()
    bot.signal(signum)
    assert bot.wait_exit(5) == 0
    assert time.monotonic() - sent < 2.0
    assert "exiting with status 0" in bot.output()  # the clean path, not the grace timeout
    assert wait_until(lambda: BOT_NAME not in probe.users(), 2)
    if isinstance(cytube_server, FakeServerHandle):
        assert cytube_server.fake.disconnect_reasons[BOT_NAME] == ["client disconnect"]

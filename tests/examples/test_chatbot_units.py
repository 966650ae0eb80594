"""examples/chatbot without a server: config rules, replies, the SQLite store, the wheel."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
import zipfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "examples" / "chatbot" / "src"))

from cytube_chatbot import replies  # noqa: E402
from cytube_chatbot.client import InOrderClient  # noqa: E402
from cytube_chatbot.settings import Faults, SettingsError, load, parse  # noqa: E402
from cytube_chatbot.store import Counts, Store, StoreError  # noqa: E402

SECRET = "inline-Secret-123"
GOOD = {"server": "http://10.231.255.1:8080", "channel": "shipit-chatbot", "username": "chatbot", "password": SECRET}


def test_minimal_config_defaults() -> None:
    settings = parse(GOOD)
    assert (settings.database, settings.log_level, settings.faults) == ("chatbot.db", "info", Faults())
    assert settings.password == SECRET
    assert SECRET not in repr(settings)


def test_shipit_template_renders_a_valid_config() -> None:
    import jinja2

    environment = jinja2.Environment()
    environment.filters["to_nice_json"] = lambda value: json.dumps(value, indent=4, sort_keys=True)
    environment.filters["bool"] = bool
    template = (REPO / "examples" / "chatbot" / "shipit" / "config.json.j2").read_text()
    rendered = environment.from_string(template).render(
        shipit_server_url="http://10.231.255.1:8080",
        shipit_channel="shipit-chatbot",
        shipit_bot_name="chatbot",
        shipit_bot_password='quote " and \\ backslash',
        shipit_bot_faults={"never_answer": True},
    )
    settings = parse(json.loads(rendered))
    assert settings.password == 'quote " and \\ backslash'
    assert settings.faults == Faults(never_answer=True)
    assert (settings.channel, settings.username) == ("shipit-chatbot", "chatbot")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"channel": "bad name!"}, "channel = 'bad name!': expected 1-30 characters"),
        ({"username": "x" * 21}, "username = 'xxxxxxxxxxxxxxxxxxxxx': expected 1-20 characters"),
        ({"server": "cytu.be"}, "server = 'cytu.be': expected an http:// or https:// URL"),
        ({"log_level": "loud"}, "log_level = 'loud'"),
        ({"database": ""}, "database = '': expected a file name"),
        ({"faults": {"never_answer": "yes"}}, "faults.never_answer = 'yes': expected true or false"),
        ({"passwd": SECRET}, "unknown keys ['passwd']"),
    ],
)
def test_bad_values_name_the_key(change: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingsError) as error:
        parse({**GOOD, **change})
    assert message in str(error.value)
    assert SECRET not in str(error.value)


def test_wrong_password_type_is_not_echoed() -> None:
    with pytest.raises(SettingsError, match="password must be a string") as error:
        parse({**GOOD, "password": 12345678})
    assert "12345678" not in str(error.value)


def test_invalid_json_reports_the_position_not_the_text(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"password": "' + SECRET + '" "channel": 1}')
    with pytest.raises(SettingsError, match=r"not valid JSON \(line 1, column") as error:
        load(path)
    assert SECRET not in str(error.value)


def test_faults_from_the_environment_add_to_the_file() -> None:
    settings = parse({**GOOD, "faults": {"never_join": True}}, "never_answer, ")
    assert settings.faults == Faults(never_join=True, never_answer=True)
    with pytest.raises(SettingsError, match="CHATBOT_FAULTS: unknown fault 'explode'"):
        parse(GOOD, "explode")


def test_bad_config_exits_2_with_one_line_and_no_password(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({**GOOD, "channel": "no way"}))
    result = subprocess.run(
        [sys.executable, "-m", "cytube_chatbot"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(REPO / "examples" / "chatbot" / "src")},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "chatbot: config error: channel = 'no way': expected 1-30 characters from a-z A-Z 0-9 _ -"
    ]
    assert not (tmp_path / "chatbot.db").exists()  # nothing written before the config is valid


@pytest.mark.parametrize("argument", ["--version", "--check-config", "-h"])
def test_no_version_or_check_options(argument: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cytube_chatbot", argument],
        env={"PYTHONPATH": str(REPO / "examples" / "chatbot" / "src")},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert "usage: cytube-chatbot [CONFIG.json]" in result.stderr


@pytest.mark.parametrize(
    ("message", "is_help"),
    [("!help", True), ("!HELP me", True), ("  !help", True), ("!helper", False), ("help", False), ("", False)],
)
def test_help_command(message: str, is_help: bool) -> None:
    assert replies.is_help_command(message) is is_help


def test_status_request_is_html_decoded_and_exact() -> None:
    assert replies.is_status_request(" Status ")
    assert not replies.is_status_request("status please")
    assert replies.plain_text("a &amp; b &lt;i&gt;") == "a & b <i>"


@pytest.mark.parametrize(
    ("rank", "allowed"), [(None, False), (0, False), (1, False), (1.5, False), (2, True), (5, True)]
)
def test_status_needs_rank_2(rank: float | None, allowed: bool) -> None:
    assert replies.may_ask_status(rank) is allowed


def test_status_text_never_holds_a_version() -> None:
    assert replies.status_text(12.9, Counts(messages=3, users=2)) == "status: up 12 s, 3 messages and 2 users seen"


def test_new_chat_filter() -> None:
    joined = 1_000_000
    assert replies.is_new_chat("someone", "chatbot", joined, joined)
    assert not replies.is_new_chat("ChatBot", "chatbot", joined, joined)  # our own echo
    assert not replies.is_new_chat("[server]", "chatbot", joined, joined)
    assert not replies.is_new_chat("someone", "chatbot", joined - 2001, joined)  # the replay
    assert replies.is_new_chat("someone", "chatbot", joined - 2000, joined)  # clock skew allowance


def test_store_counts_messages_and_distinct_users(tmp_path: Path) -> None:
    store = Store(tmp_path / "chatbot.db")
    store.record_message(1, "a", "hi")
    store.record_message(2, "b", "yo")
    store.saw_user("Alice", 1)
    store.saw_user("alice", 2)  # names ignore case, as on CyTube
    store.saw_user("bob", 3)
    assert store.counts() == Counts(messages=2, users=2)
    store.close()


def test_store_in_a_missing_directory_says_the_directory_must_be_writable(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="working directory must be writable"):
        Store(tmp_path / "missing" / "chatbot.db")


def _build(version_text: str, outdir: Path) -> Path:
    built = subprocess.run(
        [str(REPO / "examples" / "build-wheel.sh"), version_text, str(outdir), "chatbot"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    return Path(built.stdout.strip())


def test_wheel_is_reproducible_and_pins_the_controller_versions(tmp_path: Path) -> None:
    first, second = _build("3.2.1", tmp_path / "a"), _build("3.2.1", tmp_path / "b")
    assert first.name == "cytube_chatbot-3.2.1-py3-none-any.whl"
    assert hashlib.sha256(first.read_bytes()).digest() == hashlib.sha256(second.read_bytes()).digest()
    with zipfile.ZipFile(first) as wheel:
        metadata = wheel.read("cytube_chatbot-3.2.1.dist-info/METADATA").decode()
        entry_points = wheel.read("cytube_chatbot-3.2.1.dist-info/entry_points.txt").decode()
    assert "cytube-chatbot = cytube_chatbot.app:main" in entry_points
    requires = [line.split(": ", 1)[1] for line in metadata.splitlines() if line.startswith("Requires-Dist: ")]
    assert requires
    for requirement in requires:
        name, pinned = requirement.split("==")
        assert pinned == version(name.split("[")[0]), requirement


def test_build_refuses_an_unknown_project(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(REPO / "examples" / "build-wheel.sh"), "1.0", str(tmp_path), "nobot"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "unknown project 'nobot'; known: refbot, chatbot" in result.stderr


def test_events_are_handled_on_the_reader_thread_in_arrival_order() -> None:
    """python-engineio would start a thread per message; the bot's client handles each where it was read."""
    client = InOrderClient(reconnection=False)
    handled: list[tuple[str, threading.Thread]] = []
    client.eio.on("message", lambda data: handled.append((data, threading.current_thread())))
    for data in ('2["addUser",{"rank":1}]', '2["setUserRank",{"rank":2}]', '2["pm",{"msg":"status"}]'):
        client.eio._trigger_event("message", data, run_async=True)
    assert [data for data, _ in handled] == [
        '2["addUser",{"rank":1}]',
        '2["setUserRank",{"rank":2}]',
        '2["pm",{"msg":"status"}]',
    ]
    assert {thread for _, thread in handled} == {threading.current_thread()}
    # A server disconnect joins the reader thread: it keeps a thread of its own.
    client.eio._trigger_event("message", "1", run_async=True).join(5)
    assert handled[-1][0] == "1" and handled[-1][1] is not threading.current_thread()

"""Config validation: every bad key exits 2 with one line naming it, before connecting."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cytube_refbot.cli import main
from cytube_refbot.config import HealthListen, load_config
from refbot_harness import REFBOT_SRC, toml_document

SECRET = "hunter2-do-not-print"


def valid_document() -> dict[str, dict[str, Any]]:
    return {
        "server": {"url": "http://127.0.0.1:8080", "channel": "testchan"},
        "account": {"name": "shipbot"},
        "bot": {},
        "faults": {},
    }


def write_config(tmp_path: Path, document: dict[str, dict[str, Any]]) -> Path:
    path = tmp_path / "bot.toml"
    path.write_text(toml_document(document))
    return path


def with_value(section: str, key: str, value: Any) -> dict[str, dict[str, Any]]:
    document = valid_document()
    document.setdefault(section, {})[key] = value
    return document


def without(section: str, key: str) -> dict[str, dict[str, Any]]:
    document = valid_document()
    del document[section][key]
    return document


BAD_CONFIGS = [
    ("server.url", without("server", "url")),
    ("server.url", with_value("server", "url", "ftp://example.org")),
    ("server.url", with_value("server", "url", "http://")),
    ("server.url", with_value("server", "url", "http://host/?q=1")),
    ("server.url", with_value("server", "url", "http://host:99999")),
    ("server.url", with_value("server", "url", 8080)),
    ("server.channel", without("server", "channel")),
    ("server.channel", with_value("server", "channel", "bad name!")),
    ("server.channel", with_value("server", "channel", "c" * 31)),
    ("server.channel", with_value("server", "channel", "kanal\u00e4")),
    ("server.socket_url", with_value("server", "socket_url", "ws//nope")),
    ("server.colour", with_value("server", "colour", "blue")),
    ("account.name", without("account", "name")),
    ("account.name", with_value("account", "name", "n" * 21)),
    ("account.name", with_value("account", "name", "has space")),
    ("account.password_file", with_value("account", "password_file", "/nonexistent/pw")),
    ("account.password_file", with_value("account", "password_file", 42)),
    ("account.password_credential", with_value("account", "password_credential", "../escape")),
    ("account.password_credential", with_value("account", "password_credential", "botpw")),  # no $CREDENTIALS_DIRECTORY
    ("bot.command_prefix", with_value("bot", "command_prefix", "")),
    ("bot.command_prefix", with_value("bot", "command_prefix", "! ")),
    ("bot.health_listen", with_value("bot", "health_listen", "localhost")),
    ("bot.health_listen", with_value("bot", "health_listen", "127.0.0.1:70000")),
    ("bot.health_listen", with_value("bot", "health_listen", "::1:8765")),
    ("bot.health_listen", with_value("bot", "health_listen", "bad host!:80")),
    ("bot.log_level", with_value("bot", "log_level", "loud")),
    ("faults.crash_at_start", with_value("faults", "crash_at_start", "yes")),
    ("faults.never_join", with_value("faults", "never_join", 1)),
    ("faults.never_answer", with_value("faults", "never_answer", "true")),
    ("faults.answer_delay_s", with_value("faults", "answer_delay_s", -1)),
    ("faults.answer_delay_s", with_value("faults", "answer_delay_s", "2")),
    ("faults.answer_delay_s", with_value("faults", "answer_delay_s", True)),
    ("faults.answer_delay_s", with_value("faults", "answer_delay_s", 1e9)),
    ("faults.explode", with_value("faults", "explode", True)),
    ("extra", {**valid_document(), "extra": {"key": 1}}),
]


@pytest.mark.parametrize(("key", "document"), BAD_CONFIGS, ids=[f"{k}-{i}" for i, (k, _) in enumerate(BAD_CONFIGS)])
def test_bad_key_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, key: str, document: Any
) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    assert main(["--config", str(write_config(tmp_path, document))]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1, error
    assert error.startswith(f"config error: {key} = "), error
    assert "expected" in error


def test_error_line_shows_the_bad_value_and_what_is_expected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["--config", str(write_config(tmp_path, with_value("server", "channel", "bad name!")))])
    assert capsys.readouterr().err == (
        "config error: server.channel = 'bad name!': expected 1-30 characters from a-z A-Z 0-9 _ -\n"
    )


def test_password_in_config_file_is_refused_without_echoing_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(write_config(tmp_path, with_value("account", "password", SECRET)))]) == 2
    error = capsys.readouterr().err
    assert error.startswith("config error: account.password = <not shown>")
    assert SECRET not in error


def test_misspelt_key_value_is_not_echoed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(write_config(tmp_path, with_value("account", "pasword", SECRET)))]) == 2
    assert SECRET not in capsys.readouterr().err


def test_unparseable_and_missing_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[server\n")
    assert main(["--config", str(broken)]) == 2
    assert main(["--config", str(tmp_path / "absent.toml")]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert errors[0].startswith("config error: --config = ") and "valid TOML" in errors[0]
    assert errors[1].startswith("config error: --config = ") and "No such file" in errors[1]


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CYTUBE_BOT_PASSWORD", raising=False)
    config = load_config(write_config(tmp_path, valid_document()))
    assert config.bot.command_prefix == "!"
    assert config.bot.health_listen == HealthListen("127.0.0.1", 8765)
    assert config.bot.log_level == "info"
    assert config.server.socket_url is None
    assert config.account.password == "" and config.account.is_guest
    assert not (config.faults.crash_at_start or config.faults.never_join or config.faults.never_answer)
    assert config.faults.answer_delay_s == 0.0


def test_full_config(tmp_path: Path) -> None:
    document = valid_document()
    document["server"].update(url="https://cytu.be/", socket_url="https://cytu.be:10443")
    document["bot"].update(command_prefix="?", health_listen="[::1]:0", log_level="DEBUG")
    document["faults"].update(never_answer=True, answer_delay_s=2)
    config = load_config(write_config(tmp_path, document), environ={})
    assert config.server.url == "https://cytu.be"
    assert config.server.socket_url == "https://cytu.be:10443"
    assert config.bot.health_listen == HealthListen("::1", 0)
    assert config.bot.log_level == "debug"
    assert config.faults.never_answer and config.faults.answer_delay_s == 2.0


def test_empty_health_listen_disables_endpoint(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, with_value("bot", "health_listen", "")), environ={})
    assert config.bot.health_listen is None


def test_password_from_file_relative_to_config_and_without_newline(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text(SECRET + "\n")
    config = load_config(write_config(tmp_path, with_value("account", "password_file", "pw")), environ={})
    assert config.account.password == SECRET
    assert SECRET not in repr(config)


def test_password_from_credential(tmp_path: Path) -> None:
    credentials = tmp_path / "creds"
    credentials.mkdir()
    (credentials / "botpw").write_text(SECRET)
    document = with_value("account", "password_credential", "botpw")
    config = load_config(write_config(tmp_path, document), environ={"CREDENTIALS_DIRECTORY": str(credentials)})
    assert config.account.password == SECRET


def test_password_from_environment(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, valid_document()), environ={"CYTUBE_BOT_PASSWORD": SECRET})
    assert config.account.password == SECRET and not config.account.is_guest


def test_file_wins_over_environment(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("from-file")
    document = with_value("account", "password_file", "pw")
    config = load_config(write_config(tmp_path, document), environ={"CYTUBE_BOT_PASSWORD": "from-env"})
    assert config.account.password == "from-file"


def test_both_password_sources_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pw").write_text(SECRET)
    document = with_value("account", "password_file", "pw")
    document["account"]["password_credential"] = "botpw"
    assert main(["--config", str(write_config(tmp_path, document))]) == 2
    assert "account.password_credential" in capsys.readouterr().err


def test_check_config_does_not_read_the_password(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document = with_value("account", "password_credential", "botpw")  # no $CREDENTIALS_DIRECTORY here
    assert main(["--config", str(write_config(tmp_path, document)), "--check-config"]) == 0
    assert capsys.readouterr().out.startswith("config ok")
    assert main(["--config", str(write_config(tmp_path, with_value("bot", "log_level", "x"))), "--check-config"]) == 2


def test_bad_config_exits_before_connecting(tmp_path: Path) -> None:
    """Run as a process: exit 2, one line on stderr, and no connection to the server."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        document = with_value("bot", "log_level", "loud")
        document["server"]["url"] = f"http://127.0.0.1:{listener.getsockname()[1]}"
        result = subprocess.run(
            [sys.executable, "-m", "cytube_refbot", "--config", str(write_config(tmp_path, document))],
            capture_output=True,
            text=True,
            timeout=30,
            env={"PYTHONPATH": str(REFBOT_SRC), "CYTUBE_BOT_PASSWORD": SECRET},
        )
        with pytest.raises(BlockingIOError):
            listener.accept()
    assert result.returncode == 2
    assert result.stderr.startswith("config error: bot.log_level = 'loud'") and result.stderr.count("\n") == 1
    assert result.stdout == ""


def test_example_config_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    example = REFBOT_SRC.parent / "config.example.toml"
    assert main(["--config", str(example), "--check-config"]) == 0, capsys.readouterr().err

"""HTTP-level facts: socketconfig, the socket.io port, the handshake, start-up and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import bcrypt
import pytest
import requests
from standin_harness import REPO_ROOT, Probe, StandIn

pytestmark = pytest.mark.standin


def test_socketconfig_valid_name_advertises_configured_url(standin: StandIn) -> None:
    response = requests.get(standin.http_url + "/socketconfig/TestChan.json", timeout=5)
    assert response.status_code == 200
    assert response.text == '{"servers":[{"url":"http://10.231.255.1:1337","secure":false}]}'


@pytest.mark.parametrize("name", ["bad name!", "a" * 31])
def test_socketconfig_invalid_name_is_404_with_cytube_body(standin: StandIn, name: str) -> None:
    response = requests.get(standin.http_url + f"/socketconfig/{name}.json", timeout=5)
    assert response.status_code == 404
    assert response.json() == {"error": f'Channel "{name}" does not exist.'}


def test_socketconfig_is_not_served_on_the_socketio_port(standin: StandIn) -> None:
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(standin.io_url + "/socketconfig/x.json", timeout=0.5)


def test_plain_get_on_socketio_port_never_answers(standin: StandIn) -> None:
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(standin.io_url + "/", timeout=0.5)


def test_polling_handshake_values(standin: StandIn) -> None:
    response = requests.get(standin.io_url + "/socket.io/?EIO=4&transport=polling", timeout=5)
    assert response.status_code == 200
    assert response.text.startswith("0")
    handshake = json.loads(response.text[1:])
    assert handshake["pingInterval"] == 25000
    assert handshake["pingTimeout"] == 120000
    assert handshake["maxPayload"] == 1048576
    assert handshake["upgrades"] == ["websocket"]


def test_connect_sends_anonymous_rank_first(standin: StandIn, probes: Callable[..., Probe]) -> None:
    probe = probes(standin)
    assert probe.events[0] == ("rank", -1)


def test_polling_transport_works_too(standin: StandIn, probes: Callable[..., Probe]) -> None:
    probe = probes(standin, transports=("polling",))
    assert probe.events[0] == ("rank", -1)


def test_admin_listener_is_loopback_only(standin: StandIn) -> None:
    assert standin.ports["admin_bind"] == "127.0.0.1"
    assert standin.state()["limits"]["conn_burst"] == 5


def test_unavailable_bind_address_fails_naming_it(tmp_path: Path) -> None:
    config = tmp_path / "c.json"
    config.write_text(
        json.dumps({"binds": ["127.0.0.1", "192.0.2.123"], "http_port": 0, "io_port": 0, "admin_port": 0})
    )
    result = subprocess.run(
        [sys.executable, "-m", "sandbox.cytube", "--config", str(config)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert result.returncode == 2
    assert "192.0.2.123" in result.stderr


def test_hash_password_helper_prints_a_cytube_cost_bcrypt_hash() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sandbox.cytube", "hash-password"],
        cwd=REPO_ROOT,
        input="correct horse\n",
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert result.returncode == 0
    hashed = result.stdout.strip()
    assert hashed.startswith("$2b$10$")
    assert bcrypt.checkpw(b"correct horse", hashed.encode())

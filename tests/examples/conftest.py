"""Fixtures for the reference bot (examples/refbot).

Unit tests import the bot from its source tree. End-to-end tests run the
`cytube-refbot` console script of a freshly built wheel (version BUILT_VERSION)
against a CyTube-like server: the in-test fake by default, the sandbox stand-in
with REFBOT_E2E_SERVER=standin.
"""

from __future__ import annotations

import itertools
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
for path in (HERE, HERE.parents[1] / "examples" / "refbot" / "src"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from refbot_harness import (  # noqa: E402 - needs the sys.path entries above
    BUILT_VERSION,
    PROBE_NAME,
    REPO,
    BotFactory,
    CytubeServer,
    FakeServerHandle,
    Installed,
    LoopThread,
    Probe,
    StandInServerHandle,
)

_channel_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def refbot_install(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """Build the wheel with examples/build-wheel.sh and install it with pip."""
    wheel_dir = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [str(REPO / "examples" / "build-wheel.sh"), BUILT_VERSION, str(wheel_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert built.returncode == 0, built.stderr
    wheel = Path(built.stdout.strip())
    target = tmp_path_factory.mktemp("site")
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--target", str(target)]
    subprocess.run([*pip, str(wheel)], check=True, timeout=120)
    return Installed(wheel=wheel, target=target, script=target / "bin" / "cytube-refbot")


@pytest.fixture(scope="session")
def test_loop() -> Iterator[LoopThread]:
    loop = LoopThread()
    yield loop
    loop.close()


@pytest.fixture(scope="session")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandInServerHandle]:
    handle = StandInServerHandle(tmp_path_factory.mktemp("standin"))
    yield handle
    handle.close()


@pytest.fixture
def cytube_server(request: pytest.FixtureRequest, test_loop: LoopThread) -> Iterator[CytubeServer]:
    if os.environ.get("REFBOT_E2E_SERVER") == "standin":
        yield request.getfixturevalue("standin")
        return
    handle = FakeServerHandle(test_loop)
    yield handle
    handle.close()


@pytest.fixture
def channel() -> str:
    return f"refbot-{os.getpid()}-{next(_channel_numbers)}"


@pytest.fixture
def bots(cytube_server: CytubeServer, refbot_install: Installed, channel: str, tmp_path: Path) -> Iterator[BotFactory]:
    factory = BotFactory(server=cytube_server, installed=refbot_install, channel=channel, workdir=tmp_path)
    yield factory
    factory.close()


@pytest.fixture
def probe(test_loop: LoopThread, cytube_server: CytubeServer, channel: str) -> Iterator[Probe]:
    password = f"probe-{secrets.token_hex(8)}"
    cytube_server.register_account(PROBE_NAME, password)
    client = Probe(test_loop, cytube_server, channel, PROBE_NAME, password)
    yield client
    client.close()

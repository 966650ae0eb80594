"""Fixtures for the CyTube stand-in tests: real server subprocesses and real socket.io clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from standin_harness import Probe, StandIn, fresh_ip, start_standin


@pytest.fixture(scope="session")
def standin_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., StandIn]]:
    started: list[StandIn] = []

    def factory(limits: dict[str, Any] | None = None, **extra: Any) -> StandIn:
        server = start_standin(tmp_path_factory.mktemp("standin"), limits, extra)
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def standin(standin_factory: Callable[..., StandIn]) -> StandIn:
    """The shared server with CyTube's default limits."""
    return standin_factory()


@pytest.fixture(autouse=True)
def _reset_shared_server(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "standin" in request.fixturenames:
        server: StandIn = request.getfixturevalue("standin")
        if server.process.poll() is None:
            server.admin("/admin/reset", {})


@pytest.fixture
def probes() -> Iterator[Callable[..., Probe]]:
    """Factory for connected probes; all are disconnected after the test."""
    made: list[Probe] = []

    def make(
        server: StandIn, ip: str | None = None, connect: bool = True, transports: tuple[str, ...] = ("websocket",)
    ) -> Probe:
        probe = Probe(server=server, ip=ip or fresh_ip())
        made.append(probe)
        if connect:
            probe.connect(transports)
        return probe

    yield make
    for probe in made:
        probe.close()

"""End-to-end fixtures: the real GitHub stand-in and webhook receiver (see notify_harness.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from notify_harness import GITHUB_TOKEN, WEBHOOK_SECRET, Notifier

from sandbox.github.harness import start_github, start_webhooks
from sandbox.github.spec import DEFAULT_SPEC


@pytest.fixture(scope="session")
def notifier(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Notifier]:
    if not DEFAULT_SPEC.is_file():
        pytest.skip("GitHub's OpenAPI description is missing: run scripts/setup.sh (npm @octokit/openapi)")
    workdir = tmp_path_factory.mktemp("notify")
    github = start_github(workdir, [GITHUB_TOKEN])
    webhooks = start_webhooks(workdir, {"audit": WEBHOOK_SECRET})
    try:
        yield Notifier(github, webhooks, workdir)
    finally:
        github.stop()
        webhooks.stop()


@pytest.fixture
def fresh(notifier: Notifier) -> Notifier:
    notifier.github.reset()
    notifier.webhooks.reset()
    return notifier

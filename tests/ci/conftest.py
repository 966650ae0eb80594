"""Fixtures for the release tooling tests: throwaway copies of this repository with a bare `origin`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from release_harness import Checkout, build_template, copy_checkout, undo_baseline


@pytest.fixture(scope="session")
def checkout_template(tmp_path_factory: pytest.TempPathFactory) -> Checkout:
    """Built once: this repository imported in one commit, its version tagged (`release.py baseline`), pushed."""
    return build_template(tmp_path_factory.mktemp("template"))


@pytest.fixture
def new_checkout(tmp_path: Path, checkout_template: Checkout) -> Callable[..., Checkout]:
    def copy(baseline: bool = True, name: str = "repo") -> Checkout:
        checkout = copy_checkout(checkout_template, tmp_path / name)
        if not baseline:
            undo_baseline(checkout)
        return checkout

    return copy


@pytest.fixture
def checkout(new_checkout: Callable[..., Checkout]) -> Checkout:
    return new_checkout()

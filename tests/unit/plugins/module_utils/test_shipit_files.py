"""Unit tests for shipit_files: atomic writes."""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible_collections.cytube.shipit.plugins.module_utils import shipit_files as sf

pytestmark = pytest.mark.timeout(30)


def test_atomic_write_sets_mode(tmp_path: Path) -> None:
    target = tmp_path / "secret"
    sf.atomic_write(str(target), b"x", 0o600)
    assert target.read_bytes() == b"x"
    assert (target.stat().st_mode & 0o777) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secret"]

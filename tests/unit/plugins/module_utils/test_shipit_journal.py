"""The outcome journal: append-only, idempotent on the outcome id, survives a torn last line."""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_journal import (
    append_outcome,
    journal_path,
    mark_sent,
    read_outcomes,
    sent_ids,
    sent_path,
    unsent_outcomes,
)


@pytest.fixture
def state_dir(tmp_path: Path) -> str:
    return str(tmp_path / "chan" / ".shipit")


def test_append_is_idempotent_on_the_id(state_dir: str) -> None:
    assert append_outcome(state_dir, {"id": "a", "status": "success"})
    assert not append_outcome(state_dir, {"id": "a", "status": "failed"})
    assert read_outcomes(state_dir) == [{"id": "a", "status": "success"}]


def test_an_outcome_without_id_is_refused(state_dir: str) -> None:
    with pytest.raises(ValueError, match="string id"):
        append_outcome(state_dir, {"status": "success"})


def test_unsent_until_marked_oldest_first(state_dir: str) -> None:
    for name in "abc":
        append_outcome(state_dir, {"id": name})
    assert [o["id"] for o in unsent_outcomes(state_dir)] == ["a", "b", "c"]
    assert mark_sent(state_dir, ["b", "zzz", "b"]) == ["b"]
    assert mark_sent(state_dir, ["b"]) == []
    assert [o["id"] for o in unsent_outcomes(state_dir)] == ["a", "c"]
    assert [o["id"] for o in unsent_outcomes(state_dir, limit=1)] == ["a"]
    assert sent_ids(state_dir) == {"b"}


def test_a_torn_last_line_is_skipped_and_the_next_append_starts_fresh(state_dir: str) -> None:
    append_outcome(state_dir, {"id": "a"})
    with open(journal_path(state_dir), "a", encoding="utf-8") as handle:
        handle.write('{"id": "torn", "sta')
    with open(sent_path(state_dir), "w", encoding="utf-8") as handle:
        handle.write("a")
    assert [o["id"] for o in read_outcomes(state_dir)] == ["a"]
    append_outcome(state_dir, {"id": "b"})
    mark_sent(state_dir, ["b"])
    assert [o["id"] for o in read_outcomes(state_dir)] == ["a", "b"]
    assert sent_ids(state_dir) == {"a", "b"}
    assert unsent_outcomes(state_dir) == []


def test_no_journal_means_nothing_unsent(state_dir: str) -> None:
    assert unsent_outcomes(state_dir) == [] and sent_ids(state_dir) == set()

"""outcome_journal on a temporary root: list the unsent outcomes of a host, mark acknowledged ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_journal import append_outcome, sent_ids
from ansible_collections.cytube.shipit.plugins.modules import outcome_journal
from module_harness import run

pytestmark = pytest.mark.timeout(60)


def journal(root: Path, channel: str, *numbers: int) -> list[dict[str, Any]]:
    outcomes = [{"id": f"run-{n}:deploy:{channel}:h", "channel": channel} for n in numbers]
    for outcome in outcomes:
        append_outcome(str(root / channel / ".shipit"), outcome)
    return outcomes


def ids(outcomes: list[dict[str, Any]]) -> list[str]:
    return [o["id"] for o in outcomes]


def test_lists_every_channels_unsent_outcomes_oldest_first(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    first = journal(tmp_path, "alpha", 1, 2)
    second = journal(tmp_path, "beta", 3)
    (tmp_path / "no-journal" / "releases").mkdir(parents=True)
    failed, out = run(outcome_journal, capsys, {"root": str(tmp_path)})
    assert not failed and not out["changed"]
    assert out["outcomes"] == first + second and out["unsent"] == 3
    assert out["channels"] == ["alpha", "beta"]


def test_one_channel_and_a_limit(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    journal(tmp_path, "alpha", 1, 2, 3)
    journal(tmp_path, "beta", 4)
    failed, out = run(outcome_journal, capsys, {"root": str(tmp_path), "channel": "Alpha", "limit": 2})
    assert not failed
    assert ids(out["outcomes"]) == ["run-1:deploy:alpha:h", "run-2:deploy:alpha:h"] and out["unsent"] == 3


def test_marking_sent_is_idempotent_and_reaches_the_right_journal(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    alpha = journal(tmp_path, "alpha", 1, 2)
    beta = journal(tmp_path, "beta", 3)
    acked = [alpha[0]["id"], beta[0]["id"], "unknown:id"]
    failed, out = run(outcome_journal, capsys, {"root": str(tmp_path), "state": "sent", "ids": acked})
    assert not failed and out["changed"] and out["marked"] == acked[:2] and out["unsent"] == 1
    assert sent_ids(str(tmp_path / "alpha" / ".shipit")) == {alpha[0]["id"]}
    assert sent_ids(str(tmp_path / "beta" / ".shipit")) == {beta[0]["id"]}
    failed, out = run(outcome_journal, capsys, {"root": str(tmp_path), "state": "sent", "ids": acked})
    assert not failed and not out["changed"] and out["marked"] == []
    _, out = run(outcome_journal, capsys, {"root": str(tmp_path)})
    assert out["outcomes"] == alpha[1:]


def test_check_mode_reports_without_writing(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    alpha = journal(tmp_path, "alpha", 1, 2)
    args = {"root": str(tmp_path), "state": "sent", "ids": [alpha[0]["id"]]}
    failed, out = run(outcome_journal, capsys, args, check_mode=True)
    assert not failed and out["changed"] and out["marked"] == [alpha[0]["id"]] and out["unsent"] == 1
    assert not (tmp_path / "alpha" / ".shipit" / "outcomes.sent").exists()


def test_a_missing_root_has_nothing_unsent(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    failed, out = run(outcome_journal, capsys, {"root": str(tmp_path / "absent")})
    assert not failed and out["outcomes"] == [] and out["unsent"] == 0


@pytest.mark.parametrize(
    "args, named",
    [
        ({"root": "relative/dir"}, "root 'relative/dir' must be an absolute path"),
        ({"channel": "bad channel!"}, "channel 'bad channel!' is not a valid CyTube channel name"),
        ({"limit": 0}, "limit 0 must be at least 1"),
    ],
)
def test_bad_input_is_named(tmp_path: Path, capsys: pytest.CaptureFixture, args: dict[str, Any], named: str) -> None:
    failed, out = run(outcome_journal, capsys, dict({"root": str(tmp_path)}, **args))
    assert failed and named in out["msg"]

# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The outcome journal of one channel on its bot host.

Every run's outcome (see ``meta/outcome.schema.json``) is appended, one JSON document per
line, to ``<root>/<channel>/.shipit/outcomes.jsonl`` before it is shipped anywhere: the bot
host outlives CI runners and controllers.  Shipping is tracked beside it in
``outcomes.sent`` (one acknowledged outcome id per line), so the journal itself is never
rewritten and an outcome the store did not acknowledge stays unsent until a later run
ships it.

Both files are append-only.  A write killed half way leaves a last line without its
newline: readers skip lines that are not a JSON object, and the next append starts on
a fresh line.
"""

from __future__ import annotations

import errno
import json
import os
from typing import Any, Dict, Iterable, List, Optional, Set

JOURNAL_NAME = "outcomes.jsonl"
SENT_NAME = "outcomes.sent"
JOURNAL_MODE = 0o640


def journal_path(state_dir: str) -> str:
    return os.path.join(state_dir, JOURNAL_NAME)


def sent_path(state_dir: str) -> str:
    return os.path.join(state_dir, SENT_NAME)


def _read_lines(path: str) -> List[str]:
    try:
        with open(path, "r", encoding="utf-8", errors="replace") as handle:
            return handle.read().splitlines()
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return []
        raise


def _append_line(path: str, line: str) -> None:
    """Append ``line`` durably, starting a new line if a killed write left one open."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, JOURNAL_MODE)
    try:
        size = os.fstat(fd).st_size
        prefix = b""
        if size:
            with open(path, "rb") as reader:
                reader.seek(size - 1)
                if reader.read(1) != b"\n":
                    prefix = b"\n"
        os.write(fd, prefix + line.encode("utf-8") + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)


def read_outcomes(state_dir: str) -> List[Dict[str, Any]]:
    """Every complete outcome in the journal, oldest first."""
    outcomes = []
    for line in _read_lines(journal_path(state_dir)):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict) and isinstance(value.get("id"), str):
            outcomes.append(value)
    return outcomes


def outcome_ids(state_dir: str) -> Set[str]:
    return {outcome["id"] for outcome in read_outcomes(state_dir)}


def append_outcome(state_dir: str, outcome: Dict[str, Any]) -> bool:
    """Append ``outcome`` unless an outcome with its id is already there; True when appended."""
    outcome_id = outcome.get("id")
    if not isinstance(outcome_id, str) or not outcome_id:
        raise ValueError("an outcome needs a string id")
    if outcome_id in outcome_ids(state_dir):
        return False
    os.makedirs(state_dir, 0o755, exist_ok=True)
    _append_line(journal_path(state_dir), json.dumps(outcome, sort_keys=True, separators=(",", ":")))
    return True


def sent_ids(state_dir: str) -> Set[str]:
    return {line.strip() for line in _read_lines(sent_path(state_dir)) if line.strip()}


def unsent_outcomes(state_dir: str, limit: Optional[int] = None) -> List[Dict[str, Any]]:
    """Outcomes not acknowledged by the store yet, oldest first (at most ``limit``)."""
    done = sent_ids(state_dir)
    pending = [outcome for outcome in read_outcomes(state_dir) if outcome["id"] not in done]
    return pending if limit is None else pending[:limit]


def mark_sent(state_dir: str, ids: Iterable[str]) -> List[str]:
    """Record ``ids`` as acknowledged by the store; returns the ids newly marked."""
    done = sent_ids(state_dir)
    known = outcome_ids(state_dir)
    fresh = []
    for outcome_id in ids:
        if outcome_id in known and outcome_id not in done and outcome_id not in fresh:
            fresh.append(outcome_id)
    if fresh:
        os.makedirs(state_dir, 0o755, exist_ok=True)
        _append_line(sent_path(state_dir), "\n".join(fresh))
    return fresh

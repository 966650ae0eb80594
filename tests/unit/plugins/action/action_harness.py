"""Shared helper for the action plugin unit tests: an ActionModule on a real Task, a fake connection."""

from __future__ import annotations

import posixpath
from typing import Any
from unittest.mock import MagicMock

from ansible.parsing.dataloader import DataLoader
from ansible.playbook.play_context import PlayContext
from ansible.playbook.task import Task
from ansible.template import Templar


def make_action(module: Any, action: str, args: dict[str, Any], check_mode: bool = False) -> Any:
    """``module.ActionModule`` for a task ``action: args``; the connection only knows POSIX paths."""
    task = Task()
    task.action = action
    task.args = dict(args)
    task.check_mode = check_mode
    connection = MagicMock()
    connection._shell.tmpdir = None
    connection._shell.join_path = posixpath.join
    loader = DataLoader()
    return module.ActionModule(task, connection, PlayContext(), loader, Templar(loader=loader), None)

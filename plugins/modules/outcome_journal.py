#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read a bot host's outcome journals and record which outcomes the store acknowledged."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: outcome_journal
short_description: List the outcomes a bot host has not shipped yet, or mark shipped ones as sent
version_added: "0.1.0"
description:
  - Every run's outcome is journaled on the bot host in C(<root>/<channel>/.shipit/outcomes.jsonl); the ids the
    store acknowledged are recorded beside it in C(outcomes.sent). Both files are append-only.
  - O(state=unsent) lists the outcomes not acknowledged yet, oldest first, across every channel under O(root)
    (or only O(channel)). Nothing is changed.
  - O(state=sent) records O(ids) as acknowledged in the journal of each channel that holds them; ids a journal does
    not hold and ids already recorded are ignored, so repeating it changes nothing.
author:
  - cytube.shipit maintainers (@cytube)
extends_documentation_fragment:
  - cytube.shipit.attributes
options:
  state:
    description: C(unsent) lists unshipped outcomes; C(sent) marks O(ids) as shipped.
    type: str
    choices: [unsent, sent]
    default: unsent
  channel:
    description: Only this channel's journal. Default - every channel under O(root).
    type: str
  root:
    description: Directory holding one directory per channel on the host.
    type: path
    default: /srv/cytube-bots
  ids:
    description: With O(state=sent), the outcome ids the store acknowledged.
    type: list
    elements: str
    default: []
  limit:
    description: With O(state=unsent), list at most this many outcomes (the oldest).
    type: int
    default: 500
seealso:
  - module: cytube.shipit.deploy_event
"""

EXAMPLES = r"""
- name: List the outcomes of every channel on this host that the dashboard has not acknowledged
  cytube.shipit.outcome_journal:
    state: unsent
  register: unsent

- name: Record the acknowledged ones
  cytube.shipit.outcome_journal:
    state: sent
    ids: "{{ shipped.acked }}"
"""

RETURN = r"""
outcomes:
  description: With O(state=unsent), the unsent outcome documents, oldest first within a channel (at most O(limit)).
  returned: always
  type: list
  elements: dict
unsent:
  description: Number of unsent outcomes in the journals read (before O(limit); after marking for O(state=sent)).
  returned: always
  type: int
channels:
  description: The channel directories whose journals were read.
  returned: always
  type: list
  elements: str
marked:
  description: With O(state=sent), the ids newly recorded as sent (those that would be, in check mode).
  returned: always
  type: list
  elements: str
"""

import os
from typing import Any, Dict, List

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_journal import (
    journal_path,
    mark_sent,
    outcome_ids,
    sent_ids,
    unsent_outcomes,
)
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_layout import (
    DEFAULT_ROOT,
    ChannelLayout,
    ShipitError,
)

STATE_DIR_NAME = ".shipit"


def channel_state_dirs(root: str, channel: Any) -> Dict[str, str]:
    """channel directory name -> its state dir, for the journals that exist (or the one channel asked for)."""
    if channel:
        layout = ChannelLayout(root, channel)
        return {layout.key: layout.state_dir}
    try:
        names = sorted(os.listdir(root))
    except FileNotFoundError:
        return {}
    dirs = {name: os.path.join(root, name, STATE_DIR_NAME) for name in names}
    return {name: path for name, path in dirs.items() if os.path.isfile(journal_path(path))}


def list_unsent(state_dirs: Dict[str, str], limit: int) -> Dict[str, Any]:
    pending: List[Dict[str, Any]] = []
    for state_dir in state_dirs.values():
        pending.extend(unsent_outcomes(state_dir))
    return {"changed": False, "outcomes": pending[:limit], "unsent": len(pending), "marked": []}


def would_mark(state_dir: str, ids: List[str]) -> List[str]:
    known, done = outcome_ids(state_dir), sent_ids(state_dir)
    return [outcome_id for outcome_id in dict.fromkeys(ids) if outcome_id in known and outcome_id not in done]


def record_sent(state_dirs: Dict[str, str], ids: List[str], check_mode: bool) -> Dict[str, Any]:
    marked: List[str] = []
    left = 0
    for state_dir in state_dirs.values():
        fresh = would_mark(state_dir, ids) if check_mode else mark_sent(state_dir, ids)
        marked.extend(fresh)
        left += len(unsent_outcomes(state_dir)) - (len(fresh) if check_mode else 0)
    return {"changed": bool(marked), "outcomes": [], "unsent": left, "marked": marked}


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", choices=["unsent", "sent"], default="unsent"),
            channel=dict(type="str"),
            root=dict(type="path", default=DEFAULT_ROOT),
            ids=dict(type="list", elements="str", default=[]),
            limit=dict(type="int", default=500),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if params["limit"] < 1:
        module.fail_json(msg="limit %r must be at least 1" % params["limit"])
    if not os.path.isabs(params["root"]):
        module.fail_json(msg="root %r must be an absolute path, e.g. %s" % (params["root"], DEFAULT_ROOT))
    try:
        state_dirs = channel_state_dirs(params["root"], params["channel"])
        if params["state"] == "unsent":
            result = list_unsent(state_dirs, params["limit"])
        else:
            result = record_sent(state_dirs, params["ids"], module.check_mode)
    except ShipitError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg="cannot use the outcome journal under %s: %s" % (params["root"], exc))
    module.exit_json(channels=sorted(state_dirs), **result)


if __name__ == "__main__":
    main()

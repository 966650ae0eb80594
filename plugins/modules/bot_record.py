#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The end of a run on the bot host: record the live release, journal the outcome, unlock."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: bot_record
short_description: Record a run on the bot host - live release, outcome journal and lock - in one round trip
version_added: "0.2.0"
description:
  - The last host step of every deploy, rollback and verify run, normally called by M(cytube.shipit.run_outcome)
    with the outcome it built.
  - With O(record), records the release that is live now (C(good) when verified) in the channel's state and
    prunes old releases. Recording is refused when this run no longer holds the channel lock (for example after
    a takeover); the outcome is then not journaled either, so the caller can journal a corrected one.
  - With O(outcome), appends the run's outcome to the channel's journal
    C(<root>/<channel>/.shipit/outcomes.jsonl), unless an outcome with the same id is there already.
  - With O(release_lock), releases the channel lock when this run holds it (a no-op otherwise).
author:
  - cytube.shipit maintainers (@cytube)
extends_documentation_fragment:
  - cytube.shipit.channel_layout
  - cytube.shipit.attributes
options:
  token:
    description: Lock holder token of this run. Set by the calling action plugin.
    type: str
  record:
    description:
      - The release that is live now - C(release) (id), C(verified) (bool, default true), C(pop) (a release a
        rollback left), C(keep) (releases to keep, 0 keeps all) and C(event) (a short event to remember).
    type: dict
  outcome:
    description: The run's outcome (see C(meta/outcome.schema.json)) to append to the journal.
    type: dict
  release_lock:
    description: Release the channel lock held by this run.
    type: bool
    default: true
seealso:
  - module: cytube.shipit.run_outcome
  - module: cytube.shipit.channel_lock
"""

EXAMPLES = r"""
- name: Journal an outcome and release the lock (the run_outcome action plugin does this for you)
  cytube.shipit.bot_record:
    channel: mychannel
    token: "{{ lock_token }}"
    outcome: "{{ outcome }}"
"""

RETURN = r"""
recorded:
  description: Whether the live release was recorded.
  returned: always
  type: bool
record_error:
  description: Why recording the release failed (then nothing was journaled and the lock was kept).
  returned: when recording failed
  type: str
pruned:
  description: Releases removed while recording.
  returned: always
  type: list
  elements: str
journaled:
  description: Whether the outcome was appended to the journal (false when it was there already).
  returned: always
  type: bool
journal:
  description: Path of the channel's outcome journal.
  returned: always
  type: str
released:
  description: Whether the channel lock was released.
  returned: always
  type: bool
"""

from typing import Any, Dict, Optional

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_journal import append_outcome, journal_path
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_layout import (
    CHANNEL_LAYOUT_ARGUMENT_SPEC,
    ChannelLayout,
    ShipitError,
)
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_lock import describe_holder, lock_operation
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_state import record_live


def record_release(layout: ChannelLayout, token: str, record: Dict[str, Any], check_mode: bool) -> Dict[str, Any]:
    held = lock_operation(layout, "query", token, {}, 0)
    if not held["acquired"]:
        raise ShipitError(
            "this run no longer holds the lock of channel %s (holder: %s); nothing was recorded"
            % (layout.channel, describe_holder(held["holder"]))
        )
    if not record.get("release"):
        raise ShipitError("record needs the release that is live")
    return record_live(
        layout,
        str(record["release"]),
        verified=bool(record.get("verified", True)),
        pop=record.get("pop") or None,
        keep=int(record.get("keep") or 0),
        event=record.get("event") or None,
        check_mode=check_mode,
    )


def run(module: AnsibleModule) -> Dict[str, Any]:
    p = module.params
    layout = ChannelLayout(p["root"], p["channel"])
    result: Dict[str, Any] = {
        "changed": False,
        "recorded": False,
        "pruned": [],
        "journaled": False,
        "released": False,
        "journal": journal_path(layout.state_dir),
    }
    if p["record"]:
        try:
            recorded = record_release(layout, p["token"] or "", p["record"], module.check_mode)
        except (ShipitError, OSError, ValueError) as exc:
            result["record_error"] = str(exc)
            return result
        result.update(recorded=True, pruned=recorded["pruned"], changed=recorded["changed"])
    outcome: Optional[Dict[str, Any]] = p["outcome"]
    if outcome and not module.check_mode:
        result["journaled"] = append_outcome(layout.state_dir, outcome)
    if p["release_lock"] and p["token"]:
        released = lock_operation(layout, "released", p["token"], {}, 0, check_mode=module.check_mode)
        result["released"] = released["released"]
    return result


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            **CHANNEL_LAYOUT_ARGUMENT_SPEC,
            token=dict(type="str", no_log=False),
            record=dict(type="dict"),
            outcome=dict(type="dict"),
            release_lock=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    try:
        result = run(module)
    except ShipitError as exc:
        module.fail_json(msg=str(exc))
    except (OSError, ValueError) as exc:
        module.fail_json(msg="cannot record the run on channel %s: %s" % (module.params["channel"], exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()

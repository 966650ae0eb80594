#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The per-channel deploy lock on a bot host."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: channel_lock
short_description: Take, refresh or release the per-channel deploy lock on a bot host
version_added: "0.1.0"
description:
  - Serialises deploys and rollbacks of one channel. The lock is a file on the bot host,
    C(<root>/<channel>/.shipit/lock.json), naming its holder (user, controller host, pid, playbook,
    start time and CI run URL), updated under C(flock) so two runs can never both win.
  - The action plugin of the same name runs on the controller and does the waiting. Its holder
    identity is the C(ansible-playbook) process (controller host, boot id, pid and the pid's start
    time), so every task of one run shares the lock and a second run does not.
  - A second run waits up to O(wait) seconds, polling, then fails with a message naming the holder.
  - A stale lock is taken over safely. A holder on the same controller whose process is gone (a run
    killed with SIGKILL) is detected at once by its pid and start time. A holder on another controller
    is stale once its heartbeat is older than its O(ttl); every lock operation of the holder refreshes
    the heartbeat.
  - In check mode the lock is only looked at (never taken); a live holder is reported, not waited for.
author:
  - cytube.shipit maintainers (@cytube)
extends_documentation_fragment:
  - cytube.shipit.channel_layout
  - cytube.shipit.attributes
  - cytube.shipit.attributes.action
options:
  state:
    description:
      - C(acquired) takes the lock (or refreshes it when this run holds it); C(released) gives it back
        (a no-op when this run does not hold it). The end of a run releases it together with its record
        (M(cytube.shipit.bot_record)).
    type: str
    choices: [acquired, released]
    default: acquired
  wait:
    description: Seconds to wait for a lock held by another live run before failing.
    type: float
    default: 120
  poll:
    description: Seconds between two attempts while waiting.
    type: float
    default: 0.5
  ttl:
    description:
      - Seconds after its last heartbeat when a lock held from another controller counts as stale.
        Set it above the longest deploy (including a production stability window).
    type: int
    default: 1800
  purpose:
    description: What the holder is doing, shown to a run that has to wait (e.g. C(deploy 2.0.0)).
    type: str
  token:
    description: Holder token. Set by the action plugin; do not set it yourself.
    type: str
  owner:
    description: Holder details. Set by the action plugin.
    type: dict
  takeover:
    description: Token of a holder found dead, to replace. Set by the action plugin.
    type: str
  rollback_view:
    description:
      - Also answer what a rollback to "previous" would do (RV(rollback)), read under the lock just taken, so
        that a rollback needs no separate look at the host before it switches (one host round trip less).
    type: bool
    default: false
seealso:
  - module: cytube.shipit.bot_instance
"""

EXAMPLES = r"""
- name: Take the channel lock (wait up to 2 minutes for another deploy)
  cytube.shipit.channel_lock:
    channel: mychannel
    wait: 120
    purpose: deploy 2.0.0

- name: Release the channel lock
  cytube.shipit.channel_lock:
    channel: mychannel
    state: released
"""

RETURN = r"""
acquired:
  description: Whether this run holds the lock after the task.
  returned: always
  type: bool
released:
  description: Whether this task released the lock.
  returned: always
  type: bool
holder:
  description: The lock record (token, owner, acquired_at, heartbeat_at, ttl), null when free.
  returned: always
  type: dict
holder_text:
  description: One line naming the holder.
  returned: always
  type: str
took_over:
  description: Whether a stale lock was taken over.
  returned: always
  type: bool
previous_holder:
  description: The stale holder that was replaced.
  returned: when took_over
  type: dict
waited:
  description: Seconds spent waiting for another run.
  returned: always
  type: float
releases:
  description:
    - Ids of the complete releases of the channel on the host, read under the lock (so that
      M(cytube.shipit.bot_release) can skip asking the host again). A release whose virtualenv
      no longer matches what pip installed (edited by hand) is left out, so that a deploy of it
      builds it again instead of reusing it; it is listed in RV(drifted).
  returned: when acquired
  type: list
  elements: str
drifted:
  description: The complete releases that drifted since their build, each with one sentence naming the files.
  returned: when acquired
  type: dict
  sample: {"1.2.0-01234567": "release 1.2.0-01234567 differs from what was built and verified (venv/bin/x: modified)"}
live:
  description: The release C(current) points at (null when none).
  returned: when acquired
  type: str
rollback:
  description:
    - What a rollback to "previous" would do, as M(cytube.shipit.bot_releases) answers it with
      C(integrity_of=previous) - C(previous_good) (the target, null when there is none),
      C(previous_skipped) (stack entries passed over, each with why), C(previous_fallback) (set when the
      target is not on the live stack) and C(integrity) (the target's drifted files and one sentence).
  returned: when acquired and O(rollback_view=true)
  type: dict
  sample: {"previous_good": "1.1.0-0123456789", "previous_skipped": [], "previous_fallback": null,
           "integrity": {"release": "1.1.0-0123456789", "drifted": [], "message": ""}}
"""

from typing import Any, Dict

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_integrity import describe_drift, drifted_files
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_layout import (
    CHANNEL_LAYOUT_ARGUMENT_SPEC,
    ChannelLayout,
    ShipitError,
)
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_lock import (
    DEFAULT_LOCK_TTL,
    DEFAULT_LOCK_WAIT,
    describe_holder,
    lock_operation,
)
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_release_dirs import current_release, scan_releases
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_rollback import previous_view
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_state import load_state


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            **CHANNEL_LAYOUT_ARGUMENT_SPEC,
            state=dict(type="str", choices=["acquired", "released"], default="acquired"),
            wait=dict(type="float", default=float(DEFAULT_LOCK_WAIT)),
            poll=dict(type="float", default=0.5),
            ttl=dict(type="int", default=DEFAULT_LOCK_TTL),
            purpose=dict(type="str"),
            token=dict(type="str", no_log=False),
            owner=dict(type="dict"),
            takeover=dict(type="str"),
            rollback_view=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if not p["token"]:
        module.fail_json(
            msg="token is missing: call cytube.shipit.channel_lock as a task (its action plugin "
            "sets the holder identity)"
        )
    try:
        layout = ChannelLayout(p["root"], p["channel"])
        state = "query" if module.check_mode and p["state"] == "acquired" else p["state"]
        result: Dict[str, Any] = lock_operation(
            layout, state, p["token"], p["owner"] or {}, p["ttl"], takeover=p["takeover"], check_mode=module.check_mode
        )
        if p["state"] == "acquired":
            releases = scan_releases(layout)
            complete = [r for r in releases if r.complete]
            drift = {r.id: drifted_files(r.path) for r in complete}
            result["releases"] = sorted(r.id for r in complete if not drift[r.id])
            result["drifted"] = {rid: describe_drift(rid, files) for rid, files in drift.items() if files}
            result["live"] = current_release(layout)
            if p["rollback_view"]:
                result["rollback"] = previous_view(load_state(layout), releases, result["live"], drift)
    except ShipitError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg="cannot use the lock of channel %s: %s" % (p["channel"], exc))
    if module.check_mode and p["state"] == "acquired":
        holder = result.get("holder")
        result["acquired"] = not holder or holder.get("token") == p["token"]
    result["holder_text"] = describe_holder(result.get("holder"))
    module.exit_json(**result)


if __name__ == "__main__":
    main()

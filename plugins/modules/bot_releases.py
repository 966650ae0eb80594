#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The releases of a channel's bot on one host: list, marks, live stack, prune."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: bot_releases
short_description: List a channel's bot releases, mark them good or bad, and prune old ones
version_added: "0.1.0"
description:
  - Reads and updates the release state of one channel on a bot host
    (C(<root>/<channel>/.shipit/state.json)) and the release directories under C(releases/).
  - Without O(state) the module only reports - it lists the releases, newest first, with which one is live,
    which one the instance is
    running, which are bad (and why), and which one a rollback would go to (the previous good release).
    With O(resolve) it also checks a rollback target and fails, naming the available releases, when the
    target does not exist or is marked bad without O(allow_bad), so a rollback is refused before anything changes.
  - O(state=verified) records a release as verified live (status C(good), pushed on the live stack; O(pop) drops
    the release a rollback left), then prunes to the last O(keep) releases. Pruning never removes the live
    release, the previous good release, anything in O(protect), or the most recently marked bad release
    (kept for forensics).
  - O(state=live) records a release as live without marking it verified (an emergency rollback), with O(pop) as above.
  - O(state=bad) marks a release bad with a reason; later rollbacks skip it. The release directory is kept.
  - O(state=unmarked) clears a bad mark.
  - Release directories are never modified; marks live in the state file.
author:
  - cytube.shipit maintainers (@cytube)
extends_documentation_fragment:
  - cytube.shipit.channel_layout
options:
  state:
    description: What to record (see the description); omit it to only list.
    type: str
    choices: [verified, live, bad, unmarked]
  release:
    description: The release to mark. Defaults to the live release.
    type: str
  reason:
    description: Why the release is bad (shown by C(rollback list)).
    type: str
  pop:
    description: With O(state=verified), a release left by a rollback, removed from the live stack.
    type: str
  keep:
    description: With O(state=verified), how many releases to keep (0 keeps all).
    type: int
    default: 5
  protect:
    description: Releases never pruned by this task.
    type: list
    elements: str
    default: []
  event:
    description: An event to remember in the state file (type, actor, run URL...), for forensics.
    type: dict
  resolve:
    description: Without O(state), a rollback target to check (C(previous) or a release id).
    type: str
  allow_bad:
    description: With O(resolve), accept a target marked bad.
    type: bool
    default: false
  unit_name:
    description: Template unit of the bot, used to tell which release the instance is running.
    type: str
    default: cytube-bot@.service
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: >-
      Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
seealso:
  - module: cytube.shipit.bot_instance
"""

EXAMPLES = r"""
- name: List the releases of the channel
  cytube.shipit.bot_releases:
    channel: mychannel
  register: releases

- name: Show them
  ansible.builtin.debug:
    var: releases.lines

- name: Refuse a bad rollback target before changing anything
  cytube.shipit.bot_releases:
    channel: mychannel
    resolve: 1.0.0-0123456789

- name: Record a verified deploy and keep the last 5 releases
  cytube.shipit.bot_releases:
    channel: mychannel
    state: verified
    release: 2.0.0-abcdef0123
    keep: 5

- name: Mark a release bad
  cytube.shipit.bot_releases:
    channel: mychannel
    state: bad
    release: 3.0.0-abcdef0123
    reason: "command_round_trip: no reply within 2 s"
"""

RETURN = r"""
live:
  description: The release C(current) points at (null when none).
  returned: always
  type: str
running:
  description: The release the instance's process runs from (null when not running).
  returned: always
  type: str
previous_good:
  description: The release a rollback to "previous" would use (null when none).
  returned: always
  type: str
target:
  description: The checked rollback target (with O(resolve)).
  returned: when resolve is set
  type: str
target_version:
  description: Version of RV(target).
  returned: when resolve is set
  type: str
releases:
  description:
    - Releases, newest first, with id, version, live, running, status (good, bad, pending, incomplete), bad_reason,
      previous_good, built_at, source, artifact_sha256.
  returned: always
  type: list
  elements: dict
bad:
  description: Ids of the releases marked bad.
  returned: always
  type: list
  elements: str
stack:
  description: The live stack, oldest first.
  returned: always
  type: list
  elements: str
pruned:
  description: Releases removed (or that would be, in check mode).
  returned: always
  type: list
  elements: str
lines:
  description: A human-readable table of RV(releases).
  returned: always
  type: list
  elements: str
"""

from typing import Any, Dict, List, Optional, Sequence

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_files import (
    dump_json,
)
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_layout import (
    CHANNEL_LAYOUT_ARGUMENT_SPEC,
    ChannelLayout,
    ShipitError,
    check_release_id,
    unit_instance,
)
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_release_dirs import (
    ReleaseInfo,
    current_release,
    release_complete,
    running_release,
    scan_releases,
)
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_state import (
    STATUS_BAD,
    add_event,
    clear_mark,
    load_state,
    mark_bad,
    record_live,
    release_status,
    resolve_release,
    rollback_target,
    save_state,
)


def unit_running_release(module: AnsibleModule, layout: ChannelLayout, unit_name: str) -> Optional[str]:
    """The release the channel's unit runs now (None when it runs nothing)."""
    try:
        unit = unit_instance(unit_name, layout.channel)
    except ShipitError:
        return None
    rc, out, _err = module.run_command(["systemctl", "show", "-p", "MainPID", "--value", unit])
    try:
        pid = int(out.strip()) if rc == 0 else 0
    except ValueError:
        pid = 0
    return running_release(layout, pid)


def describe_releases(
    state: Dict[str, Any],
    releases: Sequence[ReleaseInfo],
    current: Optional[str],
    running: Optional[str] = None,
) -> List[Dict[str, Any]]:
    """What ``rollback list`` shows: newest first, with live/bad/good marks."""
    target = rollback_target(state, releases, exclude=[current], current=current)
    rows = []
    for release in sorted(releases, key=lambda r: (r.built_at, r.id), reverse=True):
        entry = state["releases"].get(release.id) or {}
        rows.append(
            {
                "id": release.id,
                "version": release.version,
                "complete": release.complete,
                "live": release.id == current,
                "running": release.id == running if running else None,
                "status": release_status(state, release.id) if release.complete else "incomplete",
                "bad_reason": entry.get("reason") if entry.get("status") == STATUS_BAD else None,
                "previous_good": release.id == target,
                "built_at": release.manifest.get("built_at"),
                "verified_at": entry.get("verified_at"),
                "activated_at": entry.get("activated_at"),
                "source": release.manifest.get("source"),
                "artifact_sha256": release.manifest.get("artifact_sha256"),
                "actor": release.manifest.get("actor"),
                "path": release.path,
            }
        )
    return rows


def format_table(rows: Sequence[Dict[str, Any]]) -> List[str]:
    """Human lines for ``rows`` from :func:`describe_releases`."""
    lines = []
    for row in rows:
        marks = []
        if row["live"]:
            marks.append("LIVE")
        if row["previous_good"]:
            marks.append("previous-good")
        marks.append(row["status"].upper() if row["status"] in (STATUS_BAD, "incomplete") else row["status"])
        line = "%-40s %-12s %-30s built %s" % (
            row["id"],
            row["version"] or "?",
            ",".join(marks),
            row["built_at"] or "?",
        )
        if row["bad_reason"]:
            line += "  bad: %s" % row["bad_reason"]
        lines.append(line)
    return lines


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            **CHANNEL_LAYOUT_ARGUMENT_SPEC,
            state=dict(type="str", choices=["verified", "live", "bad", "unmarked"]),
            release=dict(type="str"),
            reason=dict(type="str"),
            pop=dict(type="str"),
            keep=dict(type="int", default=5),
            protect=dict(type="list", elements="str", default=[]),
            event=dict(type="dict"),
            resolve=dict(type="str"),
            allow_bad=dict(type="bool", default=False),
            unit_name=dict(type="str", default="cytube-bot@.service"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    result: Dict[str, Any] = {"changed": False, "pruned": []}
    try:
        layout = ChannelLayout(p["root"], p["channel"])
        state = load_state(layout)
        before = dump_json(state)
        releases = scan_releases(layout)
        live = current_release(layout)
        if p["keep"] < 0:
            raise ShipitError("keep %d must be 0 (keep all) or more" % p["keep"])
        if p["state"] is None:
            if p["resolve"]:
                target = resolve_release(state, releases, p["resolve"], live, p["channel"], p["allow_bad"])
                result["target"] = target
                result["target_version"] = next((r.version for r in releases if r.id == target), None)
        else:
            release = p["release"] or live
            if not release:
                raise ShipitError("channel %s has no live release and no release was given" % p["channel"])
            check_release_id(release)
            if p["state"] in ("verified", "live", "unmarked") and not release_complete(layout, release):
                raise ShipitError("release %s does not exist for channel %s" % (release, p["channel"]))
            if p["state"] in ("verified", "live"):
                recorded = record_live(
                    layout,
                    release,
                    verified=p["state"] == "verified",
                    pop=p["pop"],
                    keep=p["keep"] if p["state"] == "verified" else 0,
                    protect=p["protect"],
                    event=p["event"],
                    check_mode=module.check_mode,
                )
                result.update(recorded)
                state = load_state(layout) if not module.check_mode else state
                releases = [r for r in releases if r.id not in recorded["pruned"]]
            else:
                if p["state"] == "bad":
                    mark_bad(state, release, p["reason"] or "marked bad")
                else:
                    clear_mark(state, release)
                if p["event"]:
                    add_event(state, dict(p["event"], release=release))
                if dump_json(state) != before:
                    result["changed"] = True
                    if not module.check_mode:
                        save_state(layout, state)
    except ShipitError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg="cannot read or update the releases of channel %s: %s" % (p["channel"], exc))
    running = unit_running_release(module, layout, p["unit_name"])
    rows = describe_releases(state, releases, live, running)
    result.update(
        live=live,
        running=running,
        releases=rows,
        lines=format_table(rows),
        previous_good=rollback_target(state, releases, exclude=[live], current=live),
        bad=sorted(k for k, v in state["releases"].items() if v.get("status") == STATUS_BAD),
        stack=state["stack"],
    )
    if module._diff and result["changed"]:
        result["diff"] = {
            "before": before.decode(),
            "after": dump_json(state).decode(),
            "before_header": layout.state_file,
            "after_header": layout.state_file,
        }
    module.exit_json(**result)


if __name__ == "__main__":
    main()

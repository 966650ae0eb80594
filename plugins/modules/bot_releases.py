#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The releases of a channel's bot on one host: list them, mark one bad."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: bot_releases
short_description: List a channel's bot releases, or mark one bad
version_added: "0.1.0"
description:
  - Reads the release state of one channel on a bot host (C(<root>/<channel>/.shipit/state.json)) and the
    release directories under C(releases/).
  - Without O(state) the module only reports - it lists the releases, newest first, with which one is live,
    which one the instance is running, which are bad (and why), and which one a rollback would go to (the
    previous good release).
  - O(state=bad) marks a release bad with a reason; later rollbacks skip it. The release directory is kept.
  - Release directories are never modified; marks live in the state file. Recording a release as live
    (and pruning old ones) is M(cytube.shipit.bot_record)'s; resolving a rollback target is done by
    M(cytube.shipit.bot_instance) when it activates the release.
author:
  - cytube.shipit maintainers (@cytube)
extends_documentation_fragment:
  - cytube.shipit.channel_layout
  - cytube.shipit.bot_unit
  - cytube.shipit.attributes.diff
options:
  state:
    description: C(bad) marks O(release) bad; omit it to only list.
    type: str
    choices: [bad]
  release:
    description: The release to mark. Defaults to the live release.
    type: str
  reason:
    description: Why the release is bad (shown by C(rollback list)).
    type: str
  event:
    description: An event to remember in the state file (type, actor, run URL...), for forensics.
    type: dict
  integrity_of:
    description:
      - A release to check against what was built (its virtualenv's files against the sha256 pip recorded), or
        C(previous) for the release a rollback to "previous" would use. The answer is RV(integrity); a rollback
        refuses a release that drifted.
    type: str
seealso:
  - module: cytube.shipit.bot_instance
  - module: cytube.shipit.bot_record
"""

EXAMPLES = r"""
- name: List the releases of the channel
  cytube.shipit.bot_releases:
    channel: mychannel
  register: releases

- name: Show them
  ansible.builtin.debug:
    var: releases.lines

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
previous_skipped:
  description:
    - The releases a rollback to "previous" passes over before RV(previous_good), newest first, each with
      C(id) and C(reason) (no longer on the host, or incomplete; bad releases are skipped by design and not
      listed). Empty when none.
  returned: success
  type: list
  elements: dict
  sample: [{"id": "1.1.0-0badc0ffee12", "reason": "it no longer exists on the host (removed by hand, or pruned)"}]
previous_good:
  description: The release a rollback to "previous" would use (null when none).
  returned: always
  type: str
integrity:
  description:
    - With O(integrity_of), the release checked (C(release), null when "previous" names none), its C(drifted) files
      (each the path followed by C(modified) or C(missing)) and a C(message) naming them (empty when intact).
  returned: when O(integrity_of) is given
  type: dict
  sample: {"release": "1.2.0-0123456789ab", "drifted": ["venv/bin/bot: modified"], "message": "release ..."}
previous_fallback:
  description:
    - When no entry of the live stack is usable, the release RV(previous_good) falls back to (the newest verified
      release; with none verified, the newest older release not marked bad), as C(id) and C(reason). Null when the
      stack names the target, or there is none.
  returned: success
  type: dict
  sample: {"id": "1.2.0-0123456789ab", "reason": "the live stack names no usable release ..."}
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
    UNIT_ARGUMENT_SPEC,
    ChannelLayout,
    ShipitError,
    check_release_id,
    unit_instance,
)
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_release_dirs import (
    ReleaseInfo,
    current_release,
    running_release,
    scan_releases,
)
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_rollback import (
    release_integrity,
    skipped_for_rollback,
)
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_state import (
    PREVIOUS,
    STATUS_BAD,
    add_event,
    load_state,
    mark_bad,
    release_status,
    rollback_fallback,
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


def mark_release_bad(
    layout: ChannelLayout,
    state: Dict[str, Any],
    release: Optional[str],
    reason: Optional[str],
    event: Optional[Dict[str, Any]],
) -> bool:
    """Mark ``release`` bad in ``state`` (with ``event`` remembered); True when that changed it."""
    if not release:
        raise ShipitError("channel %s has no live release and no release was given" % layout.channel)
    check_release_id(release)
    before = dump_json(state)
    mark_bad(state, release, reason or "marked bad")
    if event:
        add_event(state, dict(event, release=release))
    return dump_json(state) != before


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
            state=dict(type="str", choices=["bad"]),
            release=dict(type="str"),
            reason=dict(type="str"),
            event=dict(type="dict"),
            integrity_of=dict(type="str"),
            **UNIT_ARGUMENT_SPEC,
        ),
        supports_check_mode=True,
    )
    p = module.params
    result: Dict[str, Any] = {"changed": False}
    try:
        layout = ChannelLayout(p["root"], p["channel"])
        state = load_state(layout)
        before = dump_json(state)
        releases = scan_releases(layout)
        live = current_release(layout)
        if p["state"] == "bad":
            result["changed"] = mark_release_bad(layout, state, p["release"] or live, p["reason"], p["event"])
            if result["changed"] and not module.check_mode:
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
        previous_skipped=skipped_for_rollback(state, releases, live),
        previous_fallback=rollback_fallback(state, releases, exclude=[live], current=live),
        bad=sorted(k for k, v in state["releases"].items() if v.get("status") == STATUS_BAD),
        stack=state["stack"],
    )
    if p["integrity_of"]:
        wanted = result["previous_good"] if p["integrity_of"] == PREVIOUS else p["integrity_of"]
        try:
            result["integrity"] = release_integrity(layout, wanted)
        except ShipitError as exc:
            module.fail_json(msg="integrity_of: %s" % exc)
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

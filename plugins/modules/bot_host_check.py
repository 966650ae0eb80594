#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host-side health checks of a channel's bot instance."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: bot_host_check
short_description: Check a channel's bot from its host - unit active and stable, health endpoint, journal errors
version_added: "0.1.0"
description:
  - The host half of a verification (the other half, from outside, is M(cytube.shipit.cytube_check)).
  - C(unit_active) - the instance C(cytube-bot@<channel>.service) is active (running).
  - C(unit_stable) - it is not restarting - no automatic restart and no new main process since O(expect_pid)
    / O(baseline_restarts) (from the activation), or since this check started.
  - C(health) - with O(health_url), the bot's health endpoint answers HTTP 200 and C(joined) is not false
    (and reports O(expect_version) when given).
  - C(journal) - no error lines in the journal since the unit's current start (its invocation id) - priority
    C(err) or worse, or a line matching O(journal_pattern).
  - Polls up to O(ready_timeout) seconds for the unit and the health endpoint, and stops early when the unit
    fails; it never sleeps a fixed time. It reports; it fails the task only with O(fail=true).
author:
  - cytube.shipit maintainers (@cytube)
extends_documentation_fragment:
  - cytube.shipit.channel_layout
  - cytube.shipit.bot_unit
  - cytube.shipit.journal_check
  - cytube.shipit.attributes
options:
  health_url:
    description: The bot's health endpoint, polled from the host.
    type: str
  expect_version:
    description: When the health endpoint reports a version, it must be this one.
    type: str
  expect_pid:
    description: The main PID seen at activation; another PID means the bot restarted.
    type: int
    default: 0
  baseline_restarts:
    description:
      - systemd's NRestarts seen at activation; more means the bot restarted.
      - Default - the value at the start of this check.
    type: int
  ready_timeout:
    description: Seconds to wait for the unit to be active and the health endpoint to say joined.
    type: float
    default: 10
  fail:
    description: Fail the task when a check fails (otherwise only RV(ok) says so).
    type: bool
    default: false
seealso:
  - module: cytube.shipit.cytube_check
  - module: cytube.shipit.bot_instance
"""

EXAMPLES = r"""
- name: Check the bot from its host
  cytube.shipit.bot_host_check:
    channel: mychannel
    health_url: http://127.0.0.1:8765/health
  register: host_check
"""

RETURN = r"""
ok:
  description: Whether every check passed.
  returned: always
  type: bool
checks:
  description: The checks, each with name, ok, latency_ms, expected, seen and message.
  returned: always
  type: list
  elements: dict
failed_check:
  description: Name of the first failed check (null when all passed).
  returned: always
  type: str
main_pid:
  description: PID of the bot process.
  returned: always
  type: int
restarts:
  description: systemd's NRestarts of the instance.
  returned: always
  type: int
running_release:
  description: The release the process runs from.
  returned: always
  type: str
health:
  description: The health endpoint's JSON answer.
  returned: when health_url is set
  type: dict
journal_errors:
  description: Error lines found in the journal since the unit's start.
  returned: always
  type: list
  elements: str
msg:
  description: A summary naming the failed checks, what was expected and what was seen.
  returned: always
  type: str
"""

from typing import Any, Dict

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_layout import (
    CHANNEL_LAYOUT_ARGUMENT_SPEC,
    UNIT_ARGUMENT_SPEC,
    ChannelLayout,
    ShipitError,
    unit_instance,
)
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_release_dirs import (
    running_release,
)
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_service import (
    JOURNAL_ARGUMENT_SPEC,
    journal_check,
    wait_ready,
)


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            **CHANNEL_LAYOUT_ARGUMENT_SPEC,
            **UNIT_ARGUMENT_SPEC,
            health_url=dict(type="str"),
            expect_version=dict(type="str"),
            expect_pid=dict(type="int", default=0),
            baseline_restarts=dict(type="int"),
            ready_timeout=dict(type="float", default=10.0),
            **JOURNAL_ARGUMENT_SPEC,
            fail=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        layout = ChannelLayout(p["root"], p["channel"])
        unit = unit_instance(p["unit_name"], p["channel"])
    except ShipitError as exc:
        module.fail_json(msg=str(exc))

    def run(argv: Any) -> Any:
        return module.run_command(list(argv), environ_update={"SYSTEMD_PAGER": "", "LC_ALL": "C"})

    waited = wait_ready(
        run,
        unit,
        p["health_url"],
        p["ready_timeout"],
        settle=0.0,
        version=p["expect_version"],
        baseline_restarts=p["baseline_restarts"],
        expect_pid=p["expect_pid"],
        channel=p["channel"],
    )
    checks = waited["checks"]
    errors = []
    if p["journal"]:
        journal, errors = journal_check(run, unit, waited["props"].get("InvocationID", ""), p["journal_pattern"])
        checks.append(journal)
    failed = [c for c in checks if not c["ok"]]
    running = running_release(layout, waited["main_pid"])
    result: Dict[str, Any] = {
        "changed": False,
        "ok": not failed,
        "checks": checks,
        "failed_check": failed[0]["name"] if failed else None,
        "main_pid": waited["main_pid"],
        "restarts": waited["restarts"],
        "running_release": running,
        "journal_errors": errors,
        "unit": unit,
        "msg": "host checks of %s passed" % unit if not failed else "; ".join(c["message"] for c in failed),
    }
    if p["health_url"]:
        result["health"] = waited["health"]
    if failed and p["fail"]:
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()

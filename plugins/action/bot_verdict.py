# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""cytube.shipit.bot_verdict: one verdict from the host and CyTube checks (controller only)."""

from __future__ import annotations

from typing import Any, Dict, Optional

from ansible.plugins.action import ActionBase
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_verdict import HEALTHY, NOT_HEALTHY, decide


class ActionModule(ActionBase):
    """Runs on the controller only: no module is sent to any host."""

    _VALID_ARGS = frozenset(("host", "cytube", "final_host", "preflight", "subject", "fail", "fail_on"))

    def run(self, tmp: Any = None, task_vars: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        _spec, args = self.validate_argument_spec(
            argument_spec=dict(
                host=dict(type="dict"),
                cytube=dict(type="dict"),
                final_host=dict(type="dict"),
                preflight=dict(type="dict"),
                subject=dict(type="str", default="the bot"),
                fail=dict(type="bool", default=True),
                fail_on=dict(
                    type="list",
                    elements="str",
                    default=list(NOT_HEALTHY),
                    choices=list(NOT_HEALTHY),
                ),
            )
        )
        decision = decide(args["host"], args["cytube"], args["final_host"], args["preflight"])
        verdict = decision["verdict"]
        if verdict == HEALTHY:
            msg = "%s is healthy" % args["subject"]
        else:
            msg = "%s is %s: %s" % (args["subject"], verdict.upper(), decision["reason"])
        result.update(decision, changed=False, msg=msg)
        if args["fail"] and verdict in args["fail_on"]:
            result["failed"] = True
        return result

# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""cytube.shipit.run_outcome: build the run's outcome, journal it on the host, print it, decide the exit."""

from __future__ import annotations

import json
import os
import re
import time
from typing import Any, Dict, List, Optional

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_identity import identity, user_name
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_outcome import (
    CHECK,
    INVALID,
    KINDS,
    SUCCESS,
    build_outcome,
    failure_text,
    last_phase,
    run_id_from,
    summary_lines,
    trigger_from,
)

RECORD_MODULE = "cytube.shipit.bot_record"
FACTS = (
    "channel",
    "root",
    "environment",
    "server_url",
    "release",
    "live_before",
    "live_before_version",
    "live_after",
    "verdict",
    "failure",
    "rollback",
    "marks",
    "restarted",
    "restart_reason",
)


def run_start(marks: Dict[str, Any]) -> float:
    """When the run started: the first phase mark (validate), else now."""
    stamps = [
        float(value) for value in marks.values() if isinstance(value, (int, float)) and not isinstance(value, bool)
    ]
    return min(stamps) if stamps else time.time()


def save_copy(outcome: Dict[str, Any], directory: Optional[str]) -> Optional[str]:
    """Also write the outcome to ``directory`` on the controller (SHIPIT_OUTCOME_DIR: CI artifacts, tests)."""
    if not directory:
        return None
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, re.sub(r"[^A-Za-z0-9._-]", "_", outcome["id"]) + ".json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(outcome, handle, indent=2, sort_keys=True)
    return path


def collection_version() -> str:
    """The version of this collection: MANIFEST.json when installed, galaxy.yml in a checkout."""
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        with open(os.path.join(here, "MANIFEST.json"), "r", encoding="utf-8") as handle:
            return str(json.load(handle)["collection_info"]["version"])
    except (OSError, ValueError, KeyError):
        pass
    try:
        with open(os.path.join(here, "galaxy.yml"), "r", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("version:"):
                    return line.split(":", 1)[1].strip().strip("'\"")
    except OSError:
        pass
    return "0.0.0"


class ActionModule(ActionBase):
    """Builds the outcome on the controller; one host round trip records and journals it."""

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset((*FACTS, "kind", "record", "journal", "pr_number"))

    def run(self, tmp: Any = None, task_vars: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        if args.get("kind") not in KINDS:
            raise AnsibleActionFail("kind %r is not one of %s" % (args.get("kind"), ", ".join(KINDS)))
        me = identity()
        facts = self._facts(args, task_vars, me["token"])
        outcome = build_outcome(facts)
        host_result = self._journal(args, facts, outcome, me["token"], task_vars)
        if host_result.get("record_error"):
            facts["failure"] = {"phase": "record", "message": host_result["record_error"], "failed_check": "record"}
            outcome = build_outcome(facts)
            host_result = self._journal(dict(args, record=None), facts, outcome, me["token"], task_vars)
        self._display.display("\n".join(self._summary(outcome, host_result)))
        copy = save_copy(outcome, os.environ.get("SHIPIT_OUTCOME_DIR"))
        # The run's failure is raised by the playbook from the shipit_outcome fact (facts of a failed task are
        # not kept), so this task itself only fails for a bug in its arguments.
        result.update(
            changed=bool(host_result.get("changed")),
            status=outcome["status"],
            journaled=bool(host_result.get("journaled")),
            journal=host_result.get("journal"),
            pruned=host_result.get("pruned") or [],
            msg=failure_text(outcome),
            ansible_facts={"shipit_outcome": outcome, "shipit_outcome_message": failure_text(outcome)},
        )
        if host_result.get("journal_error"):
            result["journal_error"] = host_result["journal_error"]
        if copy:
            result["copy"] = copy
        return result

    def _facts(self, args: Dict[str, Any], task_vars: Dict[str, Any], token: str) -> Dict[str, Any]:
        facts: Dict[str, Any] = {name: args.get(name) for name in FACTS}
        failure = dict(args.get("failure") or {})
        if failure and not failure.get("phase"):
            failure["phase"] = last_phase(args.get("marks") or {}) or "run"
        if failure.get("verdict") or failure.get("checks"):
            # The verdict that failed the run (a later verification, e.g. of a rollback, registered its own).
            facts["verdict"] = {
                "verdict": failure.get("verdict") or "unhealthy",
                "checks": failure.get("checks") or [],
                "failed_check": failure.get("failed_check"),
                "reason": failure.get("reason") or failure.get("message"),
            }
        facts.update(
            kind=args["kind"],
            failure=failure or None,
            host=task_vars.get("inventory_hostname") or "localhost",
            check_mode=bool(self._task.check_mode),
            run_id=run_id_from(os.environ, token),
            trigger=trigger_from(os.environ, args.get("pr_number")),
            actor=user_name(),
            started_epoch=run_start(args.get("marks") or {}),
            collection_version=collection_version(),
        )
        return facts

    def _journal(
        self,
        args: Dict[str, Any],
        facts: Dict[str, Any],
        outcome: Dict[str, Any],
        token: str,
        task_vars: Dict[str, Any],
    ) -> Dict[str, Any]:
        """One round trip to the host: record the release (success only), journal, unlock."""
        if outcome["status"] in (INVALID, CHECK) or not args.get("journal", True) or not facts.get("channel"):
            return {}
        module_args: Dict[str, Any] = {"channel": facts["channel"], "token": token, "outcome": outcome}
        if facts.get("root"):
            module_args["root"] = facts["root"]
        if args.get("record") and outcome["status"] == SUCCESS:
            module_args["record"] = args["record"]
        res = self._execute_module(RECORD_MODULE, module_args=module_args, task_vars=task_vars)
        if res.get("failed") or res.get("unreachable"):
            message = " ".join(str(res.get("msg") or "unknown error").split())
            self._display.warning(
                "the outcome %s was NOT written to the journal of channel %s on the host: %s; it is printed below "
                "and kept in the shipit_outcome fact" % (outcome["id"], facts["channel"], message)
            )
            return {"journal_error": message}
        return res

    def _summary(self, outcome: Dict[str, Any], host_result: Dict[str, Any]) -> List[str]:
        extra = []
        if host_result.get("pruned"):
            extra.append("pruned: %s" % ", ".join(host_result["pruned"]))
        if host_result.get("journal"):
            extra.append("journal: %s on %s" % (host_result["journal"], outcome["host"]))
        return [""] + ["[%s] %s" % (outcome["host"], line) for line in summary_lines(outcome, extra)]

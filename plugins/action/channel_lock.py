# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of cytube.shipit.channel_lock: who we are, waiting, and stale-holder detection."""

from __future__ import annotations

import time
from typing import Any, Dict, Optional

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_identity import holder_alive, identity
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_lock import DEFAULT_LOCK_WAIT, describe_holder

MODULE = "cytube.shipit.channel_lock"


class ActionModule(ActionBase):
    def run(self, tmp: Any = None, task_vars: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        for key in ("token", "owner", "takeover"):
            if key in args:
                raise AnsibleActionFail("%s is set by the channel_lock action plugin, not by the task" % key)
        try:
            wait = float(args.get("wait", DEFAULT_LOCK_WAIT))
            poll = max(0.05, float(args.get("poll", 0.5)))
        except (TypeError, ValueError):
            raise AnsibleActionFail("wait and poll must be numbers of seconds") from None
        me = identity(args.get("purpose"))
        module_args = dict(args, token=me["token"], owner=me["owner"])
        started = time.monotonic()
        deadline = started + max(0.0, wait)
        state = args.get("state", "acquired")
        takeovers = []
        announced = False
        while True:
            res = self._execute_module(MODULE, module_args=module_args, task_vars=task_vars)
            if res.get("failed") or state != "acquired" or res.get("acquired") or self._task.check_mode:
                break
            holder = res.get("holder") or {}
            alive = holder_alive(holder)
            if alive is False and holder.get("token") and holder.get("token") not in takeovers:
                # The holder's ansible-playbook process is gone (killed): its lock is stale.
                takeovers.append(holder["token"])
                module_args["takeover"] = holder["token"]
                continue
            module_args.pop("takeover", None)
            if not announced and time.monotonic() < deadline:
                announced = True
                self._display.display(
                    "%s: channel %s is locked by %s; waiting up to %s s"
                    % (
                        task_vars.get("inventory_hostname", "?"),
                        args.get("channel"),
                        describe_holder(holder),
                        "%g" % wait,
                    )
                )
            if time.monotonic() >= deadline:
                res["failed"] = True
                where = task_vars.get("inventory_hostname", "?")
                if alive is None:
                    hint = (
                        "the holder runs on another controller; its lock counts as stale %s s after its last "
                        "heartbeat" % holder.get("ttl", "?")
                    )
                else:
                    hint = "the holder runs on this controller and is still running"
                res["msg"] = (
                    "channel %s on %s is locked by %s; waited %.0f s (wait bound %s s, %s). "
                    "Let that run finish, or raise the wait bound (shipit_lock_wait)."
                    % (
                        args.get("channel"),
                        where,
                        describe_holder(holder),
                        time.monotonic() - started,
                        "%g" % wait,
                        hint,
                    )
                )
                break
            time.sleep(min(poll, max(0.0, deadline - time.monotonic())))
        res["waited"] = round(time.monotonic() - started, 3)
        if res.get("took_over") and res.get("previous_holder"):
            self._display.warning(
                "took over the stale lock of channel %s from %s (%s)"
                % (args.get("channel"), describe_holder(res["previous_holder"]), res.get("takeover_reason"))
            )
        result.update(res)
        return result

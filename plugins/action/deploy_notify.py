# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""cytube.shipit.deploy_notify: tell people about a run (controller only).

Never fails because a target failed: that is a warning and an entry in ``notifications``.
Fails only on bad configuration, before anything is sent. No secret (token, webhook URL,
signing secret) is in the result, a warning or an error.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Optional

from ansible.plugins.action import ActionBase
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_identity import identity
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_notify import (
    redact,
    secrets_of,
    target_label,
    validate_targets,
)
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_notify_http import (
    DEFAULT_BUDGET_S,
    DEFAULT_TIMEOUT_S,
    HAS_REQUESTS,
    RequestsTransport,
)
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_notify_render import (
    DEFAULT_TROUBLESHOOTING_URL,
    started_event,
)
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_notify_send import Settings, deliver, entry
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_outcome import run_id_from, trigger_from

USER_AGENT = "cytube-shipit-deploy-notify"
DEFAULT_API_URL = "https://api.github.com"
ARGS = (
    "targets",
    "outcome",
    "phase",
    "context",
    "github_api_url",
    "github_repository",
    "github_token",
    "timeout_s",
    "budget_s",
    "troubleshooting_url",
    "validate_only",
)


class ActionModule(ActionBase):
    """Runs on the controller only: no module is sent to any host."""

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGS)

    def run(self, tmp: Any = None, task_vars: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        result = super().run(tmp, task_vars)
        args = self._task.args
        settings = _settings(args)
        targets = args.get("targets") or []
        secrets = secrets_of(targets if isinstance(targets, list) else [], [settings.github_token])
        problems = _arg_problems(args) + validate_targets(
            targets, settings.github_token, settings.github_api_url, settings.github_repository
        )
        if problems:
            message = "deploy_notify: bad notification settings (nothing was sent):\n- " + "\n- ".join(problems)
            return _finish(result, secrets, failed=True, changed=False, msg=message, problems=problems)
        labels = [target_label(t) for t in targets]
        if args.get("validate_only"):
            msg = "deploy_notify: %d notification target(s) are valid: %s" % (len(labels), ", ".join(labels) or "none")
            return _finish(result, secrets, changed=False, msg=msg, problems=[], targets=labels)
        if not HAS_REQUESTS:
            return _finish(result, secrets, failed=True, msg="deploy_notify needs the Python library requests")
        if args.get("outcome") is not None:
            event = args["outcome"]
        else:
            event = started_event(_started_context(args.get("context") or {}, task_vars or {}))
        if self._task.check_mode:
            notifications = [entry(label, True, True, error="not sent: check mode") for label in labels]
        else:
            notifications = _deliver_all(targets, event, settings)
        notifications = redact(notifications, secrets)
        failed = [n for n in notifications if not n["ok"]]
        sent = [n for n in notifications if n["ok"] and not n["skipped"]]
        warnings = [
            "notification %s failed: %s (the run's result is unchanged)" % (n["target"], n["error"]) for n in failed
        ]
        msg = "deploy_notify: %d sent, %d skipped, %d failed" % (
            len(sent),
            len(notifications) - len(sent) - len(failed),
            len(failed),
        )
        extra = {}  # type: Dict[str, Any]
        if args.get("outcome") is not None:
            extra["outcome"] = dict(args["outcome"], notifications=notifications)
        if warnings:
            extra["warnings"] = warnings
        return _finish(result, secrets, changed=bool(sent), msg=msg, notifications=notifications, **extra)


def _settings(args: Dict[str, Any]) -> Settings:
    def pick(key: str, env: str, default: Optional[str] = None) -> Optional[str]:
        value = args.get(key)
        return value if value not in (None, "") else os.environ.get(env) or default

    return Settings(
        github_api_url=pick("github_api_url", "GITHUB_API_URL", DEFAULT_API_URL) or DEFAULT_API_URL,
        github_repository=pick("github_repository", "GITHUB_REPOSITORY"),
        github_token=pick("github_token", "GITHUB_TOKEN"),
        timeout_s=float(args.get("timeout_s") or DEFAULT_TIMEOUT_S),
        budget_s=float(args.get("budget_s") or DEFAULT_BUDGET_S),
        troubleshooting_url=args.get("troubleshooting_url") or DEFAULT_TROUBLESHOOTING_URL,
    )


def _started_context(context: Dict[str, Any], task_vars: Dict[str, Any]) -> Dict[str, Any]:
    """The context with what run_outcome will also compute filled in, so the start and the end match up
    (the same run_id finds the same GitHub deployment)."""
    filled = dict(context)
    if not filled.get("run_id"):
        filled["run_id"] = run_id_from(os.environ, identity()["token"])
    if not filled.get("trigger"):
        filled["trigger"] = trigger_from(os.environ, filled.get("pr_number"))
    filled.setdefault("host", task_vars.get("inventory_hostname") or "localhost")
    if not filled.get("channel_url") and filled.get("server_url") and filled.get("channel"):
        filled["channel_url"] = "%s/r/%s" % (str(filled["server_url"]).rstrip("/"), filled["channel"])
    filled.setdefault("started_at", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    return filled


def _arg_problems(args: Dict[str, Any]) -> List[str]:
    problems = []
    for key in ("timeout_s", "budget_s"):
        value = args.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
            problems.append("%s %r must be a positive number of seconds" % (key, value))
    if args.get("validate_only"):
        return problems
    phase = args.get("phase")
    if phase not in (None, "started"):
        problems.append("phase %r is unknown: use phase: started (with context), or pass outcome" % (phase,))
    if args.get("outcome") is None and phase != "started":
        problems.append("nothing to notify: pass outcome (the run's outcome) or phase: started with context")
    if args.get("outcome") is not None and phase is not None:
        problems.append("pass either outcome or phase: started, not both")
    if args.get("outcome") is not None and not isinstance(args["outcome"], dict):
        problems.append("outcome must be the outcome dict (outcome.schema.json)")
    if phase == "started" and not isinstance(args.get("context"), dict):
        problems.append("phase: started needs context (channel, environment, host, release, trigger, ...)")
    return problems


def _deliver_all(targets: List[Dict[str, Any]], event: Dict[str, Any], settings: Settings) -> List[Dict[str, Any]]:
    """Every target at once (each inside its own budget), results in the targets' order."""
    with ThreadPoolExecutor(max_workers=max(len(targets), 1)) as pool:
        # one session per target: requests sessions are not meant to be shared between threads
        futures = [pool.submit(deliver, t, event, settings, RequestsTransport(USER_AGENT)) for t in targets]
        return [future.result() for future in futures]


def _finish(result: Dict[str, Any], secrets: List[str], **values: Any) -> Dict[str, Any]:
    result.update(redact(values, secrets))
    return result

# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""cytube.shipit.run_inputs: check a run's inputs and resolve its settings (controller only)."""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional
from urllib.parse import urlsplit

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_notify import validate_targets
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_settings import PURPOSES, resolve_inputs


def dashboard_problems(url: Any, token: Any) -> List[str]:
    """The dashboard is optional; when it is named, its address and ingest token must be usable."""
    if url in (None, ""):
        return []
    parts = urlsplit(str(url))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ["shipit_dashboard_url %r is not a web address: use http(s)://host:port of the dashboard" % (url,)]
    if parts.username or parts.password:
        return ["shipit_dashboard_url has credentials in it: remove them and give the token in shipit_dashboard_token"]
    if not isinstance(token, str) or len(token.strip()) < 16:
        return [
            "shipit_dashboard_token is missing or shorter than 16 characters: give the dashboard's ingest token "
            "(Ansible Vault or SHIPIT_DASHBOARD_TOKEN), or unset shipit_dashboard_url"
        ]
    return []


class ActionModule(ActionBase):
    """Runs on the controller only: nothing is contacted."""

    _VALID_ARGS = frozenset(("purpose", "inputs"))

    def run(self, tmp: Any = None, task_vars: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        purpose = self._task.args.get("purpose")
        raw = self._task.args.get("inputs")
        if purpose not in PURPOSES:
            raise AnsibleActionFail("purpose %r is not one of %s" % (purpose, ", ".join(PURPOSES)))
        if not isinstance(raw, dict):
            raise AnsibleActionFail("inputs must be a mapping of the run's variables")
        # Relative bot sources are resolved against the working directory, as bot_artifact does.
        settings, problems = resolve_inputs(purpose, raw, base_dir=os.getcwd())
        problems += validate_targets(
            raw.get("notify"),
            github_token=os.environ.get("GITHUB_TOKEN"),
            github_api_url=os.environ.get("GITHUB_API_URL"),
            github_repository=os.environ.get("GITHUB_REPOSITORY"),
        )
        problems += dashboard_problems(raw.get("dashboard_url"), raw.get("dashboard_token"))
        result.update(changed=False, settings=settings)
        if problems:
            result["failed"] = True
            result["failed_check"] = "inputs"
            result["msg"] = "Check the inputs of channel %s: %s." % (
                settings.get("channel") or "(not set)",
                "; ".join(problems),
            )
        return result

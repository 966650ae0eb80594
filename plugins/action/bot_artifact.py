# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""cytube.shipit.bot_artifact: resolve the bot source into a cached wheelhouse archive, on the controller."""

from __future__ import annotations

import os
from typing import Any, Dict, Optional

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_outcome import redact_url
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_wheelhouse import (
    DEFAULT_PLATFORMS,
    WheelhouseError,
    resolve,
)


def default_cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "cytube-shipit", "wheelhouse")


class ActionModule(ActionBase):
    """Runs on the controller only: no module is sent to any host."""

    _VALID_ARGS = frozenset(
        ("source", "cache_dir", "python_version", "platforms", "pip_spec", "pip_args", "base_dir", "refresh")
    )

    def run(self, tmp: Any = None, task_vars: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        _spec, args = self.validate_argument_spec(
            argument_spec=dict(
                source=dict(type="str", required=True),
                cache_dir=dict(type="path"),
                python_version=dict(type="str", default="3.11"),
                platforms=dict(type="list", elements="str", default=list(DEFAULT_PLATFORMS)),
                pip_spec=dict(type="str", default="pip"),
                pip_args=dict(type="list", elements="str", default=[]),
                base_dir=dict(type="path"),
                refresh=dict(type="bool", default=False),
            )
        )
        try:
            artifact = resolve(
                args["source"],
                args["cache_dir"] or default_cache_dir(),
                python_version=args["python_version"],
                platforms=args["platforms"],
                pip_spec=args["pip_spec"],
                pip_args=args["pip_args"],
                base_dir=args["base_dir"] or os.getcwd(),
                refresh=args["refresh"],
            )
        except WheelhouseError as exc:
            raise AnsibleActionFail(str(exc)) from None
        except OSError as exc:
            raise AnsibleActionFail(
                "cannot resolve the bot source %r: %s" % (redact_url(args["source"]), redact_url(str(exc)))
            ) from None
        result.update(artifact)
        result["changed"] = False
        return result

# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""cytube.shipit.cytube_check: the probe runs here, inside the controller's ansible-playbook process.

Running the module instead would cost about 1 s a check: an AnsiballZ payload, a second Python, and
python-socketio imported again each time. This file imports the client at load time, which
ansible-playbook does once in its main process (the strategy loads the action class there), so every
worker forked after that finds it imported.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from ansible.module_utils.common.parameters import remove_values
from ansible.plugins.action import ActionBase
from ansible_collections.cytube.shipit.plugins.module_utils.cytube_check_run import (
    check_argument_spec,
    run_check,
    secrets_of,
)


class ActionModule(ActionBase):
    """Runs on the controller only: no module is sent to any host, whatever host the task targets."""

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _VALID_ARGS = frozenset(check_argument_spec())

    def run(self, tmp: Any = None, task_vars: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        result = super().run(tmp, task_vars or {})
        _spec, params = self.validate_argument_spec(argument_spec=check_argument_spec())
        # As the module's exit_json does: no_log values are masked anywhere in the result, and the invocation
        # (shown with -vvv) carries the options with them masked.
        hidden = set(secrets_of(params))
        result.update(remove_values(run_check(params), hidden))
        result["invocation"] = {"module_args": remove_values(params, hidden)}
        return result

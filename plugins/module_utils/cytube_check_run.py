# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What ``cytube.shipit.cytube_check`` does with its options, in one place.

Two entry points share it: the action plugin (the usual path: the probe runs inside the controller's
``ansible-playbook`` process, with no AnsiballZ payload and no second Python, ~1 s less per check) and
the module's ``main`` (the same result when the module file itself is run).
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping

from ansible.module_utils.basic import missing_required_lib
from ansible_collections.cytube.shipit.plugins.module_utils import cytube_client
from ansible_collections.cytube.shipit.plugins.module_utils.cytube_check_spec import (
    argument_spec,
    to_config,
    validate,
)
from ansible_collections.cytube.shipit.plugins.module_utils.cytube_client import one_line, scrub
from ansible_collections.cytube.shipit.plugins.module_utils.cytube_probe import run_probe
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_ratelimit import DEFAULT_CONNECTION_WAIT_S

#: options of cytube_check on top of the shared probe options (cytube_check_spec)
RATE_LIMIT_SPEC: Dict[str, Dict[str, Any]] = {
    "rate_limit_wait": {"type": "float", "default": DEFAULT_CONNECTION_WAIT_S},
    "rate_limit_dir": {"type": "path"},
}


def check_argument_spec() -> Dict[str, Dict[str, Any]]:
    """A fresh copy of every option of cytube_check."""
    spec = argument_spec()
    spec.update({name: dict(option) for name, option in RATE_LIMIT_SPEC.items()})
    return spec


def rate_limit_errors(params: Mapping[str, Any]) -> List[str]:
    wait = params.get("rate_limit_wait")
    if wait is None or wait < 0:
        return ["rate_limit_wait %r must be 0 or more seconds (0 = never wait for a connection token)" % wait]
    return []


def secrets_of(params: Mapping[str, Any]) -> List[str]:
    return [s for s in (params.get("probe_password"), params.get("channel_password")) if s]


def missing_library() -> Dict[str, Any]:
    """The failure for a missing client library ({} when both are there)."""
    if not cytube_client.HAS_SOCKETIO:
        return {"msg": missing_required_lib("python-socketio"), "exception": cytube_client.SOCKETIO_IMPORT_ERROR}
    if not cytube_client.HAS_WEBSOCKET_CLIENT:
        return {"msg": missing_required_lib("websocket-client"), "exception": cytube_client.WEBSOCKET_IMPORT_ERROR}
    return {}


def run_check(params: Mapping[str, Any]) -> Dict[str, Any]:
    """The result of cytube_check for type-checked ``params``; ``failed`` is true when the options are bad,
    a library is missing, the probe crashed or the verdict is in ``fail_on``. It never holds a password."""
    secrets = secrets_of(params)
    errors = validate(params) + rate_limit_errors(params)
    if errors:
        return {
            "failed": True,
            "changed": False,
            "msg": scrub("invalid options: " + "; ".join(errors), secrets),
            "errors": [scrub(e, secrets) for e in errors],
        }
    missing = missing_library()
    if missing:
        return dict(missing, failed=True, changed=False)

    cfg = to_config(params)
    cfg.rate_limit_wait = float(params["rate_limit_wait"])
    cfg.rate_limit_dir = params.get("rate_limit_dir")
    try:
        report = run_probe(cfg)
    except Exception as exc:  # never leak a secret through an unexpected traceback
        return {
            "failed": True,
            "changed": False,
            "msg": scrub("cytube_check failed unexpectedly: %s: %s" % (type(exc).__name__, one_line(exc)), secrets),
        }
    result = report.as_dict(cfg.secrets)
    result["changed"] = False
    if report.verdict in (params.get("fail_on") or []):
        result["msg"] = "verdict %s is in fail_on: %s" % (report.verdict, result["msg"])
        result["failed"] = True
    return result

# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""cytube.shipit.deploy_event: ship run outcomes to the dashboard's ingest API, from the controller.

A store that is down, slow or broken never fails the task: the outcomes it did not
acknowledge are returned as ``unacked`` (they stay unsent in the host journal and ship on a
later run) and a warning names the dashboard and what happened.  Only bad input fails.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable, Dict, List, Optional, Sequence
from urllib.parse import urlsplit

from ansible.errors import AnsibleActionFail
from ansible.module_utils.basic import missing_required_lib
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

try:
    import requests
except ImportError:  # pragma: no cover - exercised by ansible-test sanity import
    requests = None

display = Display()

EVENTS_PATH = "/api/events"
MAX_BATCH = 500  # the ingest API's own limit per request
ACK_STATUSES = ("stored", "duplicate")
ERROR_TEXT_LIMIT = 200
SKIPPED_AFTER_FAILURE = "not sent: an earlier request of this run failed"
ARGUMENT_SPEC = dict(
    url=dict(type="str", required=True),
    token=dict(type="str", required=True, no_log=True),
    outcomes=dict(type="list", elements="raw", required=True),
    timeout=dict(type="float", default=5),
    budget=dict(type="float", default=10),
    batch_size=dict(type="int", default=100),
    validate_certs=dict(type="bool", default=True),
)


class BadInput(ValueError):
    """An argument the caller must fix; the message names it and the fix."""


class StoreProblem(Exception):
    """The store did not acknowledge a request (down, slow, refused, broken answer)."""

    def __init__(self, message: str, split_may_help: bool = False) -> None:
        super().__init__(message)
        self.split_may_help = split_may_help


@dataclasses.dataclass
class ShipReport:
    acked: List[str] = dataclasses.field(default_factory=list)
    stored: List[str] = dataclasses.field(default_factory=list)
    duplicate: List[str] = dataclasses.field(default_factory=list)
    unacked: List[Dict[str, str]] = dataclasses.field(default_factory=list)
    requests: int = 0

    def fail(self, outcome_ids: Sequence[str], error: str) -> None:
        self.unacked.extend({"id": outcome_id, "error": error} for outcome_id in outcome_ids)


def events_url(url: str) -> str:
    """The ingest endpoint under the dashboard's base URL, after checking the URL."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadInput(
            "url %r is not a dashboard base URL: give http(s)://HOST[:PORT][/PREFIX], e.g. http://dash.example:8095"
            % (url,)
        )
    if parts.username or parts.password:
        raise BadInput("url must not carry credentials: give the ingest token in token instead")
    if parts.query or parts.fragment:
        raise BadInput("url %r must not have a query or fragment: give the dashboard's base URL" % (url,))
    try:
        _port = parts.port
    except ValueError:
        raise BadInput("url %r has an invalid port: use a number from 1 to 65535" % (url,)) from None
    return url.rstrip("/") + EVENTS_PATH


def dashboard_name(url: str) -> str:
    """How warnings name the dashboard: its host and port, nothing else of the URL."""
    parts = urlsplit(url)
    return parts.netloc.rpartition("@")[2] or url


def check_outcomes(outcomes: Any) -> List[Dict[str, Any]]:
    if not isinstance(outcomes, list):
        raise BadInput("outcomes must be a list of outcome documents, got %s" % type(outcomes).__name__)
    for index, outcome in enumerate(outcomes):
        if not isinstance(outcome, dict):
            raise BadInput(
                "outcomes[%d] is a %s, not an outcome document (a dict with an id)" % (index, type(outcome).__name__)
            )
        if not isinstance(outcome.get("id"), str) or not outcome["id"]:
            raise BadInput(
                "outcomes[%d] has no id: every outcome needs its string id (see outcome.schema.json)" % index
            )
    return outcomes


def check_limits(timeout: float, budget: float, batch_size: int) -> None:
    if timeout <= 0:
        raise BadInput("timeout %r must be a positive number of seconds" % timeout)
    if budget <= 0:
        raise BadInput("budget %r must be a positive number of seconds" % budget)
    if not 1 <= batch_size <= MAX_BATCH:
        raise BadInput("batch_size %r must be between 1 and %d" % (batch_size, MAX_BATCH))


def redact(text: str, token: str) -> str:
    text = text if not token else text.replace(token, "********")
    return text if len(text) <= ERROR_TEXT_LIMIT else text[: ERROR_TEXT_LIMIT - 3] + "..."


def detail_text(detail: Any) -> str:
    """The API's error detail in one line: ``field: message`` for each problem it lists."""
    if not isinstance(detail, list):
        return str(detail)
    problems = []
    for item in detail[:3]:
        if isinstance(item, dict):
            where = item.get("field") or ".".join(str(part) for part in item.get("loc") or ())
            problems.append("%s: %s" % (where or "?", item.get("message") or item.get("msg") or item))
        else:
            problems.append(str(item))
    return "; ".join(problems) + ("; ..." if len(detail) > 3 else "")


def describe_refusal(response: requests.Response) -> str:
    """A short reason for a non-200 answer (the API's own detail when it gives one)."""
    detail = ""
    try:
        body = response.json()
        if isinstance(body, dict) and body.get("detail") is not None:
            detail = ": %s" % detail_text(body["detail"])
    except ValueError:
        pass
    hint = " (the token was refused: check the dashboard ingest token)" if response.status_code in (401, 403) else ""
    return "HTTP %d%s%s" % (response.status_code, hint, detail)


def acknowledgements(response: requests.Response, sent_ids: Sequence[str]) -> Dict[str, str]:
    """id -> status from a 200 answer; ids the answer does not list are left out."""
    try:
        results = response.json()["results"]
        statuses = {item["id"]: item["status"] for item in results}
    except (ValueError, KeyError, TypeError):
        raise StoreProblem("HTTP 200 with an answer that is not {results: [{id, status}]}") from None
    return {outcome_id: statuses[outcome_id] for outcome_id in sent_ids if outcome_id in statuses}


class Shipper:
    """Posts outcomes in batches within a time budget; never raises for the store's problems."""

    def __init__(
        self,
        url: str,
        token: str,
        timeout: float,
        budget: float,
        batch_size: int,
        verify: bool = True,
        session: Optional[requests.Session] = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.endpoint = events_url(url)
        self.token = token
        self.timeout = timeout
        self.batch_size = batch_size
        self.verify = verify
        self.session = session or requests.Session()
        self.clock = clock
        self.deadline = clock() + budget
        self.budget = budget

    def post(self, batch: Sequence[Dict[str, Any]]) -> Dict[str, str]:
        remaining = self.deadline - self.clock()
        if remaining <= 0:
            raise StoreProblem("not sent: the budget of %g s was used up" % self.budget)
        body: Any = batch[0] if len(batch) == 1 else {"outcomes": list(batch)}
        try:
            response = self.session.post(
                self.endpoint,
                json=body,
                headers={"Authorization": "Bearer %s" % self.token},
                timeout=min(self.timeout, remaining),
                verify=self.verify,
                allow_redirects=False,
            )
        except requests.Timeout:
            raise StoreProblem("no answer within %.3g s" % min(self.timeout, remaining)) from None
        except requests.RequestException as exc:
            raise StoreProblem("unreachable (%s: %s)" % (type(exc).__name__, redact(str(exc), self.token))) from None
        if response.status_code != 200:
            raise StoreProblem(redact(describe_refusal(response), self.token), response.status_code in (413, 422))
        return acknowledgements(response, [outcome["id"] for outcome in batch])

    def ship_batch(self, batch: Sequence[Dict[str, Any]], report: ShipReport) -> bool:
        """Ship one batch; False when the store should not be asked again in this run."""
        ids = [outcome["id"] for outcome in batch]
        report.requests += 1
        try:
            statuses = self.post(batch)
        except StoreProblem as problem:
            if problem.split_may_help and len(batch) > 1:
                # One bad outcome refuses the whole batch (no partial write): send them one by one.
                return self.ship_singly(batch, report)
            report.fail(ids, str(problem))
            return problem.split_may_help
        for outcome_id in ids:
            status = statuses.get(outcome_id)
            if status in ACK_STATUSES:
                report.acked.append(outcome_id)
                (report.stored if status == "stored" else report.duplicate).append(outcome_id)
            else:
                report.fail([outcome_id], "not acknowledged (status %r)" % (status,))
        return True

    def ship_singly(self, batch: Sequence[Dict[str, Any]], report: ShipReport) -> bool:
        for index, outcome in enumerate(batch):
            if not self.ship_batch([outcome], report):
                report.fail([rest["id"] for rest in batch[index + 1 :]], SKIPPED_AFTER_FAILURE)
                return False
        return True

    def ship(self, outcomes: Sequence[Dict[str, Any]]) -> ShipReport:
        report = ShipReport()
        unique = list({outcome["id"]: outcome for outcome in outcomes}.values())
        for start in range(0, len(unique), self.batch_size):
            batch = unique[start : start + self.batch_size]
            if not self.ship_batch(batch, report):
                rest = [outcome["id"] for outcome in unique[start + self.batch_size :]]
                report.fail(rest, SKIPPED_AFTER_FAILURE)
                break
        return report


def warning_text(url: str, report: ShipReport, total: int) -> str:
    first = report.unacked[0]["error"]
    return (
        "dashboard %s did not acknowledge %d of %d outcome(s) (%s); they stay unsent in the host journal "
        "and ship with the next run or playbooks/flush.yml" % (dashboard_name(url), len(report.unacked), total, first)
    )


class ActionModule(ActionBase):
    """Runs on the controller only: no module is sent to any host."""

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def run(self, tmp: Any = None, task_vars: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        result = super().run(tmp, task_vars or {})
        _spec, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        if requests is None:
            raise AnsibleActionFail(missing_required_lib("requests") + " (on the controller)")
        if not args["token"]:
            raise AnsibleActionFail("token is empty: give the dashboard's ingest token (shipit_dashboard_token)")
        try:
            outcomes = check_outcomes(args["outcomes"])
            check_limits(args["timeout"], args["budget"], args["batch_size"])
            shipper = Shipper(
                args["url"],
                args["token"],
                args["timeout"],
                args["budget"],
                args["batch_size"],
                verify=args["validate_certs"],
            )
        except BadInput as exc:
            raise AnsibleActionFail(str(exc)) from None
        result.update(changed=False, acked=[], stored=[], duplicate=[], unacked=[], requests=0)
        if not outcomes:
            return result
        if self._task.check_mode:
            result.update(changed=True, msg="check mode: %d outcome(s) would be shipped" % len(outcomes))
            return result
        report = shipper.ship(outcomes)
        result.update(dataclasses.asdict(report), changed=bool(report.stored))
        if report.unacked:
            display.warning(warning_text(args["url"], report, len(outcomes)))
        return result

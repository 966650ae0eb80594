"""Real runs land on the sandbox dashboard: a deploy, a failing deploy rolled back, a manual rollback and a
verify each appear once, with the status of their outcome; shipping the journal again adds nothing.
The dashboard runs on sandbox-1 (the sandbox inventory's shipit_dashboard group), installed by
playbooks/dashboard.yml. Needs root: sudo .venv/bin/pytest tests/integration/test_dashboard_records_runs.py
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from typing import Any

import pytest
from deploy_fixtures import CHANNEL_1, Run, Shipit

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(900)]


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read().decode())


@pytest.fixture(scope="module")
def dashboard(shipit: Shipit) -> str:
    run = shipit.playbook("dashboard.yml", CHANNEL_1, None, timeout=600)
    assert run.rc == 0, run.explain()
    url = f"http://{shipit.host.address}:8095"
    assert get(url + "/healthz")["status"] == "ok"
    return url


def recorded(dashboard: str, run: Run) -> dict[str, Any]:
    outcome = run.outcome
    return get(dashboard + "/api/deployments/" + urllib.parse.quote(outcome["id"], safe=""))


def count_for(dashboard: str, run_id: str) -> int:
    page = get(dashboard + "/api/deployments?" + urllib.parse.urlencode({"channel": CHANNEL_1, "limit": 200}))
    return sum(1 for item in page["items"] if item["run_id"] == run_id)


def test_each_run_appears_once_with_its_status(shipit: Shipit, dashboard: str) -> None:
    runs = [
        shipit.deploy("2.0.0"),
        shipit.deploy("3.0.0", faults={"never_answer": True}),
        shipit.rollback({"rollback_to": "previous"}),
        shipit.verify(),
    ]
    statuses = [run.outcome["status"] for run in runs]
    assert statuses[1] == "rolled_back", runs[1].explain()
    for run in runs:
        assert "did not acknowledge" not in run.output, run.explain()
        row = recorded(dashboard, run)
        assert row["status"] == run.outcome["status"] and row["kind"] == run.outcome["kind"], row
        assert count_for(dashboard, run.outcome["run_id"]) == 1
    flush = shipit.playbook("flush.yml", CHANNEL_1, None)
    assert flush.rc == 0, flush.explain()
    for run in runs:
        assert count_for(dashboard, run.outcome["run_id"]) == 1, "shipping again added nothing"
    status = get(dashboard + "/api/status")
    card = next(card for card in status["channels"] if card["channel"] == CHANNEL_1)
    assert card["last_outcome"]["id"] == runs[-1].outcome["id"]

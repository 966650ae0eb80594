"""The HTTP API through the ASGI app, on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime, timedelta

import pytest
from dashboard_harness import INGEST_TOKEN, READ_TOKEN, client_for
from fastapi.testclient import TestClient
from outcome_factory import history, make_outcome
from shipit_dashboard.migrations import LATEST_VERSION
from shipit_dashboard.store import Store

NOW = datetime.now(UTC)
AUTH = {"Authorization": f"Bearer {INGEST_TOKEN}"}


def post(client: TestClient, body: object, headers: dict | None = None):
    return client.post("/api/events", json=body, headers=AUTH if headers is None else headers)


def test_healthz_reports_the_schema_version(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "schema_version": LATEST_VERSION}


def test_one_outcome_then_its_replay(client: TestClient) -> None:
    outcome = make_outcome(1, finished=NOW)
    assert post(client, outcome).json() == {"results": [{"id": outcome["id"], "status": "stored"}]}
    assert post(client, outcome).json() == {"results": [{"id": outcome["id"], "status": "duplicate"}]}
    assert client.get(f"/api/deployments/{outcome['id']}").json() == outcome


def test_batch_reports_each_outcome(client: TestClient) -> None:
    outcomes = history(5, NOW)
    post(client, outcomes[0])
    response = post(client, {"outcomes": outcomes})
    assert [r["status"] for r in response.json()["results"]] == ["duplicate"] + ["stored"] * 4


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token-123456"}, {"Authorization": "Basic x"}])
def test_writes_without_the_ingest_token_are_refused(client: TestClient, headers: dict) -> None:
    response = post(client, make_outcome(1, finished=NOW), headers)
    assert response.status_code == 401
    assert client.get("/api/deployments").json()["items"] == []


def test_an_invalid_outcome_refuses_the_whole_batch_naming_index_and_field(client: TestClient) -> None:
    outcomes = history(3, NOW)
    outcomes[2]["release"]["artifact_sha256"] = "xyz"
    response = post(client, {"outcomes": outcomes})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert (error["index"], error["field"]) == (2, "release.artifact_sha256")
    assert client.get("/api/deployments").json()["items"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "(body)"),
        (b'{"outcomes": []}', "outcomes"),
        (b'{"outcomes": "x"}', "outcomes"),
    ],
)
def test_malformed_bodies_are_422(client: TestClient, body: bytes, field: str) -> None:
    response = client.post("/api/events", content=body, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == field


def test_batches_are_capped_at_500(client: TestClient) -> None:
    outcome = make_outcome(1, finished=NOW)
    response = post(client, {"outcomes": [outcome] * 501})
    assert response.status_code == 422 and "at most 500" in response.text


def test_deployments_api_filters_and_pages_with_cursors(client: TestClient) -> None:
    outcomes = history(30, NOW)
    post(client, {"outcomes": outcomes})
    seen, cursor = [], None
    while True:
        params = {"channel": "shipit-sandbox", "limit": 4, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/deployments", params=params).json()
        seen += [item["id"] for item in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    expected = [o["id"] for o in reversed(outcomes) if o["channel"] == "shipit-sandbox"]
    assert seen == expected


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"kind": "deploy' OR 1=1 --"}, "kind"),
        ({"status": "x"}, "status"),
        ({"since": "yesterday"}, "since"),
        ({"cursor": "!!!"}, "cursor"),
        ({"limit": "1000"}, "limit"),
    ],
)
def test_bad_query_parameters_are_422_naming_them(client: TestClient, params: dict, name: str) -> None:
    response = client.get("/api/deployments", params=params)
    assert response.status_code == 422
    assert name in str(response.json()["detail"][0]["loc"])


def test_injection_strings_in_filters_match_nothing_and_break_nothing(client: TestClient) -> None:
    post(client, {"outcomes": history(4, NOW)})
    for hostile in ("' OR '1'='1", "x'; DELETE FROM outcomes; --"):
        assert client.get("/api/deployments", params={"channel": hostile}).json()["items"] == []
    assert len(client.get("/api/deployments").json()["items"]) == 4


def test_unknown_outcome_is_404(client: TestClient) -> None:
    assert client.get("/api/deployments/nope").status_code == 404


def test_status_shows_live_release_last_verdict_and_health(client: TestClient) -> None:
    deployed = make_outcome(1, finished=NOW - timedelta(minutes=5), version="2.0.0", actor="alice")
    failed = make_outcome(2, finished=NOW, status="rolled_back", version="3.0.0")
    post(client, {"outcomes": [deployed, failed]})
    (channel,) = client.get("/api/status").json()["channels"]
    assert channel["health"] == "degraded" and channel["stale"] is False
    assert channel["last_outcome"]["status"] == "rolled_back"
    assert channel["live_release"]["id"] == failed["rollback"]["target"]["id"]
    assert [check["name"] for check in channel["last_verdict"]["checks"]] == ["bot_present", "command_round_trip"]


def test_stale_channels_are_flagged(store: Store) -> None:
    with client_for(store, stale_after_s=3600) as client:
        post(client, make_outcome(1, finished=NOW - timedelta(hours=2)))
        (channel,) = client.get("/api/status").json()["channels"]
        assert channel["stale"] is True and channel["health"] == "degraded"
        assert "stale" in client.get("/").text.lower()


def test_read_token_guards_every_get_but_healthz_and_badge(store: Store) -> None:
    with client_for(store, read_token=READ_TOKEN) as client:
        post(client, make_outcome(1, finished=NOW))
        for path in [
            "/",
            "/history",
            "/charts",
            "/dora",
            "/api/status",
            "/api/deployments",
            "/metrics",
            "/openapi.json",
        ]:
            response = client.get(path)
            assert response.status_code == 401, path
            assert "Basic" in response.headers["www-authenticate"]
            assert client.get(path, headers={"Authorization": f"Bearer {READ_TOKEN}"}).status_code == 200, path
            assert client.get(path, headers=AUTH).status_code == 200, path
        assert client.get("/", auth=("anyone", READ_TOKEN)).status_code == 200
        assert client.get("/healthz").status_code == 200
        assert client.get("/badge/shipit-sandbox.svg").status_code == 200
        # the read token does not allow writes
        assert post(client, make_outcome(2, finished=NOW), {"Authorization": f"Bearer {READ_TOKEN}"}).status_code == 401


def test_openapi_describes_the_api_and_the_outcome_body(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert {"/api/status", "/api/deployments", "/api/deployments/{outcome_id}", "/api/events"} <= set(document["paths"])
    assert "Outcome" in document["components"]["schemas"]
    parameters = {p["name"] for p in document["paths"]["/api/deployments"]["get"]["parameters"]}
    assert {"channel", "kind", "status", "environment", "since", "until", "cursor", "limit"} <= parameters


def test_metrics_expose_runs_durations_live_release_and_dora(client: TestClient) -> None:
    post(client, {"outcomes": history(20, NOW)})
    text = client.get("/metrics").text
    for name in (
        "shipit_runs_total",
        "shipit_run_duration_seconds_bucket",
        "shipit_rollbacks_total",
        "shipit_live_release_info",
        "shipit_last_success_timestamp_seconds",
        "shipit_channel_healthy",
        "shipit_dora_deployment_frequency_per_day",
        "shipit_dora_change_failure_rate",
        "shipit_dora_lead_time_seconds",
        "shipit_dashboard_ingested_outcomes_total",
    ):
        assert re.search(rf"^{name}\{{", text, re.MULTILINE), name
    runs = re.findall(r"^shipit_runs_total\{[^}]*\} (\S+)$", text, re.MULTILINE)
    assert sum(float(value) for value in runs) == 20


def test_badge_shows_live_version(client: TestClient) -> None:
    post(client, make_outcome(1, finished=NOW, version="4.5.6"))
    response = client.get("/badge/shipit-sandbox.svg")
    assert response.headers["content-type"] == "image/svg+xml"
    assert "4.5.6 healthy" in response.text
    assert client.get("/badge/nobody.svg").status_code == 404


def test_pages_escape_outcome_text_and_never_link_javascript_urls(client: TestClient) -> None:
    outcome = make_outcome(1, finished=NOW, reason="<script>alert(1)</script>")
    outcome["trigger"]["run_url"] = "javascript:alert(2)"
    outcome["verdict"] = copy.deepcopy(outcome["verdict"])
    outcome["verdict"]["checks"][0]["seen"] = "<img src=x onerror=alert(3)>"
    post(client, outcome)
    for path in ["/", "/history", f"/runs/{outcome['id']}"]:
        html = client.get(path).text
        assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html, path
        assert 'href="javascript:' not in html and "CI run" not in html, path
        assert "<img src=x" not in html, path


def test_charts_and_dora_pages_render(client: TestClient) -> None:
    post(client, {"outcomes": history(40, NOW)})
    charts = client.get("/charts", params={"channel": "shipit-sandbox", "days": 7}).text
    assert charts.count("<svg") == 4 and '<rect class="bar ok"' in charts
    dora = client.get("/api/dora", params={"days": 7}).json()["figures"]
    overall = next(f for f in dora if f["channel"] is None)
    assert overall["deploys"] > 0 and 0 < overall["change_failure_rate"] < 1
    assert "Change failure rate" in client.get("/dora").text


def test_healthz_is_503_when_the_database_is_gone(tmp_path) -> None:
    from shipit_dashboard.db import Database, DatabaseURL

    database_file = tmp_path / "gone.db"
    store = Store.open(Database(DatabaseURL.parse(f"sqlite:///{database_file}")))
    with client_for(store) as client:
        store.db.close()
        database_file.unlink()
        (tmp_path / "gone.db").mkdir()  # a directory where the database was: every open fails
        response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["status"] == "database unavailable"


def test_pages_forbid_scripts_with_a_content_security_policy(client: TestClient) -> None:
    for path in ["/", "/history", "/charts", "/dora", "/history?since=nonsense"]:
        response = client.get(path)
        policy = response.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script-src" not in policy, path
        assert response.headers["x-content-type-options"] == "nosniff"

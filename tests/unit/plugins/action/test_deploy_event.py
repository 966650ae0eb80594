"""deploy_event against a local HTTP server speaking the dashboard's ingest contract.

The server stands in for the dashboard service (``POST /api/events``: bearer token, one
outcome or ``{"outcomes": [...]}``, ``{"results": [{id, status}]}``, 422 for a bad outcome
with nothing written, 401 for a bad token) and can be switched to fail like a sick store.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.cytube.shipit.plugins.action.deploy_event import (
    BadInput,
    Shipper,
    check_outcomes,
    dashboard_name,
    events_url,
)
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_journal import append_outcome, unsent_outcomes

REPO_ROOT = Path(__file__).resolve().parents[4]
TOKEN = "ingest-token-7f3a9c"


class Store:
    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.requests: list[dict[str, Any]] = []
        self.fail_with: int | None = None
        self.hold = threading.Event()
        self.slow = False


def make_handler(store: Store) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def answer(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            store.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
            if store.slow:
                store.hold.wait(5)
            if store.fail_with:
                return self.answer(store.fail_with, {"detail": "store broken"})
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                return self.answer(401, {"detail": "bad token"})
            outcomes = body["outcomes"] if "outcomes" in body else [body]
            for index, outcome in enumerate(outcomes):
                if outcome.get("status") == "nonsense":
                    problem = {"index": index, "field": "status", "message": "'nonsense' is not one of the statuses"}
                    return self.answer(422, {"detail": [problem]})
            results = []
            for outcome in outcomes:
                known = outcome["id"] in store.rows
                store.rows.setdefault(outcome["id"], outcome)
                results.append({"id": outcome["id"], "status": "duplicate" if known else "stored"})
            self.answer(200, {"results": results})

    return Handler


@pytest.fixture
def dashboard() -> Iterator[tuple[str, Store]]:
    store = Store()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(store))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", store
    store.hold.set()
    server.shutdown()
    server.server_close()


def outcome(number: int, status: str = "success") -> dict[str, Any]:
    return {"id": f"run-{number}:deploy:chan:bots-1", "kind": "deploy", "status": status}


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def shipper(url: str, token: str = TOKEN, **kwargs: Any) -> Shipper:
    settings = dict(timeout=2.0, budget=10.0, batch_size=100)
    settings.update(kwargs)
    return Shipper(url, token, **settings)


def test_ships_in_batches_with_the_token_in_the_header(dashboard: tuple[str, Store]) -> None:
    url, store = dashboard
    outcomes = [outcome(n) for n in range(250)]
    report = shipper(url).ship(outcomes)
    assert report.acked == [o["id"] for o in outcomes] == report.stored
    assert report.unacked == [] and report.requests == 3
    assert [len(r["body"]["outcomes"]) for r in store.requests] == [100, 100, 50]
    assert {r["auth"] for r in store.requests} == {f"Bearer {TOKEN}"}
    assert {r["path"] for r in store.requests} == {"/api/events"}


def test_a_single_outcome_is_posted_as_itself(dashboard: tuple[str, Store]) -> None:
    url, store = dashboard
    shipper(url + "/").ship([outcome(1)])
    assert store.requests[0]["body"] == outcome(1)


def test_replaying_changes_nothing(dashboard: tuple[str, Store]) -> None:
    url, store = dashboard
    outcomes = [outcome(n) for n in range(3)]
    shipper(url).ship(outcomes)
    again = shipper(url).ship(outcomes + outcomes)
    assert again.stored == [] and again.duplicate == again.acked == [o["id"] for o in outcomes]
    assert len(store.rows) == 3


def test_one_invalid_outcome_does_not_hold_back_the_batch(dashboard: tuple[str, Store]) -> None:
    url, store = dashboard
    outcomes = [outcome(1), outcome(2, status="nonsense"), outcome(3)]
    report = shipper(url).ship(outcomes)
    assert report.acked == [outcome(1)["id"], outcome(3)["id"]]
    assert report.unacked == [
        {"id": outcome(2)["id"], "error": "HTTP 422: status: 'nonsense' is not one of the statuses"}
    ]
    assert set(store.rows) == {outcome(1)["id"], outcome(3)["id"]}


def test_a_dashboard_that_is_down_leaves_everything_unacked() -> None:
    report = shipper(closed_port_url(), batch_size=2).ship([outcome(n) for n in range(5)])
    assert report.acked == [] and len(report.unacked) == 5 and report.requests == 1
    assert report.unacked[0]["error"].startswith("unreachable (ConnectionError")
    assert report.unacked[-1]["error"] == "not sent: an earlier request of this run failed"


@pytest.mark.parametrize("status", [500, 503, 404])
def test_a_broken_store_is_asked_once_and_nothing_is_acked(dashboard: tuple[str, Store], status: int) -> None:
    url, store = dashboard
    store.fail_with = status
    report = shipper(url, batch_size=1).ship([outcome(1), outcome(2)])
    assert report.acked == [] and report.requests == 1
    assert report.unacked[0] == {"id": outcome(1)["id"], "error": f"HTTP {status}: store broken"}


def test_a_refused_token_is_reported_without_the_token(dashboard: tuple[str, Store]) -> None:
    url, _store = dashboard
    report = shipper(url, token="wrong-secret-token").ship([outcome(1)])
    assert report.acked == []
    assert "token was refused" in report.unacked[0]["error"]
    assert "wrong-secret-token" not in json.dumps(report.unacked)


def test_a_slow_store_times_out_as_unacked(dashboard: tuple[str, Store]) -> None:
    url, store = dashboard
    store.slow = True
    report = shipper(url, timeout=0.3).ship([outcome(1)])
    assert report.acked == [] and report.unacked[0]["error"] == "no answer within 0.3 s"


def test_nothing_is_sent_once_the_budget_is_used_up(dashboard: tuple[str, Store]) -> None:
    url, store = dashboard
    ticks = iter([0.0, 0.0, 11.0, 11.0])
    report = Shipper(url, TOKEN, 2.0, 10.0, 1, clock=lambda: next(ticks)).ship([outcome(1), outcome(2)])
    assert report.acked == [outcome(1)["id"]]
    assert report.unacked == [{"id": outcome(2)["id"], "error": "not sent: the budget of 10 s was used up"}]
    assert len(store.requests) == 1


@pytest.mark.parametrize(
    "url, named",
    [
        ("", "is not a dashboard base URL"),
        ("dash.example:8095", "is not a dashboard base URL"),
        ("ftp://dash.example", "is not a dashboard base URL"),
        ("http://user:pw@dash.example", "must not carry credentials"),
        ("http://dash.example/?token=x", "must not have a query"),
        ("http://dash.example:99999", "invalid port"),
    ],
)
def test_a_bad_url_is_named(url: str, named: str) -> None:
    with pytest.raises(BadInput, match=named):
        events_url(url)


@pytest.mark.parametrize(
    "outcomes, named",
    [
        ({"id": "x"}, "must be a list"),
        (["x"], r"outcomes\[0\] is a str"),
        ([{"id": "a"}, {"kind": "deploy"}], r"outcomes\[1\] has no id"),
        ([{"id": ""}], r"outcomes\[0\] has no id"),
    ],
)
def test_bad_outcomes_are_named(outcomes: Any, named: str) -> None:
    with pytest.raises(BadInput, match=named):
        check_outcomes(outcomes)


def test_warnings_name_only_host_and_port() -> None:
    assert dashboard_name("https://dash.example:8443/prefix") == "dash.example:8443"


def run_playbook(tmp_path: Path, task: dict[str, Any], *options: str) -> subprocess.CompletedProcess[str]:
    playbook = tmp_path / "ship.yml"
    play = {"name": "Ship", "hosts": "localhost", "gather_facts": False, "tasks": [task]}
    playbook.write_text(json.dumps([dict(play, vars={"ansible_python_interpreter": sys.executable})]))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    argv = [str(REPO_ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", "localhost,", "-c", "local", "-vvv"]
    return subprocess.run(
        [*argv, *options, str(playbook)], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_task_warns_and_stays_ok_when_the_store_is_down(tmp_path: Path) -> None:
    url = closed_port_url()
    task = {
        "name": "Ship",
        "cytube.shipit.deploy_event": {"url": url, "token": TOKEN, "outcomes": [outcome(1)]},
        "register": "shipped",
    }
    proc = run_playbook(tmp_path, task)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert f"[WARNING]: dashboard {url.split('//')[1]} did not acknowledge 1 of 1 outcome(s)" in output
    assert TOKEN not in output


def test_the_task_fails_on_bad_input_naming_it(tmp_path: Path) -> None:
    task = {"name": "Ship", "cytube.shipit.deploy_event": {"url": "nowhere", "token": TOKEN, "outcomes": []}}
    proc = run_playbook(tmp_path, task)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "url 'nowhere' is not a dashboard base URL" in output
    assert TOKEN not in output


def test_check_mode_sends_nothing(tmp_path: Path, dashboard: tuple[str, Store]) -> None:
    url, store = dashboard
    task = {"name": "Ship", "cytube.shipit.deploy_event": {"url": url, "token": TOKEN, "outcomes": [outcome(1)]}}
    proc = run_playbook(tmp_path, task, "--check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert store.requests == []


SHIP_TASKS = REPO_ROOT / "playbooks" / "tasks" / "ship_outcomes.yml"


def ship_with_task_file(tmp_path: Path, root: Path, url: str | None) -> tuple[subprocess.CompletedProcess[str], str]:
    variables = {"shipit_root": str(root), "shipit_dashboard_token": TOKEN}
    if url is not None:
        variables["shipit_dashboard_url"] = url
    task = {"name": "Ship", "ansible.builtin.include_tasks": str(SHIP_TASKS), "vars": variables}
    proc = run_playbook(tmp_path, task)
    return proc, proc.stdout + proc.stderr


def test_the_task_file_ships_the_backlog_and_marks_it_sent(tmp_path: Path, dashboard: tuple[str, Store]) -> None:
    url, store = dashboard
    root = tmp_path / "bots"
    state_dir = str(root / "chan" / ".shipit")
    for number in (1, 2):
        append_outcome(state_dir, outcome(number))

    proc, output = ship_with_task_file(tmp_path, root, closed_port_url())
    assert proc.returncode == 0, output
    assert "did not acknowledge 2 of 2 outcome(s)" in output and TOKEN not in output
    assert [o["id"] for o in unsent_outcomes(state_dir)] == [outcome(1)["id"], outcome(2)["id"]]

    proc, output = ship_with_task_file(tmp_path, root, url)
    assert proc.returncode == 0, output
    assert unsent_outcomes(state_dir) == [] and list(store.rows) == [outcome(1)["id"], outcome(2)["id"]]
    assert [len(r["body"]["outcomes"]) for r in store.requests] == [2]


def test_the_task_file_does_nothing_without_a_dashboard_url(tmp_path: Path) -> None:
    root = tmp_path / "bots"
    append_outcome(str(root / "chan" / ".shipit"), outcome(1))
    proc, output = ship_with_task_file(tmp_path, root, None)
    assert proc.returncode == 0, output
    assert "skipping: [localhost]" in output and "WARNING" not in output
    assert len(unsent_outcomes(str(root / "chan" / ".shipit"))) == 1

"""The GitHub REST API stand-in: auth, validation against GitHub's description, pagination, faults, releases."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from sandbox.github.harness import Running, start_github  # noqa: E402
from sandbox.github.spec import DEFAULT_SPEC, OPERATIONS, cut_description, load_cut  # noqa: E402

TOKEN = "ghp_standinTestToken"
AUTH = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/vnd.github+json"}
REPO = "/repos/example/bot"

pytestmark = pytest.mark.skipif(not DEFAULT_SPEC.is_file(), reason="run scripts/setup.sh (npm @octokit/openapi)")


@pytest.fixture(scope="module")
def github(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    server = start_github(tmp_path_factory.mktemp("github"), [TOKEN])
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _clean(github: Running) -> Iterator[None]:
    github.reset()
    yield
    state = github.state()
    assert state["response_errors"] == [], "every response must match GitHub's description"


def call(github: Running, method: str, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
    headers = kwargs.pop("headers", AUTH)
    return requests.request(method, github.url + path, json=body, headers=headers, timeout=10, **kwargs)


def test_auth_like_github(github: Running) -> None:
    missing = call(github, "GET", f"{REPO}/issues/1/comments", headers={})
    assert missing.status_code == 401 and missing.json()["message"] == "Requires authentication"
    wrong = call(github, "GET", f"{REPO}/issues/1/comments", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["message"] == "Bad credentials"
    assert call(github, "GET", f"{REPO}/issues/1/comments", headers={"Authorization": f"token {TOKEN}"}).ok


@pytest.mark.parametrize(
    ("path", "body", "complaint"),
    [
        (f"{REPO}/issues/1/comments", {"body": 5}, "5 is not of type 'string'"),
        (f"{REPO}/issues/1/comments", {"text": "hi"}, "'body' is a required property"),
        (f"{REPO}/deployments", {"environment": "x"}, "'ref' is a required property"),
        (f"{REPO}/statuses/abc", {"state": "done"}, "'done' is not one of"),
    ],
)
def test_requests_github_would_reject_get_422_and_are_recorded(
    github: Running, path: str, body: dict, complaint: str
) -> None:
    response = call(github, "POST", path, body)
    assert response.status_code == 422 and complaint in response.json()["message"]
    errors = github.state()["request_errors"]
    assert len(errors) == 1 and complaint in errors[0]["errors"][0]


def test_deployment_status_state_is_validated(github: Running) -> None:
    deployment = call(github, "POST", f"{REPO}/deployments", {"ref": "a" * 40, "environment": "sandbox/x"}).json()
    bad = call(github, "POST", f"{REPO}/deployments/{deployment['id']}/statuses", {"state": "done"})
    assert bad.status_code == 422
    good = call(github, "POST", f"{REPO}/deployments/{deployment['id']}/statuses", {"state": "in_progress"})
    assert good.status_code == 201 and good.json()["state"] == "in_progress"


def test_link_header_pagination(github: Running) -> None:
    github.admin(
        "/admin/seed-comments", {"repo": "example/bot", "issue_number": 5, "count": 75, "base_url": github.url}
    )
    first = call(github, "GET", f"{REPO}/issues/5/comments", params={"per_page": 30})
    assert len(first.json()) == 30
    links = requests.utils.parse_header_links(first.headers["Link"])
    rels = {link["rel"]: link["url"] for link in links}
    assert set(rels) == {"next", "last"} and rels["last"].endswith("page=3")
    last = requests.get(rels["last"], headers=AUTH, timeout=10)
    assert len(last.json()) == 15
    assert {link["rel"] for link in requests.utils.parse_header_links(last.headers["Link"])} == {"prev", "first"}


def test_comment_create_and_edit(github: Running) -> None:
    created = call(github, "POST", f"{REPO}/issues/9/comments", {"body": "one"}).json()
    edited = call(github, "PATCH", f"{REPO}/issues/comments/{created['id']}", {"body": "two"})
    assert edited.status_code == 200 and edited.json()["body"] == "two"
    assert call(github, "PATCH", f"{REPO}/issues/comments/999999", {"body": "x"}).status_code == 404
    [comment] = github.state()["comments"]
    assert comment["edits"] == 1 and comment["body"] == "two"


def test_fault_switches(github: Running) -> None:
    github.fault("error_500", count=1)
    assert call(github, "GET", f"{REPO}/deployments").status_code == 500
    assert call(github, "GET", f"{REPO}/deployments").status_code == 200
    github.fault("secondary_rate_limit", retry_after=7, count=1)
    limited = call(github, "GET", f"{REPO}/deployments")
    assert limited.status_code == 403 and limited.headers["Retry-After"] == "7"
    assert "secondary rate limit" in limited.json()["message"]
    github.fault("slow", delay_s=0.2, count=1, match="/deployments")
    assert call(github, "GET", f"{REPO}/deployments").status_code == 200
    assert [f["mode"] for f in github.state()["faults_served"]] == ["error_500", "secondary_rate_limit", "slow"]
    refused = requests.post(github.admin_url + "/admin/fault", json={"mode": "flaky"}, timeout=5)
    assert refused.status_code == 400 and "is not one of" in refused.json()["error"]


def test_release_and_asset_upload_on_the_uploads_path(github: Running) -> None:
    release = call(github, "POST", f"{REPO}/releases", {"tag_name": "v1.0.0", "name": "1.0.0"})
    assert release.status_code == 201
    duplicate = call(github, "POST", f"{REPO}/releases", {"tag_name": "v1.0.0"})
    assert duplicate.status_code == 422 and duplicate.json()["errors"][0]["code"] == "already_exists"
    upload_url = release.json()["upload_url"].split("{")[0]
    assert upload_url.startswith(github.url + "/uploads/repos/example/bot/releases/")
    data = b"wheel bytes"
    headers = {**AUTH, "Content-Type": "application/octet-stream"}
    asset = requests.post(upload_url, params={"name": "bot.whl"}, data=data, headers=headers, timeout=10)
    assert asset.status_code == 201 and asset.json()["size"] == len(data)
    assert asset.json()["digest"].startswith("sha256:")
    listed = call(github, "GET", f"{REPO}/releases/{release.json()['id']}/assets").json()
    assert [a["name"] for a in listed] == ["bot.whl"]
    by_tag = call(github, "GET", f"{REPO}/releases/tags/v1.0.0").json()
    assert by_tag["assets"][0]["name"] == "bot.whl"
    assert [r["tag_name"] for r in call(github, "GET", f"{REPO}/releases").json()] == ["v1.0.0"]


def test_commit_statuses(github: Running) -> None:
    sha = "b" * 40
    body = {"state": "success", "context": "cytube-shipit/sandbox", "target_url": "https://x.example/run"}
    assert call(github, "POST", f"{REPO}/statuses/{sha}", body).status_code == 201
    listed = call(github, "GET", f"{REPO}/commits/{sha}/statuses").json()
    assert [s["context"] for s in listed] == ["cytube-shipit/sandbox"]


def test_unserved_endpoint_is_404(github: Running) -> None:
    assert call(github, "GET", f"{REPO}/pulls").status_code == 404


def test_cut_description_keeps_only_served_operations_and_their_components(tmp_path: Path) -> None:
    cut = load_cut(DEFAULT_SPEC, tmp_path)
    served = {(m, p) for p, ops in cut["paths"].items() for m in ops if m not in ("parameters", "servers")}
    assert served == set(OPERATIONS)
    assert "issue-comment" in cut["components"]["schemas"] and "repository" not in cut["components"]["schemas"]
    assert len(list(tmp_path.glob("github-standin-*.json"))) == 1
    assert load_cut(DEFAULT_SPEC, tmp_path) == cut
    with pytest.raises(Exception, match="is not in the description"):
        cut_description({"paths": {}, "components": {}}, [("get", "/nope")])


def test_missing_description_is_a_clear_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sandbox.github", "--spec", str(tmp_path / "none.json"), "--port", "0"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2 and "run scripts/setup.sh" in done.stderr
    assert json.dumps(done.stdout) is not None

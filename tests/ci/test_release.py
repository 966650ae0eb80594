"""scripts/ci/release.py in throwaway copies of this repository: bump, assets, push, publish (GitHub stand-in)."""

from __future__ import annotations

import email.message
import hashlib
import io
import re
import sys
import urllib.error
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from release_harness import BASE, REPO_ROOT, Checkout, copy_checkout, next_version

sys.path.insert(0, str(REPO_ROOT / "scripts" / "ci"))
sys.path.insert(0, str(REPO_ROOT))

import release
from release_git import PYPROJECT_VERSION, ReleaseError
from release_github import GitHub, _retry_wait

from sandbox.github.harness import Running, start_github
from sandbox.github.spec import DEFAULT_SPEC

TOKEN = "ghs_releaseJobToken0123456789abcdef"
REPOSITORY = "cytube/shipit"
MINOR = next_version(BASE, "minor")
PATCH = next_version(BASE, "patch")
ORIGINAL_CHANGELOG_LINE = "- Collection skeleton that runs from a checkout"


def outputs(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if re.match(r"^\w+=", line))


def versions(checkout: Checkout) -> tuple[str, str]:
    galaxy = re.search(r"^version: (\S+)$", (checkout.work / "galaxy.yml").read_text(), re.MULTILINE)
    pyproject = PYPROJECT_VERSION.search((checkout.work / "examples/refbot/pyproject.toml").read_text())
    assert galaxy and pyproject
    return galaxy.group(1), pyproject.group(1)


# --- bump ---------------------------------------------------------------------------------------


def test_bump_takes_the_increment_from_conventional_commits(checkout: Checkout) -> None:
    """Each step is its own release: the increment comes from the commits since the previous tag."""
    steps = [
        ("fix: reconnect after a kick", "patch"),
        ("perf: one socketconfig fetch per run", "patch"),
        ("feat(refbot): answer !uptime", "minor"),
        ("feat!: channels are named by URL", "major"),
        ("refactor: settings in one place\n\nBREAKING CHANGE: bot_channel is now required", "major"),
    ]
    previous = BASE
    for message, part in steps:
        version = next_version(previous, part)
        checkout.commit("docs: a note that releases nothing")
        checkout.commit(message)
        result = checkout.release("bump")
        assert result.returncode == 0, result.stderr
        assert outputs(result.stdout) == {
            "released": "true",
            "version": version,
            "tag": f"v{version}",
            "previous": previous,
            "previous_tag": f"v{previous}",
        }, message
        assert versions(checkout) == (version, version)
        assert checkout.git("tag", "--points-at", "HEAD") == f"v{version}"
        assert checkout.git("log", "-1", "--format=%s") == f"bump: release {version} (was {previous})"
        previous = version


def test_bump_writes_github_output_the_changelog_section_and_keeps_the_old_content(
    checkout: Checkout, tmp_path: Path
) -> None:
    checkout.commit("feat(refbot): answer !uptime")
    checkout.commit("fix: reconnect after a kick")
    github_output = tmp_path / "github_output"
    github_output.write_text("earlier=kept\n")
    identity = {"GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@example.invalid"}
    result = checkout.release("bump", GITHUB_OUTPUT=str(github_output), **identity)
    assert result.returncode == 0, result.stderr
    assert outputs(github_output.read_text()) == {"earlier": "kept", **outputs(result.stdout)}
    assert checkout.git("log", "-1", "--format=%an <%ae> %cn") == "Ada <ada@example.invalid> Ada"
    changelog = (checkout.work / "CHANGELOG.md").read_text()
    new, old = changelog.index(f"## v{MINOR} ("), changelog.index(f"## v{BASE} (")
    assert changelog.startswith("# Changelog\n") and new < old
    section = changelog[new:old]
    assert "- **refbot**: answer !uptime" in section and "- reconnect after a kick" in section
    assert ORIGINAL_CHANGELOG_LINE in changelog[old:]
    changed = set(checkout.git("show", "--name-only", "--format=", "HEAD").splitlines())
    assert changed == {".cz.toml", "CHANGELOG.md", "galaxy.yml", "examples/refbot/pyproject.toml"}


def test_nothing_releasable_is_released_false_and_changes_nothing(checkout: Checkout, tmp_path: Path) -> None:
    checkout.commit("docs: explain the lock")
    checkout.commit("an old-style message without a type")
    head = checkout.git("rev-parse", "HEAD")
    github_output = tmp_path / "github_output"
    result = checkout.release("bump", GITHUB_OUTPUT=str(github_output))
    assert result.returncode == 0, result.stderr
    assert outputs(result.stdout)["released"] == "false"
    assert "released=false\n" in github_output.read_text()
    assert checkout.git("rev-parse", "HEAD") == head and versions(checkout) == (BASE, BASE)
    assert checkout.git("tag") == f"v{BASE}"


def test_bump_refuses_without_the_baseline_tag_and_baseline_keeps_the_changelog(
    new_checkout: Callable[..., Checkout],
) -> None:
    checkout = new_checkout(baseline=False)
    checkout.commit("feat: something")
    refused = checkout.release("bump")
    assert refused.returncode == 1 and f"no tag v{BASE}" in refused.stderr and "release.py baseline" in refused.stderr
    assert "(unreleased)" in (checkout.work / "CHANGELOG.md").read_text()
    assert checkout.release("baseline").returncode == 0
    assert outputs(checkout.release("bump").stdout)["released"] == "false", "the baseline includes what came before"
    checkout.commit("feat: something after the baseline")
    assert outputs(checkout.release("bump").stdout)["version"] == MINOR
    changelog = (checkout.work / "CHANGELOG.md").read_text()
    assert "unreleased" not in changelog and ORIGINAL_CHANGELOG_LINE in changelog
    assert changelog.index(f"## v{MINOR} (") < changelog.index(f"## v{BASE} (")


def test_bump_refuses_a_dirty_tree_and_disagreeing_versions(checkout: Checkout) -> None:
    checkout.commit("fix: one")
    galaxy = checkout.work / "galaxy.yml"
    galaxy.write_text(galaxy.read_text().replace(f"version: {BASE}", "version: 9.9.9"))
    dirty = checkout.release("bump")
    assert dirty.returncode == 1 and "uncommitted changes" in dirty.stderr and "galaxy.yml" in dirty.stderr
    checkout.git("commit", "-q", "-am", "chore: set a version by hand")
    disagree = checkout.release("bump")
    assert disagree.returncode == 1
    assert "galaxy.yml: 9.9.9" in disagree.stderr and f".cz.toml: {BASE}" in disagree.stderr


# --- push ---------------------------------------------------------------------------------------


def test_push_lands_the_bump_commit_and_tag_in_origin(checkout: Checkout) -> None:
    checkout.commit("feat: new command")
    assert checkout.release("bump").returncode == 0
    result = checkout.release("push", GITHUB_REF_NAME="main")
    assert result.returncode == 0, result.stderr
    head = checkout.git("rev-parse", "HEAD")
    assert checkout.origin_git("rev-parse", "refs/heads/main") == head
    assert checkout.origin_git("rev-parse", f"v{MINOR}^{{commit}}") == head
    assert checkout.origin_git("cat-file", "-t", f"v{MINOR}") == "tag"
    release_bot = "cytube-shipit-release <release@cytube-shipit.invalid>"
    assert checkout.origin_git("log", "-1", "--format=%an <%ae>", "main") == release_bot


def test_push_when_origin_moved_pushes_nothing_and_says_rerun(new_checkout: Callable[..., Checkout]) -> None:
    checkout = new_checkout()
    checkout.commit("feat: new command")
    assert checkout.release("bump").returncode == 0
    other = Checkout(checkout.work.parent / "other", checkout.origin)
    checkout.git("clone", "-q", "../origin.git", str(other.work))
    other.commit("fix: landed meanwhile")
    other.git("push", "-q", "origin", "main")
    result = checkout.release("push")
    assert result.returncode == 1
    assert "Re-run the release workflow" in result.stderr and "nothing was pushed" in result.stderr
    assert f"v{MINOR}" not in checkout.origin_git("tag")


def test_push_refused_by_branch_protection_names_it(checkout: Checkout) -> None:
    checkout.commit("fix: one")
    assert checkout.release("bump").returncode == 0
    hook = checkout.origin / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'GH006: Protected branch update failed for refs/heads/main.' >&2\nexit 1\n")
    hook.chmod(0o755)
    result = checkout.release("push")
    assert result.returncode == 1 and "branch or tag protection must let the release job push" in result.stderr
    assert f"v{PATCH}" not in checkout.origin_git("tag")


def test_push_without_a_release_tag_at_head_is_refused(checkout: Checkout) -> None:
    checkout.commit("docs: nothing to release")
    result = checkout.release("push")
    assert result.returncode == 1 and "run `release.py bump` first" in result.stderr


# --- assets and publish -------------------------------------------------------------------------

needs_spec = pytest.mark.skipif(not DEFAULT_SPEC.is_file(), reason="run scripts/setup.sh (npm @octokit/openapi)")


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory, checkout_template: Checkout) -> Checkout:
    """One minor release, bumped and pushed, shared by the publish tests."""
    checkout = copy_checkout(checkout_template, tmp_path_factory.mktemp("released") / "repo")
    checkout.commit("feat(refbot): answer !uptime")
    checkout.commit("fix: reconnect after a kick")
    assert checkout.release("bump").returncode == 0
    assert checkout.release("push").returncode == 0
    return checkout


@pytest.fixture(scope="module")
def assets(released: Checkout, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("assets")
    result = released.release("assets", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert [Path(line).name for line in result.stdout.splitlines()] == [
        f"cytube-shipit-{MINOR}.tar.gz",
        f"cytube_refbot-{MINOR}-py3-none-any.whl",
        "SHA256SUMS",
    ]
    return out


@pytest.fixture(scope="module")
def github(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    server = start_github(tmp_path_factory.mktemp("github"), [TOKEN])
    yield server
    server.stop()


@pytest.fixture
def stand_in(github: Running) -> Iterator[Running]:
    github.reset()
    yield github
    state = github.state()
    assert state["request_errors"] == [] and state["response_errors"] == []


def publish(checkout: Checkout, github: Running, assets: Path, token: str = TOKEN) -> tuple[int, str]:
    env = {"GITHUB_TOKEN": token, "GITHUB_REPOSITORY": REPOSITORY, "GITHUB_API_URL": github.url}
    result = checkout.release("publish", "--tag", f"v{MINOR}", "--assets", str(assets), **env)
    return result.returncode, result.stdout + result.stderr


def api(github: Running, method: str, path: str, **kwargs: object) -> requests.Response:
    headers = {"Authorization": f"Bearer {TOKEN}", **kwargs.pop("headers", {})}  # type: ignore[dict-item]
    url = path if path.startswith("http") else f"{github.url}{path}"
    return requests.request(method, url, headers=headers, timeout=10, **kwargs)  # type: ignore[arg-type]


def sums(assets: Path) -> dict[str, str]:
    lines = (assets / "SHA256SUMS").read_text().splitlines()
    return {name: digest for digest, name in (line.split("  ", 1) for line in lines)}


def uploads(github: Running) -> list[str]:
    return [r["query"]["name"] for r in github.state()["requests"] if r["path"].startswith("/uploads/")]


def test_sha256sums_lists_the_wheel_and_the_collection(assets: Path) -> None:
    listed = sums(assets)
    assert sorted(listed) == [f"cytube-shipit-{MINOR}.tar.gz", f"cytube_refbot-{MINOR}-py3-none-any.whl"]
    for name, digest in listed.items():
        assert hashlib.sha256((assets / name).read_bytes()).hexdigest() == digest


@needs_spec
def test_publish_creates_the_release_with_the_changelog_notes_and_downloadable_assets(
    released: Checkout, assets: Path, stand_in: Running
) -> None:
    code, said = publish(released, stand_in, assets)
    assert code == 0, said
    [release] = stand_in.state()["releases"]
    assert release["tag_name"] == release["name"] == f"v{MINOR}" and release["repo"] == REPOSITORY
    assert "- **refbot**: answer !uptime" in release["body"] and "- reconnect after a kick" in release["body"]
    assert f"v{BASE}" not in release["body"] and ORIGINAL_CHANGELOG_LINE not in release["body"]
    assert release["target_commitish"] == released.git("rev-parse", f"v{MINOR}^{{commit}}")
    listed = api(stand_in, "GET", f"/repos/{REPOSITORY}/releases/{release['id']}/assets").json()
    types = {asset["name"]: asset["content_type"] for asset in listed}
    assert types == {
        f"cytube-shipit-{MINOR}.tar.gz": "application/gzip",
        f"cytube_refbot-{MINOR}-py3-none-any.whl": "application/zip",
        "SHA256SUMS": "text/plain",
    }
    downloaded = {
        asset["name"]: api(
            stand_in,
            "GET",
            f"/repos/{REPOSITORY}/releases/assets/{asset['id']}",
            headers={"Accept": "application/octet-stream"},
        ).content
        for asset in listed
    }
    published_sums = dict(
        (name, digest)
        for digest, name in (line.split("  ", 1) for line in downloaded["SHA256SUMS"].decode().split("\n") if line)
    )
    assert published_sums == sums(assets)
    for name, digest in published_sums.items():
        assert hashlib.sha256(downloaded[name]).hexdigest() == digest
    assert TOKEN not in said


@needs_spec
def test_publish_again_uploads_nothing(released: Checkout, assets: Path, stand_in: Running) -> None:
    assert publish(released, stand_in, assets)[0] == 0
    first = uploads(stand_in)
    code, said = publish(released, stand_in, assets)
    assert code == 0, said
    assert uploads(stand_in) == first and len(first) == 3
    assert len(stand_in.state()["releases"]) == 1
    assert f"release v{MINOR}: already there" in said and said.count("kept ") == 3


@needs_spec
def test_publish_completes_a_half_done_release(released: Checkout, assets: Path, stand_in: Running) -> None:
    release = api(stand_in, "POST", f"/repos/{REPOSITORY}/releases", json={"tag_name": f"v{MINOR}"}).json()
    wheel = assets / f"cytube_refbot-{MINOR}-py3-none-any.whl"
    upload = release["upload_url"].split("{")[0]
    api(
        stand_in,
        "POST",
        upload,
        params={"name": wheel.name},
        data=wheel.read_bytes(),
        headers={"Content-Type": "application/zip"},
    )
    code, said = publish(released, stand_in, assets)
    assert code == 0, said
    assert f"kept {wheel.name}" in said
    assert uploads(stand_in)[1:] == [f"cytube-shipit-{MINOR}.tar.gz", "SHA256SUMS"]


@needs_spec
def test_publish_refuses_an_uploaded_asset_of_another_size(released: Checkout, assets: Path, stand_in: Running) -> None:
    release = api(stand_in, "POST", f"/repos/{REPOSITORY}/releases", json={"tag_name": f"v{MINOR}"}).json()
    upload = release["upload_url"].split("{")[0]
    api(
        stand_in,
        "POST",
        upload,
        params={"name": "SHA256SUMS"},
        data=b"truncated",
        headers={"Content-Type": "text/plain"},
    )
    code, said = publish(released, stand_in, assets)
    assert code == 1
    assert "already has an asset SHA256SUMS of 9 bytes" in said


@needs_spec
def test_publish_retries_server_errors(released: Checkout, assets: Path, stand_in: Running) -> None:
    stand_in.fault("error_500", count=1, match="/uploads/")
    code, said = publish(released, stand_in, assets)
    assert code == 0, said
    assert [f["mode"] for f in stand_in.state()["faults_served"]] == ["error_500"]
    assert len(uploads(stand_in)) == 4 and len(set(uploads(stand_in))) == 3


@needs_spec
def test_publish_with_a_bad_token_names_the_fix_and_never_prints_it(
    released: Checkout, assets: Path, stand_in: Running
) -> None:
    wrong = "ghs_notTheRightToken987654321"
    code, said = publish(released, stand_in, assets, token=wrong)
    assert code == 1
    assert "answered 401 (Bad credentials)" in said and "GITHUB_TOKEN" in said
    assert wrong not in said and stand_in.state()["releases"] == []


def test_publish_checks_the_assets_before_calling_github(released: Checkout, assets: Path, tmp_path: Path) -> None:
    broken = tmp_path / "assets"
    broken.mkdir()
    for path in assets.iterdir():
        (broken / path.name).write_bytes(path.read_bytes())
    (broken / f"cytube_refbot-{MINOR}-py3-none-any.whl").write_bytes(b"not the wheel")
    env = {"GITHUB_TOKEN": TOKEN, "GITHUB_REPOSITORY": REPOSITORY, "GITHUB_API_URL": "http://127.0.0.1:9"}
    result = released.release("publish", "--tag", f"v{MINOR}", "--assets", str(broken), **env)
    assert result.returncode == 1 and "does not match SHA256SUMS" in result.stderr


# --- refusals, without a server -----------------------------------------------------------------


def refusal(status: int, body: bytes = b"{}") -> str:
    github = GitHub("https://api.github.com", REPOSITORY, TOKEN)
    headers = email.message.Message()
    error = urllib.error.HTTPError("https://api.github.com/x", status, "refused", headers, io.BytesIO(body))
    return github._refusal("POST", f"{github.repo_url}/releases", error)


@pytest.mark.parametrize(
    ("status", "fix"),
    [
        (401, "pass the job's token as GITHUB_TOKEN"),
        (403, "permissions: contents: write"),
        (404, f"GITHUB_REPOSITORY={REPOSITORY} names the repository"),
        (422, "rejected the request as invalid"),
    ],
)
def test_refusals_name_what_to_fix(status: int, fix: str) -> None:
    said = refusal(status, b'{"message": "Validation Failed", "errors": [{"resource": "Release", "code": "custom"}]}')
    assert f"POST /repos/{REPOSITORY}/releases answered {status} (Validation Failed" in said and fix in said
    assert TOKEN not in said


def test_an_error_carrying_the_token_is_redacted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def leak(args: object, repo: object) -> int:
        raise ReleaseError(f"push to https://x-access-token:{TOKEN}@github.com/cytube/shipit failed")

    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setattr(release, "dispatch", leak)
    assert release.main(["push"]) == 1
    said = capsys.readouterr()
    assert TOKEN not in said.out + said.err and "x-access-token:***@" in said.err


def test_no_answer_is_retried_with_backoff_then_named() -> None:
    waits: list[float] = []
    github = GitHub("http://127.0.0.1:9", REPOSITORY, TOKEN, sleep=waits.append)
    with pytest.raises(ReleaseError, match="no answer from GitHub after 4 attempts") as raised:
        github.json("GET", f"{github.repo_url}/releases/tags/v{MINOR}")
    assert waits == [1.0, 2.0, 4.0] and TOKEN not in str(raised.value)


@pytest.mark.parametrize(
    ("status", "retry_after", "wait"),
    [(502, None, 1.0), (403, "7", 7.0), (429, "3600", 60.0), (403, None, None), (404, None, None), (422, None, None)],
)
def test_which_refusals_are_retried(status: int, retry_after: str | None, wait: float | None) -> None:
    headers = email.message.Message()
    if retry_after:
        headers["Retry-After"] = retry_after
    error = urllib.error.HTTPError("https://api.github.com/x", status, "refused", headers, io.BytesIO(b"{}"))
    assert _retry_wait(error, 1.0) == wait

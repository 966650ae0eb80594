"""The scripts the workflows run (scripts/ci/), each on its own: no act, no sandbox host.

fork_notice and fetch_release talk to a GitHub API stand-in of their own (sandbox/github)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
CI = REPO_ROOT / "scripts" / "ci"
sys.path.insert(0, str(CI))
sys.path.insert(0, str(REPO_ROOT))

import build_bot  # noqa: E402
import channels  # noqa: E402
import check_workflows  # noqa: E402
import shipit_run  # noqa: E402

from sandbox.github.harness import Running, start_github  # noqa: E402

TOKEN = "ghs_" + "c1" * 20
REPOSITORY = "shipit-ci/scripts"


# --------------------------------------------------------------------------- channels.py


def listing(hostvars: dict[str, dict[str, Any]], group_hosts: list[str]) -> dict[str, Any]:
    return {
        "_meta": {"hostvars": hostvars},
        "all": {"children": ["shipit_bots", "ungrouped"]},
        "shipit_bots": {"children": ["eu"], "hosts": group_hosts[:1]},
        "eu": {"hosts": group_hosts[1:]},
    }


def test_channels_matrix_groups_hosts_by_channel_including_child_groups() -> None:
    hostvars = {
        "a": {"shipit_channel": "one"},
        "b": {"shipit_ci_channels": ["one", "two"]},
        "c": {"shipit_channel": "two"},
    }
    assert channels.matrix(listing(hostvars, ["a", "b", "c"])) == [
        {"channel": "one", "hosts": "a:b"},
        {"channel": "two", "hosts": "b:c"},
    ]
    assert channels.matrix(listing(hostvars, ["a", "b", "c"]), ["two"]) == [{"channel": "two", "hosts": "b:c"}]


@pytest.mark.parametrize(
    ("hostvars", "only", "message"),
    [
        ({"a": {}}, None, "no channel found"),
        ({"a": {"shipit_channel": "{{ x }}"}}, None, "not a plain CyTube channel name"),
        ({"a": {"shipit_ci_channels": "one"}}, None, "not a list"),
        ({"a": {"shipit_channel": "one"}}, ["nope"], "nope not in this inventory"),
    ],
)
def test_channels_refuses_what_makes_no_matrix(hostvars: dict[str, Any], only: list[str] | None, message: str) -> None:
    with pytest.raises(channels.ChannelError, match=message):
        channels.matrix(listing(hostvars, list(hostvars)), only)


def test_channels_reads_the_repository_inventories() -> None:
    for inventory, channel in (("inventories/test", "shipit-bot-test"), ("inventories/prod", "shipit-bot")):
        assert [entry["channel"] for entry in channels.matrix(channels.inventory_list(str(REPO_ROOT / inventory)))] == [
            channel
        ]


# --------------------------------------------------------------------------- build_bot.py


def test_a_build_that_is_not_a_release_carries_its_commit() -> None:
    assert build_bot.build_version("1.4.0", "1A2B3C4D5E6F7A8B", release=False) == "1.4.0+g1a2b3c4d5e6f"
    assert build_bot.build_version("1.4.0", None, release=True) == "1.4.0"
    with pytest.raises(build_bot.BuildError, match="not a git SHA"):
        build_bot.build_version("1.4.0", "main", release=False)


def test_build_bot_builds_the_same_wheel_twice_from_one_commit(tmp_path: Path) -> None:
    sha = "0123456789abcdef0123456789abcdef01234567"
    outputs = tmp_path / "github_output"
    env = {**os.environ, "GITHUB_OUTPUT": str(outputs)}
    wheels = []
    for number in (1, 2):
        argv = [
            sys.executable,
            str(CI / "build_bot.py"),
            "--project",
            "examples/refbot",
            "--out",
            str(tmp_path / str(number)),
        ]
        done = subprocess.run([*argv, "--sha", sha], cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=True)
        wheels.append(Path(done.stdout.strip()))
    assert wheels[0].name == "cytube_refbot-0.1.0+g0123456789ab-py3-none-any.whl"
    assert wheels[0].read_bytes() == wheels[1].read_bytes(), "a re-run of one commit must be a no-op deploy"
    assert f"sha={sha}" in outputs.read_text() and "version=0.1.0+g0123456789ab" in outputs.read_text()


# --------------------------------------------------------------------------- shipit_run.py


def test_workflow_inputs_reach_ansible_as_data_never_as_code() -> None:
    hostile = "x\" -e shipit_root=/ {{ lookup('pipe','id') }}"
    args = shipit_run.parser().parse_args(
        ["rollback", "--inventory", "inv", "--channel", hostile, "--hosts", "h", "--target", "", "--emergency", "True"]
    )
    argv = shipit_run.command(args)
    assert argv[:3] == ["ansible-playbook", "-i", "inv"] and argv[-2] == "--extra-vars"
    assert json.loads(argv[-1]) == {
        "shipit_channel": hostile,
        "shipit_hosts": "h",
        "rollback_to": "previous",
        "rollback_emergency": True,
    }


def test_deploy_passes_the_pull_request_only_when_there_is_one() -> None:
    base = ["deploy", "--inventory", "i", "--channel", "c", "--hosts", "h", "--bot-source", "w.whl"]
    assert "shipit_pr_number" not in shipit_run.extra_vars(shipit_run.parser().parse_args(base))
    with_pr = shipit_run.extra_vars(shipit_run.parser().parse_args([*base, "--pr-number", "12"]))
    assert with_pr["shipit_pr_number"] == "12" and with_pr["shipit_bot_source"] == "w.whl"


# --------------------------------------------------------------------------- check_workflows.py


@pytest.fixture
def workflows_copy(tmp_path: Path) -> Path:
    shutil.copytree(REPO_ROOT / ".github", tmp_path / ".github")
    return tmp_path


def test_the_repository_workflows_hold_the_invariants() -> None:
    problems, count = check_workflows.check(REPO_ROOT)
    assert problems == [] and count >= 8


@pytest.mark.parametrize(
    ("workflow", "old", "new", "complaint"),
    [
        ("ci.yml", "@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2", "@v4", "pin the action"),
        ("deploy.yml", "cancel-in-progress: false", "cancel-in-progress: true", "concurrency group"),
        (
            "rollback.yml",
            "${{ inputs.channel }}\n      cancel",
            "${{ github.run_id }}\n      cancel",
            "concurrency group",
        ),
        ("rollback.yml", "    timeout-minutes: 20\n", "", "no timeout-minutes"),
        ("test-deploy.yml", "    needs: ci\n", "", "deploys without needs: ci"),
        (
            "fork-notice.yml",
            "run: python3 scripts/ci/fork_notice.py",
            "run: curl -d @$GITHUB_EVENT_PATH x",
            "repository script",
        ),
        (
            "deploy.yml",
            "known-hosts: ${{ secrets.SHIPIT_KNOWN_HOSTS || vars.SHIPIT_KNOWN_HOSTS }}",
            "",
            "pinned known-hosts",
        ),
        ("release.yml", "permissions: {}", "permissions: write-all", "permissions: {}"),
    ],
)
def test_each_broken_invariant_is_named(
    workflows_copy: Path, workflow: str, old: str, new: str, complaint: str
) -> None:
    path = workflows_copy / ".github" / "workflows" / workflow
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    problems, _ = check_workflows.check(workflows_copy)
    assert any(complaint in problem for problem in problems), problems


# --------------------------------------------------------------------------- fork_notice.py, fetch_release.py


@pytest.fixture(scope="module")
def github(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    running = start_github(tmp_path_factory.mktemp("github"), [TOKEN])
    yield running
    running.stop()


def run_script(name: str, github: Running, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "GITHUB_API_URL": github.url, "GITHUB_REPOSITORY": REPOSITORY, "GITHUB_TOKEN": TOKEN, **env}
    return subprocess.run(
        [sys.executable, str(CI / name), *args], env=full, capture_output=True, text=True, check=False
    )


def fork_event(tmp_path: Path, head: str) -> Path:
    event = {
        "pull_request": {
            "number": 5,
            "head": {"repo": {"full_name": head}},
            "base": {"repo": {"full_name": REPOSITORY}},
        }
    }
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    return path


def test_fork_notice_comments_once_and_updates_it(github: Running, tmp_path: Path) -> None:
    github.reset()
    event = {"GITHUB_EVENT_PATH": str(fork_event(tmp_path, "stranger/scripts"))}
    first, second = run_script("fork_notice.py", github, event), run_script("fork_notice.py", github, event)
    assert first.returncode == 0 and "posted comment" in first.stdout
    assert second.returncode == 0 and "updated comment" in second.stdout
    (comment,) = github.state()["comments"]
    assert "Not deployed" in comment["body"] and "stranger/scripts" in comment["body"]
    assert TOKEN not in first.stdout + first.stderr


def test_fork_notice_says_nothing_for_the_repository_itself(github: Running, tmp_path: Path) -> None:
    github.reset()
    done = run_script("fork_notice.py", github, {"GITHUB_EVENT_PATH": str(fork_event(tmp_path, REPOSITORY))})
    assert done.returncode == 0 and github.state()["comments"] == []


def publish(github: Running, tag: str, assets: dict[str, bytes]) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/vnd.github+json"}
    release = requests.post(
        f"{github.url}/repos/{REPOSITORY}/releases", json={"tag_name": tag}, headers=headers, timeout=10
    ).json()
    upload = release["upload_url"].split("{")[0]
    for name, data in assets.items():
        response = requests.post(
            f"{upload}?name={name}",
            data=data,
            headers={**headers, "Content-Type": "application/octet-stream"},
            timeout=10,
        )
        response.raise_for_status()


def test_fetch_release_downloads_the_checked_wheel_and_refuses_a_changed_one(github: Running, tmp_path: Path) -> None:
    github.reset()
    wheel, other = b"the released wheel", b"something else"
    name = "cytube_refbot-1.2.0-py3-none-any.whl"
    good_sums = f"{hashlib.sha256(wheel).hexdigest()}  {name}\n".encode()
    publish(github, "v1.2.0", {name: wheel, "SHA256SUMS": good_sums})
    publish(github, "v1.3.0", {name.replace("1.2.0", "1.3.0"): other, "SHA256SUMS": good_sums})
    out = tmp_path / "dist"
    args = ("--project", str(REPO_ROOT / "examples/refbot"), "--out", str(out))
    done = run_script("fetch_release.py", github, {}, "--tag", "v1.2.0", *args)
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).read_bytes() == wheel
    refused = run_script("fetch_release.py", github, {}, "--tag", "v1.3.0", *args)
    assert refused.returncode == 2 and "does not list" in refused.stderr
    missing = run_script("fetch_release.py", github, {}, "--tag", "v9.9.9", *args)
    assert missing.returncode == 2 and "no GitHub release for tag v9.9.9" in missing.stderr
    assert TOKEN not in done.stdout + done.stderr + refused.stderr

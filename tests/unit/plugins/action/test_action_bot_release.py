"""Unit tests for the bot_release action plugin: the release id, one probe, one upload only when needed.

Idempotent re-deploys depend on the release id: the same wheelhouse content, rendered config and
command give the same id (so the host answers "exists" and nothing is uploaded or built), and any
change to them gives a new one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from action_harness import make_action
from ansible.errors import AnsibleActionFail
from ansible_collections.cytube.shipit.plugins.action import bot_release
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_layout import check_release_id
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_wheelhouse import content_hash

pytestmark = pytest.mark.timeout(30)

CONFIG = '[server]\nurl = "http://cytube.example:8080"\nchannel = "chan"\n'
COMMAND = ["cytube-refbot", "--config", "{config}"]
TMPDIR = "/home/deploy/.ansible/tmp/ansible-tmp-1"


def make_artifact(archive_file: Path, **over: Any) -> dict[str, Any]:
    """What bot_artifact registers, for an archive written to ``archive_file``."""
    archive_file.write_bytes(b"wheelhouse")
    artifact = {
        "archive": str(archive_file),
        "archive_sha256": "a" * 64,
        "content_hash": "c" * 64,
        "version": "1.2.3",
        "project": "mybot",
        "requirement": "mybot==1.2.3",
        "pip_wheel": "pip-24.0-py3-none-any.whl",
        "source": "mybot==1.2.3",
        "source_kind": "requirement",
        "wheels": [{"file": "mybot-1.2.3-py3-none-any.whl", "name": "mybot", "version": "1.2.3", "sha256": "d" * 64}],
        "cache_hit": True,
    }
    artifact.update(over)
    return artifact


# --------------------------------------------------------------------------- the release id


def test_the_same_inputs_give_the_same_valid_id(tmp_path: Path) -> None:
    artifact = make_artifact(tmp_path / "w.tar")
    first = bot_release.release_id_for(artifact, CONFIG, COMMAND, "config.toml")
    assert first == bot_release.release_id_for(dict(artifact), CONFIG, list(COMMAND), "config.toml")
    assert first.startswith("1.2.3-") and check_release_id(first) == first


@pytest.mark.parametrize(
    ("what", "change"),
    [
        ("wheelhouse content", {"content_hash": "e" * 64}),
        ("version", {"version": "1.2.4"}),
        ("rendered config", {"config": CONFIG.replace("chan", "chan2")}),
        ("config whitespace", {"config": CONFIG + "\n"}),
        ("command", {"command": ["cytube-refbot", "--config", "{config}", "--verbose"]}),
        ("config name", {"config_name": "bot.toml"}),
    ],
)
def test_any_change_to_what_is_deployed_gives_a_new_id(tmp_path: Path, what: str, change: dict[str, Any]) -> None:
    artifact = make_artifact(tmp_path / "w.tar")
    base = bot_release.release_id_for(artifact, CONFIG, COMMAND, "config.toml")
    changed = make_artifact(tmp_path / "w.tar", **{k: v for k, v in change.items() if k in artifact})
    new = bot_release.release_id_for(
        changed, change.get("config", CONFIG), change.get("command", COMMAND), change.get("config_name", "config.toml")
    )
    assert new != base, what


@pytest.mark.parametrize(
    "change",
    [
        {"archive": "/another/cache/wheelhouse.tar"},  # another controller, another cache
        {"archive_sha256": "f" * 64},  # the same wheels packed again
        {"cache_hit": False, "source": "./dist/mybot-1.2.3-py3-none-any.whl", "source_kind": "wheel"},
    ],
)
def test_where_the_wheelhouse_came_from_does_not_change_the_id(tmp_path: Path, change: dict[str, Any]) -> None:
    base = bot_release.release_id_for(make_artifact(tmp_path / "w.tar"), CONFIG, COMMAND, "config.toml")
    again = bot_release.release_id_for(make_artifact(tmp_path / "w.tar", **change), CONFIG, COMMAND, "config.toml")
    assert again == base


def test_the_version_is_made_safe_for_the_id(tmp_path: Path) -> None:
    artifact = make_artifact(tmp_path / "w.tar", version="1.0+local.2")
    release_id = bot_release.release_id_for(artifact, CONFIG, COMMAND, "config.toml")
    assert release_id.startswith("1.0_local.2-") and check_release_id(release_id) == release_id
    assert bot_release.release_id_for(dict(artifact, version=None), CONFIG, COMMAND, "config.toml").startswith("0-")


def wheel(name: str, version: str = "1.0", record: str = "r1") -> dict[str, Any]:
    """A wheel as describe_wheel reports it; ``record`` stands for its RECORD digest (its content)."""
    return {
        "file": f"{name}-{version}-py3-none-any.whl",
        "name": name,
        "version": version,
        "sha256": hashlib.sha256(f"{name}{version}{record}zip".encode()).hexdigest(),
        "record_sha256": hashlib.sha256(record.encode()).hexdigest(),
    }


@pytest.mark.parametrize(
    ("wheels", "same"),
    [
        ([wheel("dep"), wheel("mybot"), wheel("pip", "24.0")], True),  # listed in another order
        ([wheel("mybot"), wheel("dep"), wheel("pip", "25.1")], True),  # another pip: it only installs
        ([wheel("mybot"), wheel("dep", record="r2"), wheel("pip", "24.0")], False),  # a dependency's code
        ([wheel("mybot"), wheel("dep", "1.1"), wheel("pip", "24.0")], False),  # a dependency's version
        ([wheel("mybot"), wheel("pip", "24.0")], False),  # a dependency less
    ],
)
def test_the_id_follows_the_wheels_themselves(tmp_path: Path, wheels: list[dict[str, Any]], same: bool) -> None:
    def release_id(listed: list[dict[str, Any]]) -> str:
        artifact = make_artifact(tmp_path / "w.tar", content_hash=content_hash(listed))
        return bot_release.release_id_for(artifact, CONFIG, COMMAND, "config.toml")

    base = release_id([wheel("mybot"), wheel("dep"), wheel("pip", "24.0")])
    assert (release_id(wheels) == base) is same


# --------------------------------------------------------------------------- run()


class FakeHost:
    """The module calls and file transfers of one action run; ``answers`` are the module's results."""

    def __init__(self, *answers: dict[str, Any]) -> None:
        self.answers = list(answers)
        self.calls: list[dict[str, Any]] = []
        self.transfers: list[tuple[str, str]] = []
        self.removed: list[str] = []
        self.fail_build = False

    def install(self, action: Any) -> None:
        action._execute_module = self.execute_module
        action._make_tmp_path = lambda: TMPDIR
        action._transfer_file = lambda local, remote: self.transfers.append((local, remote)) or remote
        action._fixup_perms2 = lambda paths: None
        action._remove_tmp_path = self.removed.append

    def execute_module(self, module_name: str, module_args: dict[str, Any], task_vars: Any) -> dict[str, Any]:
        assert module_name == "cytube.shipit.bot_release"
        self.calls.append(dict(module_args))
        if self.fail_build and "archive" in module_args:
            raise ConnectionError("ssh connection lost")
        return dict(self.answers.pop(0))


@pytest.fixture()
def deploy(tmp_path: Path) -> Callable[..., tuple[dict[str, Any], FakeHost]]:
    def run(host: FakeHost, check_mode: bool = False, **over: Any) -> tuple[dict[str, Any], FakeHost]:
        args = {
            "channel": "MyChan",
            "root": "/srv/bots",
            "artifact": make_artifact(tmp_path / "wheelhouse.tar"),
            "config": CONFIG,
        }
        args.update(over)
        action = make_action(bot_release, "cytube.shipit.bot_release", args, check_mode=check_mode)
        host.install(action)
        return action.run(task_vars={}), host

    return run


def expected_id(tmp_path: Path) -> str:
    return bot_release.release_id_for(make_artifact(tmp_path / "wheelhouse.tar"), CONFIG, COMMAND, "config.toml")


def test_a_known_release_asks_the_host_nothing(deploy: Callable[..., Any], tmp_path: Path) -> None:
    release_id = expected_id(tmp_path)
    result, host = deploy(FakeHost(), known_releases=["0.9.0-0000000000", release_id])
    assert host.calls == [] and host.transfers == []
    assert result["release_id"] == release_id and result["exists"] and not result["changed"]
    assert not result["uploaded"] and result["path"] == "/srv/bots/mychan/releases/" + release_id


def test_an_unknown_release_is_uploaded_and_built_in_one_call(deploy: Callable[..., Any], tmp_path: Path) -> None:
    release_id = expected_id(tmp_path)
    result, host = deploy(FakeHost({"changed": True, "built": True}), known_releases=["0.9.0-0000000000"])
    remote = f"{TMPDIR}/wheelhouse-{release_id}.tar"
    assert host.transfers == [(str(tmp_path / "wheelhouse.tar"), remote)]
    assert len(host.calls) == 1 and host.calls[0]["archive"] == remote and host.calls[0]["release_id"] == release_id
    assert host.removed == [TMPDIR]
    assert result["uploaded"] and result["built"] and result["artifact_sha256"] == "a" * 64


def test_without_a_list_the_host_is_probed_and_an_existing_release_is_not_uploaded(
    deploy: Callable[..., Any],
) -> None:
    result, host = deploy(FakeHost({"changed": False, "exists": True, "release_id": "x"}))
    assert len(host.calls) == 1 and "archive" not in host.calls[0] and host.transfers == []
    assert result["exists"] and not result["uploaded"] and host.removed == []


def test_a_release_the_host_lacks_is_uploaded_after_the_probe(deploy: Callable[..., Any]) -> None:
    result, host = deploy(FakeHost({"needs_archive": True}, {"changed": True, "built": True}))
    assert [("archive" in call) for call in host.calls] == [False, True]
    assert len(host.transfers) == 1 and result["uploaded"] and result["built"]


def test_check_mode_probes_but_never_uploads(deploy: Callable[..., Any]) -> None:
    result, host = deploy(FakeHost({"changed": True, "needs_archive": True}), check_mode=True, known_releases=[])
    assert len(host.calls) == 1 and host.transfers == [] and host.removed == []
    assert result["changed"] and not result["uploaded"]


def test_the_remote_tmp_dir_is_removed_when_the_build_breaks(deploy: Callable[..., Any]) -> None:
    host = FakeHost()
    host.fail_build = True
    with pytest.raises(ConnectionError):
        deploy(host, known_releases=[])
    assert host.removed == [TMPDIR]


def test_the_module_gets_the_release_and_its_manifest(deploy: Callable[..., Any], tmp_path: Path) -> None:
    _result, host = deploy(
        FakeHost({"exists": True}),
        check_args=["--check-config"],
        manifest={"actor": "release-bot"},
        build_timeout=60,
    )
    call = host.calls[0]
    assert call["release_id"] == expected_id(tmp_path) and call["requirement"] == "mybot==1.2.3"
    assert call["pip_wheel"] == "pip-24.0-py3-none-any.whl" and call["command"] == COMMAND
    assert call["check_args"] == ["--check-config"] and call["build_timeout"] == 60
    assert "artifact" not in call and "known_releases" not in call
    manifest = call["manifest"]
    assert manifest["config_sha256"] == hashlib.sha256(CONFIG.encode()).hexdigest()
    assert manifest["content_hash"] == "c" * 64 and manifest["artifact_sha256"] == "a" * 64
    assert manifest["wheels"] == [{"name": "mybot", "version": "1.2.3", "sha256": "d" * 64}]
    assert manifest["actor"] == "release-bot"  # the task's manifest wins


def test_an_explicit_release_id_is_used_as_given(deploy: Callable[..., Any]) -> None:
    _result, host = deploy(FakeHost({"exists": True}), release_id="hotfix-1")
    assert host.calls[0]["release_id"] == "hotfix-1"


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"artifact": "mybot==1.2.3"}, "artifact must be the registered result of cytube.shipit.bot_artifact"),
        ({"artifact": {"archive": "/x.tar"}}, "with archive, version and content_hash"),
        ({"artifact": {"archive": "/nonexistent/w.tar", "content_hash": "c"}}, "/nonexistent/w.tar is missing"),
        ({"config": None}, "config must be the rendered config file content"),
        ({"channel": "bad name!", "known_releases": None}, None),
    ],
)
def test_bad_input_is_refused_before_the_host_is_asked(
    deploy: Callable[..., Any], tmp_path: Path, over: dict[str, Any], message: str | None
) -> None:
    if message is None:  # an invalid channel is named even when the release is known
        over = dict(over, known_releases=[expected_id(tmp_path)])
        message = "'bad name!' is not a valid CyTube channel name"
    host = FakeHost()
    with pytest.raises(AnsibleActionFail, match=message):
        deploy(host, **over)
    assert host.calls == [] and host.transfers == []


# --------------------------------------------------------------------------- a build killed on the host


def killed(rc: int, parsed_flag: bool = True) -> dict[str, Any]:
    """What ansible-core returns when the module's Python dies without printing its JSON result
    (seen with ansible-core 2.19: rc 137 and this message for a module killed with SIGKILL)."""
    return {
        "failed": True,
        **({"_ansible_parsed": False} if parsed_flag else {}),
        "msg": "Module result deserialization failed. See stdout/stderr for the returned output.",
        "module_stdout": "",
        "module_stderr": "",
        "rc": rc,
    }


@pytest.mark.parametrize(
    ("rc", "parsed_flag", "signal"),
    [
        (137, True, "exit 137, signal 9"),
        (-9, True, "exit -9, signal 9"),
        (1, True, "exit 1"),
        (137, False, "exit 137, signal 9"),
    ],
)
def test_a_killed_build_says_what_happened_and_that_nothing_live_changed(
    deploy: Callable[..., Any], tmp_path: Path, rc: int, parsed_flag: bool, signal: str
) -> None:
    result, _host = deploy(FakeHost(killed(rc, parsed_flag)), known_releases=[])
    assert result["failed"]
    assert result["msg"] == (
        f"the build of release {expected_id(tmp_path)} on the host was killed before it finished "
        f"({signal}: signal/OOM?); nothing live changed; re-running cleans up the half-built release"
    )
    assert "deserialization" not in result["msg"]


def test_a_build_that_fails_with_its_own_message_keeps_it(deploy: Callable[..., Any]) -> None:
    failure = {"failed": True, "msg": "build of release x for channel mychan failed; the live release is untouched"}
    result, _host = deploy(FakeHost(failure), known_releases=[])
    assert result["msg"] == failure["msg"]

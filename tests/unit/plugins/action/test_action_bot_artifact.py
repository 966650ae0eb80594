"""Unit tests for the bot_artifact action plugin: options to resolve(), errors, nothing sent to a host."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from action_harness import make_action
from ansible.errors import AnsibleActionFail
from ansible_collections.cytube.shipit.plugins.action import bot_artifact
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_wheelhouse import DEFAULT_PLATFORMS, WheelhouseError

pytestmark = pytest.mark.timeout(30)

ARTIFACT = {"archive": "/cache/x/wheelhouse.tar", "version": "1.2.3", "content_hash": "c" * 64, "cache_hit": True}


@pytest.fixture()
def calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []

    def fake_resolve(source: str, cache_dir: str, **options: Any) -> dict[str, Any]:
        seen.append(dict(options, source=source, cache_dir=cache_dir))
        if source == "broken==1.0":
            raise WheelhouseError("pip could not build or fetch the bot source 'broken==1.0'")
        if source == "unreadable==1.0":
            raise PermissionError(13, "Permission denied", cache_dir)
        return dict(ARTIFACT)

    monkeypatch.setattr(bot_artifact, "resolve", fake_resolve)
    return seen


def artifact(**args: Any) -> dict[str, Any]:
    action = make_action(bot_artifact, "cytube.shipit.bot_artifact", args)
    action._execute_module = None  # runs on the controller only: calling a module would fail
    return action.run(task_vars={})


def test_defaults_reach_resolve(calls: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    result = artifact(source="mybot==1.2.3")
    assert result == dict(ARTIFACT, changed=False)
    assert calls == [
        {
            "source": "mybot==1.2.3",
            "cache_dir": str(tmp_path / "xdg" / "cytube-shipit" / "wheelhouse"),
            "python_version": "3.11",
            "platforms": list(DEFAULT_PLATFORMS),
            "pip_spec": "pip",
            "pip_args": [],
            "base_dir": os.getcwd(),
            "refresh": False,
        }
    ]


def test_options_reach_resolve(calls: list[dict[str, Any]], tmp_path: Path) -> None:
    artifact(
        source="dist/mybot-1.2.3-py3-none-any.whl",
        cache_dir=str(tmp_path / "cache"),
        python_version="3.12",
        platforms=["manylinux2014_aarch64"],
        pip_spec="pip==24.0",
        pip_args=["--index-url", "https://pypi.example/simple"],
        base_dir=str(tmp_path),
        refresh=True,
    )
    assert calls[0]["cache_dir"] == str(tmp_path / "cache") and calls[0]["base_dir"] == str(tmp_path)
    assert calls[0]["python_version"] == "3.12" and calls[0]["platforms"] == ["manylinux2014_aarch64"]
    assert calls[0]["pip_spec"] == "pip==24.0" and calls[0]["refresh"] is True


def test_a_wheelhouse_error_fails_the_task_with_its_message(calls: list[dict[str, Any]]) -> None:
    with pytest.raises(AnsibleActionFail, match=r"^pip could not build or fetch the bot source 'broken==1\.0'$"):
        artifact(source="broken==1.0")


def test_an_os_error_names_the_source(calls: list[dict[str, Any]]) -> None:
    with pytest.raises(
        AnsibleActionFail, match=r"cannot resolve the bot source 'unreadable==1\.0': .*Permission denied"
    ):
        artifact(source="unreadable==1.0")


def test_bad_options_are_refused_before_resolving(calls: list[dict[str, Any]]) -> None:
    with pytest.raises(AnsibleActionFail, match="missing required arguments: source"):
        artifact()
    with pytest.raises(AnsibleActionFail, match=r"Invalid options.*sauce"):
        artifact(source="mybot==1.2.3", sauce="x")
    assert calls == []

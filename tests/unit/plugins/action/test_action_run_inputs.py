"""Unit tests for the run_inputs action plugin: all problems at once, no secret in the message, settings back."""

from __future__ import annotations

import pytest
from action_harness import make_action
from ansible.errors import AnsibleActionFail
from ansible_collections.cytube.shipit.plugins.action import run_inputs

pytestmark = pytest.mark.timeout(30)

SECRET = "hunter2-do-not-print"
GOOD = {
    "channel": "chan",
    "server_url": "https://cytu.be",
    "bot_name": "bot",
    "bot_password": SECRET,
    "probe_user": "probe",
    "probe_password": SECRET,
    "bot_source": "mybot==1.0",
}


def check(purpose: str, inputs: dict) -> dict:
    return make_action(run_inputs, "cytube.shipit.run_inputs", {"purpose": purpose, "inputs": inputs}).run(task_vars={})


def test_good_inputs_give_settings_and_no_secret() -> None:
    result = check("deploy", GOOD)
    assert not result.get("failed") and result["settings"]["channel"] == "chan"
    assert SECRET not in str(result)


def test_every_problem_is_reported_at_once() -> None:
    result = check("deploy", dict(GOOD, channel="bad name!", keep_releases=-2, probe_password=""))
    assert result["failed"] and result["failed_check"] == "inputs"
    message = result["msg"]
    assert message.startswith("Check the inputs of channel bad name!: ")
    for part in (
        "shipit_channel 'bad name!'",
        "shipit_keep_releases -2",
        "probe password (shipit_probe_password) is empty",
    ):
        assert part in message
    assert SECRET not in message


def test_a_wrong_purpose_is_a_bug_in_the_playbook() -> None:
    with pytest.raises(AnsibleActionFail, match="purpose 'redeploy'"):
        check("redeploy", GOOD)


def test_notification_targets_are_checked_with_the_inputs() -> None:
    bad = [{"type": "slack"}, {"type": "carrier-pigeon"}]
    result = check("deploy", dict(GOOD, notify=bad))
    assert result["failed"] and "shipit_notify[0]" in result["msg"] and "shipit_notify[1]" in result["msg"]
    assert "carrier-pigeon" in result["msg"]


@pytest.mark.parametrize(
    "url, token, expected",
    [
        ("dashboard:8095", "t" * 40, "shipit_dashboard_url 'dashboard:8095' is not a web address"),
        ("http://u:p@dash:8095", "t" * 40, "has credentials in it"),
        ("http://dash:8095", "short", "shipit_dashboard_token is missing or shorter than 16 characters"),
    ],
)
def test_dashboard_settings_are_checked(url: str, token: str, expected: str) -> None:
    result = check("verify", dict(GOOD, dashboard_url=url, dashboard_token=token))
    assert result["failed"] and expected in result["msg"] and token not in result["msg"].replace(expected, "")


def test_no_dashboard_is_fine() -> None:
    assert not check("verify", dict(GOOD, dashboard_url="", dashboard_token=None)).get("failed")

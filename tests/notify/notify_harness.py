"""End-to-end helpers: a runner for notify.yml against the real stand-ins, outcomes, steps, secrets."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from sandbox.github.harness import Running  # noqa: E402

PLAYBOOK = Path(__file__).with_name("notify.yml")
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "outcomes"
VENV_BIN = REPO_ROOT / ".venv" / "bin"
GITHUB_TOKEN = "ghp_e2eSecretToken0123456789abcdefABCDEF"
WEBHOOK_SECRET = "whsec-e2e-0123456789abcdef-signing"
SLACK_PATH = "/slack/T0E2E/B0E2E/slackSecretPath0123456789"
DISCORD_PATH = "/discord/1234567890/discordSecretToken0123456789"
REPOSITORY = "example/bot"
SECRETS = (GITHUB_TOKEN, WEBHOOK_SECRET, "slackSecretPath0123456789", "discordSecretToken0123456789")


@dataclass
class Run:
    results: list[dict[str, Any]]
    output: str
    returncode: int

    @property
    def first(self) -> dict[str, Any]:
        return self.results[0]


@dataclass
class Notifier:
    github: Running
    webhooks: Running
    workdir: Path
    outputs: list[str] = field(default_factory=list)

    def targets(self, **overrides: Any) -> list[dict[str, Any]]:
        """One target of each type, all on the stand-ins; budgets short so faults end quickly."""
        limits = {"timeout_s": 1.0, "budget_s": 3.0}
        targets = [
            {"type": "github_pr_comment", **limits},
            {"type": "github_deployment", **limits},
            {"type": "slack", "name": "ops", "url": self.webhooks.url + SLACK_PATH, **limits},
            {"type": "discord", "url": self.webhooks.url + DISCORD_PATH, **limits},
            {
                "type": "webhook",
                "name": "audit",
                "url": self.webhooks.url + "/webhook/audit",
                "secret": WEBHOOK_SECRET,
                **limits,
            },
        ]
        for target in targets:
            target.update(overrides.get(target["type"], {}))
        return targets

    def run(self, steps: list[dict[str, Any]], targets: list[dict[str, Any]] | None = None) -> Run:
        """ansible-playbook notify.yml -vvv with the steps; secrets only in a 0600 vars file."""
        number = len(self.outputs)
        vars_file = self.workdir / f"vars-{number}.json"
        result_file = self.workdir / f"result-{number}.json"
        variables = {
            "notify_targets": self.targets() if targets is None else targets,
            "notify_steps": steps,
            "notify_admin_urls": {"github": self.github.admin_url, "webhooks": self.webhooks.admin_url},
        }
        vars_file.write_text(json.dumps(variables))
        vars_file.chmod(0o600)
        env = dict(
            os.environ,
            PATH=f"{VENV_BIN}:{os.environ['PATH']}",
            ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"),
            GITHUB_API_URL=self.github.url,
            GITHUB_TOKEN=GITHUB_TOKEN,
            GITHUB_REPOSITORY=REPOSITORY,
        )
        done = subprocess.run(
            [
                str(VENV_BIN / "ansible-playbook"),
                "-i",
                "localhost,",
                str(PLAYBOOK),
                "-vvv",
                "-e",
                f"notify_vars_file={vars_file}",
                "-e",
                f"notify_result_file={result_file}",
            ],
            env=env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        output = done.stdout + done.stderr
        self.outputs.append(output)
        results = json.loads(result_file.read_text()) if result_file.exists() else []
        self.outputs.append(json.dumps(results))
        assert done.returncode == 0, output[-4000:]
        return Run(results, output, done.returncode)


def outcome(name: str, **changes: Any) -> dict[str, Any]:
    """A fixture outcome with top-level `changes`; trigger/release keys via trigger__x / release__x."""
    data = copy.deepcopy(json.loads((FIXTURES / f"{name}.json").read_text()))
    for key, value in changes.items():
        section, _, inner = key.partition("__")
        if inner:
            data[section] = dict(data[section] or {}, **{inner: value})
        else:
            data[key] = value
    return data


def pr_trigger(run: int, pr: int = 42, sha: str = "4f06fd7a1b2c3d4e5f60718293a4b5c6d7e8f901") -> dict[str, Any]:
    return {
        "event_name": "pull_request",
        "ref": f"refs/pull/{pr}/merge",
        "sha": sha,
        "run_url": f"https://github.com/{REPOSITORY}/actions/runs/{run}/attempts/1",
        "pr_number": pr,
        "repository": REPOSITORY,
        "workflow": "test-deploy",
    }


def started(event: dict[str, Any]) -> dict[str, Any]:
    """The phase: started step of the run that produced `event`."""
    keys = ("run_id", "kind", "channel", "environment", "host", "server_url", "channel_url", "trigger", "started_at")
    context = {key: event[key] for key in keys}
    context["release"] = {k: event["release"][k] for k in ("id", "version", "git_sha")}
    context["collection_version"] = event["collection_version"]
    return {"label": f"{event['run_id']} started", "phase": "started", "context": context}


def finished(event: dict[str, Any]) -> dict[str, Any]:
    return {"label": f"{event['run_id']} {event['status']}", "outcome": event}


def assert_no_secrets(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"a secret ({secret[:6]}...) leaked"


def assert_valid_outcome(outcome_with_notifications: dict[str, Any]) -> None:
    """The outcome deploy_notify returns (notifications added) still matches outcome.schema.json."""
    import jsonschema

    schema = json.loads((REPO_ROOT / "meta" / "outcome.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(outcome_with_notifications)

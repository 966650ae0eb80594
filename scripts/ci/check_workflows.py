"""The pipeline's invariants, checked on every workflow and the composite action (docs/deployment.md).

    python scripts/ci/check_workflows.py [--root .]

- every workflow starts with ``permissions: {}``; every job grants its own, and runs with ``timeout-minutes``
- every action from another repository is pinned to a full commit SHA, with its tag in a comment
- ``run:`` steps only call the repository's scripts (no inline logic), and never expand ``${{ }}`` in the
  script (values go through ``env:``)
- no ``secrets: inherit``: each workflow passes exactly the secrets it needs
- whatever deploys or rolls back a channel is in a ``shipit-<environment>-<channel>`` concurrency group
  that never cancels a running job, and pins SSH host keys when it installs a deploy key
- the deploy jobs of test-deploy and prod-deploy need ``ci``
Prints one line per violation and exits 1, or says what it checked and exits 0.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

PINNED_RE = re.compile(r"^\s*(?:-\s+)?uses:\s*([\w.-]+/[\w./-]+)@([0-9a-f]{40})\s+#\s*v\d+(?:\.\d+)*\s*$")
REMOTE_USES_RE = re.compile(r"^\s*(?:-\s+)?uses:\s*([^.\s][^\s]*)@")
ALLOWED_RUN_RE = re.compile(
    r"^(?:python3? scripts/ci/\S+\.py|scripts/ci/\S+\.sh|sudo make test|\"\$GITHUB_ACTION_PATH/[^\"]+\.sh\")(?:\s|$)"
)
DEPLOYING_WORKFLOWS = ("test-deploy.yml", "prod-deploy.yml")
CHANNEL_JOBS = {"deploy.yml": "deploy", "rollback.yml": "rollback"}


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def steps_of(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, job in (document.get("jobs") or {}).items():
        for step in job.get("steps") or []:
            yield name, step
    for step in (document.get("runs") or {}).get("steps") or []:
        yield "composite", step


def check_pins(path: Path) -> list[str]:
    problems = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if REMOTE_USES_RE.match(line) and not PINNED_RE.match(line):
            problems.append(
                f"{path}:{number}: pin the action to a full commit SHA with its tag in a comment: {line.strip()}"
            )
    return problems


def check_runs(path: Path, document: dict[str, Any]) -> list[str]:
    problems = []
    for job, step in steps_of(document):
        script = step.get("run")
        if script is None:
            continue
        command = " ".join(str(script).split())
        if "${{" in command:
            problems.append(
                f"{path}: job {job}, step {step.get('name')!r}: pass values through env:, not ${{{{ }}}} in run:"
            )
        if not ALLOWED_RUN_RE.match(command):
            problems.append(
                f"{path}: job {job}, step {step.get('name')!r}: run only a repository script, not {command[:60]!r}"
            )
        if not step.get("name"):
            problems.append(f"{path}: job {job}: every step needs a name ({command[:40]!r})")
    return problems


def check_jobs(path: Path, document: dict[str, Any]) -> list[str]:
    problems = []
    if document.get("permissions") != {}:
        problems.append(f"{path}: start with 'permissions: {{}}' and grant each job what it needs")
    for name, job in (document.get("jobs") or {}).items():
        if "permissions" not in job:
            problems.append(f"{path}: job {name} grants no explicit permissions")
        if job.get("secrets") == "inherit":
            problems.append(f"{path}: job {name} uses 'secrets: inherit': pass the secrets it needs by name")
        if "uses" not in job and "timeout-minutes" not in job:
            problems.append(f"{path}: job {name} has no timeout-minutes")
        if any(step.get("with", {}).get("deploy-key") for step in job.get("steps") or []):
            if not any(step.get("with", {}).get("known-hosts") for step in job.get("steps") or []):
                problems.append(f"{path}: job {name} installs a deploy key without pinned known-hosts")
    return problems


def check_channel_concurrency(path: Path, document: dict[str, Any]) -> list[str]:
    job_name = CHANNEL_JOBS.get(path.name)
    if job_name is None:
        return []
    concurrency = (document.get("jobs") or {}).get(job_name, {}).get("concurrency") or {}
    group = str(concurrency.get("group", ""))
    per_channel = group in (
        "shipit-${{ inputs.environment }}-${{ matrix.channel }}",
        "shipit-${{ inputs.environment }}-${{ inputs.channel }}",
    )
    if not per_channel or concurrency.get("cancel-in-progress") is not False:
        return [
            f"{path}: job {job_name} needs concurrency group shipit-<environment>-<channel>, cancel-in-progress: false"
        ]
    return []


def check_needs_ci(path: Path, document: dict[str, Any]) -> list[str]:
    if path.name not in DEPLOYING_WORKFLOWS:
        return []
    jobs = document.get("jobs") or {}
    problems = []
    for name, job in jobs.items():
        if str(job.get("uses", "")).endswith("/deploy.yml"):
            needs = job.get("needs") or []
            needs = [needs] if isinstance(needs, str) else needs
            if "ci" not in needs:
                problems.append(f"{path}: job {name} deploys without needs: ci")
    return problems


def check(root: Path) -> tuple[list[str], int]:
    files = sorted((root / ".github" / "workflows").glob("*.yml")) + sorted(
        (root / ".github" / "actions").glob("*/action.yml")
    )
    problems: list[str] = []
    for path in files:
        document = load(path)
        problems += check_pins(path) + check_runs(path, document)
        if "workflows" in path.parts:
            problems += (
                check_jobs(path, document) + check_channel_concurrency(path, document) + check_needs_ci(path, document)
            )
    return problems, len(files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(Path(__file__).resolve().parents[2]))
    root = Path(parser.parse_args(argv).root)
    problems, count = check(root)
    for problem in problems:
        print(problem)
    if problems:
        return 1
    print(f"check_workflows: {count} files hold the pipeline's invariants")
    return 0


if __name__ == "__main__":
    sys.exit(main())

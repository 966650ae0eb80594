"""Run one cytube.shipit playbook for one channel from a workflow job: inputs in, ansible-playbook out.

    shipit_run.py deploy   --inventory INV --channel CH [--hosts H1:H2] --bot-source WHEEL [--pr-number N]
    shipit_run.py rollback --inventory INV --channel CH [--hosts H1] --target previous|list|ID [--emergency true]
    shipit_run.py verify   --inventory INV --channel CH [--hosts H1]

Without --hosts, the channel's hosts come from the inventory (scripts/ci/channels.py's rule).

Every value reaches Ansible as one JSON ``--extra-vars`` document, never through a shell or a Jinja
string, so a workflow input cannot inject anything; the playbook's own input checks (run_inputs) judge
the values. The exit code is ansible-playbook's. With ``$GITHUB_STEP_SUMMARY`` set, the run's outcomes
(``$SHIPIT_OUTCOME_DIR``) are added to the job summary.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

COLLECTION = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(COLLECTION / ".collections"))

from ansible_collections.cytube.shipit.plugins.module_utils.shipit_outcome import summary_lines  # noqa: E402

PLAYBOOKS = ("deploy", "rollback", "verify")
TRUE_WORDS = ("1", "true", "yes", "on")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = top.add_subparsers(dest="playbook", required=True)
    for name in PLAYBOOKS:
        command = sub.add_parser(name)
        command.add_argument("--inventory", required=True)
        command.add_argument("--channel", required=True)
        command.add_argument(
            "--hosts", default="", help="the channel's hosts, ':'-separated (default: from the inventory)"
        )
        command.add_argument("--dry-run", action="store_true", help="print the command instead of running it")
        if name == "deploy":
            command.add_argument("--bot-source", required=True)
            command.add_argument("--pr-number", default="")
        if name == "rollback":
            command.add_argument("--target", default="previous", help="previous, list, or a release id")
            command.add_argument("--emergency", default="false", help="true: switch without verifying")
    return top


def extra_vars(args: argparse.Namespace) -> dict[str, Any]:
    values: dict[str, Any] = {"shipit_channel": args.channel, "shipit_hosts": args.hosts}
    if args.playbook == "deploy":
        values["shipit_bot_source"] = args.bot_source
        if args.pr_number.strip():
            values["shipit_pr_number"] = args.pr_number.strip()
    if args.playbook == "rollback":
        values["rollback_to"] = args.target.strip() or "previous"
        values["rollback_emergency"] = str(args.emergency).strip().lower() in TRUE_WORDS
    return values


def channel_hosts(inventory: str, channel: str) -> str:
    """The hosts that serve ``channel`` in ``inventory`` (scripts/ci/channels.py's rule)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from channels import inventory_list, matrix

    return matrix(inventory_list(inventory), [channel])[0]["hosts"]


def command(args: argparse.Namespace) -> list[str]:
    playbook = COLLECTION / "playbooks" / f"{args.playbook}.yml"
    return ["ansible-playbook", "-i", args.inventory, str(playbook), "--extra-vars", json.dumps(extra_vars(args))]


def summary_markdown(outcome_dir: Path) -> str:
    """One section per outcome the run wrote: its summary lines, as the operator reads them in the log."""
    sections = []
    for path in sorted(outcome_dir.glob("*.json"), key=lambda item: item.stat().st_mtime):
        outcome = json.loads(path.read_text(encoding="utf-8"))
        title = f"### {outcome['kind']} {outcome['channel']} on {outcome['host']}: {outcome['status']}"
        sections.append(title + "\n\n```\n" + "\n".join(summary_lines(outcome)) + "\n```\n")
    return "\n".join(sections)


def add_job_summary() -> None:
    target, outcomes = os.environ.get("GITHUB_STEP_SUMMARY"), os.environ.get("SHIPIT_OUTCOME_DIR")
    if target and outcomes and Path(outcomes).is_dir():
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(summary_markdown(Path(outcomes)))


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not args.hosts:
        try:
            args.hosts = channel_hosts(args.inventory, args.channel)
        except Exception as exc:  # ChannelError, named by its message
            print(f"shipit_run: {exc}", file=sys.stderr)
            return 2
    argv_out = command(args)
    if args.dry_run:
        print(json.dumps(argv_out))
        return 0
    # The extra vars hold names, ids and paths only (passwords come from the environment), so show them.
    print("shipit_run: " + " ".join(argv_out[:4]) + f" --extra-vars '{argv_out[-1]}'", flush=True)
    returncode = subprocess.run(argv_out, check=False).returncode
    add_job_summary()
    return returncode


if __name__ == "__main__":
    sys.exit(main())

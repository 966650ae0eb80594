"""The channels of an inventory, as a GitHub Actions matrix: one job per channel and its hosts.

    python scripts/ci/channels.py --inventory inventories/test [--only shipit-bot-test]

A host of the group ``shipit_bots`` serves the channels in its ``shipit_ci_channels`` list when it has
one, else its ``shipit_channel``. Prints ``[{"channel": ..., "hosts": "host1:host2"}, ...]`` and writes
``matrix=<that>`` to ``$GITHUB_OUTPUT`` when set. Exit 2, naming the fix, when the inventory yields no
channel, a channel name is a template or not a CyTube channel name, or ``--only`` names an unknown channel.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from github_output import write_outputs

CHANNEL_RE = re.compile(r"^[A-Za-z0-9_-]{1,30}$")
GROUP = "shipit_bots"


class ChannelError(Exception):
    """The inventory cannot give a channel matrix; the message says what to fix."""


def ansible_inventory() -> str:
    """The ansible-inventory of this interpreter's virtualenv, else the one on PATH."""
    beside = Path(sys.executable).parent / "ansible-inventory"
    return str(beside) if beside.exists() else shutil.which("ansible-inventory") or "ansible-inventory"


def inventory_list(inventory: str) -> dict[str, Any]:
    try:
        done = subprocess.run(
            [ansible_inventory(), "-i", inventory, "--list"], capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        raise ChannelError("ansible-inventory not found: run scripts/ci/setup-controller.sh first") from None
    if done.returncode != 0:
        raise ChannelError(f"ansible-inventory -i {inventory} failed: {done.stderr.strip()[-400:]}")
    return json.loads(done.stdout)


def group_hosts(listing: dict[str, Any], group: str) -> list[str]:
    """Every host of ``group``, its child groups included, in inventory order."""
    hosts: list[str] = []
    pending = [group]
    while pending:
        entry = listing.get(pending.pop(0)) or {}
        hosts += [host for host in entry.get("hosts", []) if host not in hosts]
        pending += entry.get("children", [])
    return hosts


def channels_of(host: str, hostvars: dict[str, Any]) -> list[str]:
    wanted = hostvars.get("shipit_ci_channels")
    if wanted is None:
        wanted = [hostvars["shipit_channel"]] if hostvars.get("shipit_channel") else []
    if not isinstance(wanted, list):
        raise ChannelError(f"shipit_ci_channels of {host} is {wanted!r}, not a list: give a YAML list of channel names")
    for channel in wanted:
        if not isinstance(channel, str) or "{{" in channel or not CHANNEL_RE.match(channel):
            raise ChannelError(
                f"{host} names channel {channel!r}, which is not a plain CyTube channel name (letters, digits, _ and -,"
                " at most 30): set shipit_channel or shipit_ci_channels to literal names"
            )
    return wanted


def matrix(listing: dict[str, Any], only: list[str] | None = None) -> list[dict[str, str]]:
    hostvars = listing.get("_meta", {}).get("hostvars", {})
    hosts_by_channel: dict[str, list[str]] = defaultdict(list)
    for host in group_hosts(listing, GROUP):
        for channel in channels_of(host, hostvars.get(host, {})):
            hosts_by_channel[channel].append(host)
    if not hosts_by_channel:
        raise ChannelError(f"no channel found: no host of the group {GROUP} sets shipit_channel or shipit_ci_channels")
    if only:
        unknown = sorted(set(only) - set(hosts_by_channel))
        if unknown:
            raise ChannelError(
                f"channel(s) {', '.join(unknown)} not in this inventory (it has {', '.join(sorted(hosts_by_channel))})"
            )
        hosts_by_channel = {channel: hosts_by_channel[channel] for channel in only}
    return [{"channel": channel, "hosts": ":".join(hosts)} for channel, hosts in hosts_by_channel.items()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", required=True)
    parser.add_argument("--only", default="", help="comma-separated channels to keep (default: all)")
    args = parser.parse_args(argv)
    only = [name.strip() for name in args.only.split(",") if name.strip()] or None
    try:
        channels = matrix(inventory_list(args.inventory), only)
    except ChannelError as exc:
        print(f"channels: {exc}", file=sys.stderr)
        return 2
    text = json.dumps(channels, separators=(",", ":"))
    print(text)
    write_outputs({"matrix": text})
    return 0


if __name__ == "__main__":
    sys.exit(main())

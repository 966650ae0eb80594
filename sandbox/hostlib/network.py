"""Per-host network namespace, veth pair and the service address on the controller."""

from __future__ import annotations

import re

from .layout import GUEST_INTERFACE, NETNS_DIR, SERVICE_ADDRESS, Host
from .system import run

_LINK_NAME = re.compile(r"^\d+: ([^:@]+)[:@]")


def create_host_network(host: Host) -> None:
    """Namespace ``shipit-h<i>`` holding ``eth0`` = 10.231.<i>.2/30, routed via 10.231.<i>.1."""
    run(["ip", "netns", "add", host.netns])
    run(["ip", "link", "add", host.veth, "type", "veth", "peer", "name", host.veth_peer])
    run(["ip", "link", "set", host.veth_peer, "netns", host.netns])
    inside = ["ip", "-n", host.netns]
    run([*inside, "link", "set", host.veth_peer, "name", GUEST_INTERFACE])
    run([*inside, "addr", "add", f"{host.address}/30", "dev", GUEST_INTERFACE])
    run([*inside, "link", "set", "lo", "up"])
    run([*inside, "link", "set", GUEST_INTERFACE, "up"])
    run([*inside, "route", "add", "default", "via", host.gateway])
    run(["ip", "addr", "add", f"{host.gateway}/30", "dev", host.veth])
    run(["ip", "link", "set", host.veth, "up"])


def delete_host_network(host: Host) -> None:
    """Remove the veth pair, then the namespace, whichever of them exists.

    The pair goes first: deleting a link is synchronous, while a deleted namespace
    takes its interfaces down in the background.
    """
    if host.veth in link_names():
        run(["ip", "link", "delete", host.veth])
    if host.netns in netns_names():
        run(["ip", "netns", "delete", host.netns])


def netns_names() -> list[str]:
    return sorted(entry.name for entry in NETNS_DIR.iterdir()) if NETNS_DIR.is_dir() else []


def link_names() -> list[str]:
    """Names of the controller's network interfaces."""
    lines = run(["ip", "-o", "link", "show"]).splitlines()
    return [match.group(1) for match in map(_LINK_NAME.match, lines) if match]


def has_service_address() -> bool:
    return f" {SERVICE_ADDRESS}/32 " in run(["ip", "-o", "-4", "addr", "show", "dev", "lo"])


def add_service_address() -> None:
    if not has_service_address():
        run(["ip", "addr", "add", f"{SERVICE_ADDRESS}/32", "dev", "lo"])


def remove_service_address() -> None:
    if has_service_address():
        run(["ip", "addr", "delete", f"{SERVICE_ADDRESS}/32", "dev", "lo"])

"""Client address resolution: X-Forwarded-For is trusted only from loopback peers.

This is CyTube's default (``http.trust-proxies: ['loopback']`` through
proxy-addr): walk from the socket peer towards the original client through the
X-Forwarded-For list, stepping past each hop only while the current hop is a
trusted (loopback) address.
"""

from __future__ import annotations

import ipaddress


def is_loopback(address: str) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    return parsed.is_loopback


def forwarded_chain(header: str | None) -> list[str]:
    """Addresses in X-Forwarded-For, nearest proxy first."""
    if not header:
        return []
    hops = [part.strip() for part in header.split(",")]
    return [hop for hop in reversed(hops) if hop]


def resolve_client_ip(peer: str, forwarded_for: str | None) -> str:
    """Return the address CyTube would treat as the client's."""
    address = peer
    for hop in forwarded_chain(forwarded_for):
        if not is_loopback(address):
            break
        address = hop
    return address

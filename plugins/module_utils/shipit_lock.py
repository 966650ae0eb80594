# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The per-channel deploy lock, kept on the bot host.

The lock is a JSON file (``<root>/<channel>/.shipit/lock.json``) naming its holder:
a token that identifies one ``ansible-playbook`` run (controller host, boot id,
pid and the pid's start time) and, for people, who ran it, what, since when and
the CI run URL.  Reads and writes happen under ``flock`` on a guard file, so two
runs that try at the same instant cannot both win.

Nothing here waits: a holder that is not us is returned to the caller (the
``channel_lock`` action plugin on the controller), which decides whether that
holder is still alive (same controller: is its pid still running with the same
start time?) and either waits, takes the lock over (``takeover``), or fails.
A holder from another controller is stale once its heartbeat is older than its TTL.
"""

from __future__ import annotations

import os
import time
from typing import Any, Dict, Optional

from ansible_collections.cytube.shipit.plugins.module_utils.shipit_files import (
    atomic_write,
    dump_json,
    flocked,
    iso,
    makedirs,
    read_json,
)
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_layout import ChannelLayout

LOCK_VERSION = 1
#: Seconds a second run waits for the lock, and after which a lock held from another controller is stale.
DEFAULT_LOCK_WAIT = 120
DEFAULT_LOCK_TTL = 1800


def read_holder(layout: ChannelLayout) -> Optional[Dict[str, Any]]:
    value = read_json(layout.lock_file)
    if not isinstance(value, dict) or not value.get("token"):
        return None
    return value


def heartbeat_age(holder: Dict[str, Any], now: float) -> float:
    stamp = holder.get("heartbeat_epoch")
    return now - float(stamp) if isinstance(stamp, (int, float)) else float("inf")


def expired(holder: Dict[str, Any], now: float) -> bool:
    ttl = holder.get("ttl")
    if not isinstance(ttl, (int, float)) or ttl <= 0:
        return False
    return heartbeat_age(holder, now) > ttl


def lock_operation(
    layout: ChannelLayout,
    state: str,
    token: str,
    owner: Dict[str, Any],
    ttl: int,
    takeover: Optional[str] = None,
    check_mode: bool = False,
    now: Optional[float] = None,
) -> Dict[str, Any]:
    """Acquire (``state=acquired``), release (``released``) or look (``query``).

    Returns ``{acquired, changed, holder, took_over, previous_holder, released}``.
    ``acquired`` is False when somebody else holds the lock; ``holder`` then names them.
    """
    now = time.time() if now is None else now
    result: Dict[str, Any] = {
        "changed": False,
        "acquired": False,
        "released": False,
        "took_over": False,
        "previous_holder": None,
        "holder": None,
        "path": layout.lock_file,
    }
    if not os.path.isdir(layout.state_dir):
        if state != "acquired" or check_mode:
            result["acquired"] = state == "acquired"
            return result
        makedirs(layout.base, 0o755)
        makedirs(layout.state_dir, 0o755)

    with flocked(layout.lock_file + ".guard"):
        holder = read_holder(layout)
        result["holder"] = holder
        if state == "query":
            result["acquired"] = bool(holder and holder.get("token") == token)
            return result

        if state == "released":
            if holder and holder.get("token") == token:
                if not check_mode:
                    os.unlink(layout.lock_file)
                result.update(changed=True, released=True, holder=None)
            return result

        # acquired
        mine = bool(holder and holder.get("token") == token)
        stale_by_ttl = bool(holder and not mine and expired(holder, now))
        taken = bool(holder and not mine and takeover and holder.get("token") == takeover)
        if holder and not (mine or stale_by_ttl or taken):
            return result
        record = dict(holder) if mine and holder else {}
        record.update(
            {
                "version": LOCK_VERSION,
                "token": token,
                "owner": owner,
                "channel": layout.channel,
                "ttl": ttl,
                "heartbeat_at": iso(now),
                "heartbeat_epoch": now,
            }
        )
        record.setdefault("acquired_at", iso(now))
        record.setdefault("acquired_epoch", now)
        if not check_mode:
            atomic_write(layout.lock_file, dump_json(record), 0o644)
        result.update(acquired=True, holder=record, changed=not mine)
        if stale_by_ttl or taken:
            result.update(
                took_over=True,
                previous_holder=holder,
                takeover_reason="heartbeat older than its TTL" if stale_by_ttl else "holder process is gone",
            )
        return result


def describe_holder(holder: Optional[Dict[str, Any]], now: Optional[float] = None) -> str:
    """One line naming who holds a lock, for error messages."""
    if not holder:
        return "nobody"
    now = time.time() if now is None else now
    owner = holder.get("owner") or {}
    parts = ["%s@%s" % (owner.get("user") or "?", owner.get("controller") or "?")]
    if owner.get("pid"):
        parts.append("pid %s" % owner["pid"])
    if owner.get("playbook"):
        parts.append("running %s" % owner["playbook"])
    if owner.get("action"):
        parts.append("(%s)" % owner["action"])
    since = holder.get("acquired_at")
    if since:
        age = now - float(holder.get("acquired_epoch") or now)
        parts.append("since %s (%ds ago)" % (since, max(0, int(age))))
    if owner.get("run_url"):
        parts.append("run %s" % owner["run_url"])
    return " ".join(parts)

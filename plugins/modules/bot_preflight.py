#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the bot_preflight action plugin (it runs on the controller only)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: bot_preflight
short_description: Check that a deploy or rollback can be verified, before it changes anything
version_added: "0.1.0"
description:
  - Asks the CyTube server for the channel's socketconfig (C(/socketconfig/<channel>.json), HTTP port).
  - Without O(probe_user), makes one Engine.IO polling handshake with the socket.io server it lists. The
    handshake opens no socket.io namespace, so it uses no token of CyTube's per-IP connection rate limit.
  - With O(probe_user), proves that the probe account can connect, join the channel and log in, on ONE
    connection (one token of the rate limit), so that "the probe cannot log in" refuses the deploy before
    anything changes instead of leaving an unverified release live.
  - "With O(connections_needed) (or O(probe_user)), makes sure the connections this run needs can be had
    within O(wait_budget) seconds from the controller-wide bucket of CyTube's per-IP connection limit
    (5 connections, then 1 per 10 s; shared by every run on this controller, see
    O(cytube.shipit.cytube_check#module:rate_limit_dir)); otherwise it refuses with
    C(rate limited, retry in N s). Nothing is reserved: the probes take their tokens when they run,
    waiting within their own O(cytube.shipit.cytube_check#module:rate_limit_wait)."
  - When a check fails, the verdict is C(inconclusive) - a new release could not be verified, so a deploy
    must not start (and must not blame the bot). With O(fail=true) the task fails with that reason.
  - This is an action plugin; it runs on the controller, where M(cytube.shipit.cytube_check) runs too.
author:
  - cytube.shipit maintainers (@cytube)
requirements:
  - With O(probe_user) only, as M(cytube.shipit.cytube_check) - python-socketio >= 5.8.0, < 6,
    python-engineio >= 4.4.1, < 5 and websocket-client >= 1.5.1, < 2 (the collection's requirements.txt).
extends_documentation_fragment:
  - cytube.shipit.attributes
  - cytube.shipit.attributes.action
options:
  server_url:
    description: CyTube's web address, e.g. C(https://cytu.be).
    type: str
    required: true
  channel:
    description: The channel name.
    type: str
    required: true
  timeout:
    description: Seconds allowed for each request.
    type: float
    default: 5
  validate_certs:
    description: Verify TLS certificates.
    type: bool
    default: true
  ca_path:
    description: PEM file of CA certificates to trust instead of the system's.
    type: path
  fail:
    description: Fail the task when a check fails.
    type: bool
    default: true
  probe_user:
    description:
      - The probe account (the one M(cytube.shipit.cytube_check) logs in with). When set, the pre-flight
        connects, joins O(channel) and logs in with it, on one connection.
    type: str
  probe_password:
    description:
      - The probe account's password; required with O(probe_user) (an empty one is refused). Never logged
        or returned.
    type: str
  probe_rank:
    description:
      - The rank the probe account must have in O(channel) (verification mode C(pm) with a bot that answers
        only ranked users, see C(shipit_verify_probe_rank)); with it, the pre-flight also waits for CyTube
        to give the probe that rank, and refuses the run with the fix (C(/rank <probe> <n>)) when it does not.
      - C(0) checks no rank.
    type: float
    default: 0
  channel_password:
    description: The channel's password, when it has one (used with O(probe_user)).
    type: str
  connections_needed:
    description:
      - Connections to CyTube this run will open after the pre-flight (1 to verify a deploy, 2 when a
        rollback may have to be verified too). V(0) skips the rate-limit check unless O(probe_user) is set
        (its login needs one connection itself).
    type: int
    default: 0
  wait_budget:
    description:
      - Seconds this run may wait for the connections it needs; when the last of them could only start
        later, the pre-flight refuses with C(rate limited, retry in N s). Also bounds the wait of the probe
        login for its connection token.
    type: float
    default: 60
  rate_limit_dir:
    description:
      - Directory of the controller's connection buckets (default C($XDG_CACHE_HOME/cytube-shipit/ratelimit)),
        as for M(cytube.shipit.cytube_check).
    type: path
  forwarded_for:
    description:
      - FOR LOCAL TESTING ONLY, as for M(cytube.shipit.cytube_check). Sends C(X-Forwarded-For) with this IP
        address on the probe login's connection and keys the rate-limit bucket by it.
    type: str
seealso:
  - module: cytube.shipit.cytube_check
"""

EXAMPLES = r"""
- name: Refuse to deploy while CyTube is unreachable
  cytube.shipit.bot_preflight:
    server_url: https://cytu.be
    channel: mychannel
  run_once: true

- name: Refuse to deploy unless the probe can log in and two verifications fit CyTube's rate limit
  cytube.shipit.bot_preflight:
    server_url: https://cytu.be
    channel: mychannel
    probe_user: mybot-probe
    probe_password: "{{ vault_probe_password }}"
    connections_needed: 2
    wait_budget: 60
  run_once: true
"""

RETURN = r"""
reachable:
  description: Whether CyTube answered (socketconfig read, and its socket.io server reached when tried).
  returned: always
  type: bool
verdict:
  description: C(reachable) when every check passed, else C(inconclusive).
  returned: always
  type: str
probe_login:
  description: Whether the probe account logged in (null without O(probe_user)).
  returned: always
  type: bool
checks:
  description:
    - In order C(socketconfig), C(rate_limit) (when connections are counted), then C(connect), C(join) and
      C(login) (with O(probe_user)) or C(socketio_handshake) (without); each with name, ok, latency_ms,
      expected, seen, message. A check after a failed one is absent.
  returned: always
  type: list
  elements: dict
failed_check:
  description: Name of the failed check (null when reachable).
  returned: always
  type: str
msg:
  description: What was found.
  returned: always
  type: str
"""

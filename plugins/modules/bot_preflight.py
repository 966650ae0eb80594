#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the bot_preflight action plugin (it runs on the controller only)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: bot_preflight
short_description: Check that CyTube is reachable before a deploy or rollback changes anything
version_added: "0.1.0"
description:
  - Asks the CyTube server for the channel's socketconfig (C(/socketconfig/<channel>.json), HTTP port) and
    makes one Engine.IO polling handshake with the socket.io server it lists. The handshake opens no socket.io
    namespace, so it uses no token of CyTube's per-IP connection rate limit.
  - When either fails, the verdict is C(inconclusive) - a new release could not be verified, so a deploy
    must not start (and must not blame the bot). With O(fail=true) the task fails with that reason.
  - This is an action plugin; it runs on the controller, where M(cytube.shipit.cytube_check) runs too.
author:
  - cytube.shipit maintainers (@cytube)
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
    description: Fail the task when CyTube is unreachable.
    type: bool
    default: true
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Read-only.
  diff_mode:
    description: >-
      Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  action:
    description: >-
      Indicates this has a corresponding action plugin so some parts of the options can be executed on the
      controller.
    support: full
seealso:
  - module: cytube.shipit.cytube_check
"""

EXAMPLES = r"""
- name: Refuse to deploy while CyTube is unreachable
  cytube.shipit.bot_preflight:
    server_url: https://cytu.be
    channel: mychannel
  run_once: true
"""

RETURN = r"""
reachable:
  description: Whether both requests succeeded.
  returned: always
  type: bool
verdict:
  description: C(reachable) or C(inconclusive).
  returned: always
  type: str
checks:
  description: C(socketconfig) and C(socketio_handshake), each with name, ok, latency_ms, expected, seen, message.
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

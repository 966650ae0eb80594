#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the bot_verdict action plugin (it runs on the controller only)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: bot_verdict
short_description: Turn the host checks and the CyTube checks of a bot into one verdict
version_added: "0.1.0"
description:
  - Combines the registered results of M(cytube.shipit.bot_host_check) and M(cytube.shipit.cytube_check)
    (and of a final host check after a stability window) into C(healthy), C(unhealthy) or C(inconclusive).
  - A crashing or restarting unit, or errors in its journal, make the bot C(unhealthy) whatever CyTube does.
    When CyTube itself is unreachable the verdict is C(inconclusive), even if the bot's health endpoint says
    it has not joined (it cannot join a server that is down), so that nothing is rolled back blindly.
    Otherwise a failed CyTube check or health endpoint makes it C(unhealthy).
  - The message names the failed check, what was expected and what was seen.
  - This is an action plugin; it runs on the controller and contacts nothing.
author:
  - cytube.shipit maintainers (@cytube)
extends_documentation_fragment:
  - cytube.shipit.attributes
  - cytube.shipit.attributes.action
options:
  host:
    description: Registered result of M(cytube.shipit.bot_host_check).
    type: dict
  cytube:
    description: Registered result of M(cytube.shipit.cytube_check) (may be skipped).
    type: dict
  final_host:
    description: Registered result of a second M(cytube.shipit.bot_host_check) after a stability window.
    type: dict
  preflight:
    description:
      - Registered result of M(cytube.shipit.bot_preflight). When it found CyTube unreachable and the CyTube check
        was skipped, it stands for that check (verdict C(inconclusive) unless a host check failed).
    type: dict
  subject:
    description: What is verified, for the message (e.g. C(release 2.0.0-ab12 of channel x on host y)).
    type: str
    default: the bot
  fail:
    description: Fail the task when the verdict is in O(fail_on).
    type: bool
    default: true
  fail_on:
    description: Verdicts that fail the task.
    type: list
    elements: str
    choices: [unhealthy, inconclusive]
    default: [unhealthy, inconclusive]
seealso:
  - module: cytube.shipit.bot_host_check
  - module: cytube.shipit.cytube_check
"""

EXAMPLES = r"""
- name: Decide the verdict
  cytube.shipit.bot_verdict:
    host: "{{ host_check }}"
    cytube: "{{ cytube_result }}"
    subject: "release {{ release_id }} of channel {{ channel }}"
  register: verdict
"""

RETURN = r"""
verdict:
  description: C(healthy), C(unhealthy) or C(inconclusive).
  returned: always
  type: str
failed_check:
  description: Name of the check that decided a non-healthy verdict (prefixed C(final_) for the final host check).
  returned: always
  type: str
reason:
  description: The failed check's message, with what was expected and what was seen.
  returned: always
  type: str
checks:
  description: Every check, host first, each with name, ok, latency_ms, expected, seen and message.
  returned: always
  type: list
  elements: dict
msg:
  description: One line with the subject, the verdict and the reason.
  returned: always
  type: str
"""

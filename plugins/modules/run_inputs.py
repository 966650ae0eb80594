#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the run_inputs action plugin (it runs on the controller only)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: run_inputs
short_description: Check the inputs of a deploy, verify or rollback run and resolve its settings
version_added: "0.2.0"
description:
  - The first phase of C(playbooks/deploy.yml), C(verify.yml) and C(rollback.yml). Runs on the controller only and
    contacts nothing, so a bad value is refused before any host or CyTube is touched.
  - Checks every input the run needs (channel, CyTube address, accounts, secrets, bot source, thresholds, lock
    and retention settings, rollback target) and reports all problems at once, each naming the variable, its
    value (never a secret's) and the fix.
  - Resolves the settings the roles receive - the verification thresholds of the environment's profile with its
    overrides (the profiles live in C(plugins/module_utils/shipit_settings.py)), and defaults for the root
    directory, releases kept, lock wait and lock TTL.
author:
  - cytube.shipit maintainers (@cytube)
extends_documentation_fragment:
  - cytube.shipit.attributes
  - cytube.shipit.attributes.action
options:
  purpose:
    description: The run whose inputs are checked.
    type: str
    required: true
    choices: [deploy, verify, rollback]
  inputs:
    description:
      - The run's variables without their C(shipit_) prefix - C(channel), C(channels), C(server_url), C(bot_name),
        C(bot_password), C(probe_user), C(probe_password), C(bot_source), C(health_port), C(verify_profile),
        C(verify_overrides), C(keep_releases), C(lock_wait), C(lock_ttl), C(root), C(environment) - and
        C(rollback_to), C(rollback_emergency), C(rollback_force), and C(notify) (the C(shipit_notify) targets,
        checked by the rules of M(cytube.shipit.deploy_notify); the GitHub token, API URL and repository come from
        C(GITHUB_TOKEN), C(GITHUB_API_URL) and C(GITHUB_REPOSITORY)). Unset values are null.
    type: dict
    required: true
seealso:
  - module: cytube.shipit.run_outcome
"""

EXAMPLES = r"""
- name: Check the inputs before anything changes
  cytube.shipit.run_inputs:
    purpose: deploy
    inputs:
      channel: "{{ shipit_channel | default(none) }}"
      server_url: "{{ shipit_server_url | default(none) }}"
      bot_name: "{{ shipit_bot_name | default(none) }}"
      bot_password: "{{ shipit_bot_password | default(none) }}"
      probe_user: "{{ shipit_probe_user | default(none) }}"
      probe_password: "{{ shipit_probe_password | default(none) }}"
      bot_source: dist/mybot-1.2.3-py3-none-any.whl
  register: shipit_run
"""

RETURN = r"""
settings:
  description:
    - The resolved settings - C(purpose), C(channel), C(root), C(environment), C(keep_releases), C(lock_wait),
      C(lock_ttl), C(rollback) (C(to), C(emergency), C(force)), C(server_url), C(bot_name), C(probe_user),
      C(health_port) (default 8765, unique among the inventory's channels), C(health_url) (the bot's health endpoint,
      empty for none), C(bot_source), C(bot) (the bot contract) and C(verify) (the thresholds, with the profile's
      name, and the verification C(mode), C(probe_rank), C(command), C(expect), C(expect_version)). Never a secret.
  returned: always
  type: dict
failed_check:
  description: C(inputs) when the inputs were refused.
  returned: on failure
  type: str
"""

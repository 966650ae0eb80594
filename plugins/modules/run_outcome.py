#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the run_outcome action plugin."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: run_outcome
short_description: Conclude a deploy, verify or rollback run with its one outcome
version_added: "0.2.0"
description:
  - The last task of C(playbooks/deploy.yml), C(verify.yml) and C(rollback.yml), in their C(always) section. Builds
    the run's outcome on the controller from the facts the phases handed over - a versioned document described by
    C(meta/outcome.schema.json) and docs/outcome.md - and decides its status (C(success), C(rolled_back),
    C(rollback_failed), C(failed), C(inconclusive), C(refused), C(invalid) or C(check)).
  - In one round trip to the bot host (M(cytube.shipit.bot_record)) it records the verified release as live (with
    pruning) on success, appends the outcome to the channel's journal C(<root>/<channel>/.shipit/outcomes.jsonl)
    and releases the channel lock. When recording fails after a successful verification, the outcome says so
    (status C(failed), nothing rolled back) and is journaled.
  - Prints one readable summary (status, reason, each check with its latency, timings per phase, next step) and
    sets the facts C(shipit_outcome) and C(shipit_outcome_message) (the text a failed run ends with). The task
    itself does not fail for a failed run; the playbook fails the run from the fact, so the printed text and the
    record agree.
  - Invalid input and check mode are not journaled (nothing is contacted or changed then).
author:
  - cytube.shipit maintainers (@cytube)
extends_documentation_fragment:
  - cytube.shipit.attributes
  - cytube.shipit.attributes.action
options:
  kind:
    description: What ran.
    type: str
    required: true
    choices: [deploy, rollback, verify]
  channel:
    description: The channel (empty when the input did not name a valid one; then nothing is journaled).
    type: str
    required: false
  root:
    description: Directory holding one subdirectory per channel on the host (unset - the host modules' default).
    type: path
  environment:
    description: C(shipit_environment) of the inventory.
    type: str
  server_url:
    description: CyTube's address (for the channel URL).
    type: str
  marks:
    description:
      - Epoch seconds at which each phase started (C(validate), C(resolve), C(preflight), C(lock), C(build),
        C(switch), C(ready), C(verify), C(rollback), C(record)).
    type: dict
  failure:
    description:
      - What failed (C(phase), C(message), C(failed_check), C(verdict), C(reason), C(checks)); empty when nothing
        failed.
    type: dict
  verdict:
    description:
      - The verification result (C(verdict), C(failed_check), C(reason), C(checks)) of the release the run is about.
    type: dict
  rollback:
    description: What the way back did (C(result), C(target), C(verdict), C(reason), C(emergency)).
    type: dict
  release:
    description:
      - The release the run is about (C(id), C(version), C(project), C(source), C(artifact_sha256), C(git_sha),
        C(built)). C(drift), when not empty, says how an existing release had drifted since its build (it was built
        again); it becomes one of the outcome's C(warnings).
    type: dict
  live_before:
    description: The release that was live before the run.
    type: str
  live_before_version:
    description: Its version.
    type: str
  live_after:
    description: The release that is live after the run.
    type: str
  restarted:
    description: Whether the activation restarted the bot (for the words of the summary).
    type: bool
  restart_reason:
    description: Why a bot that needed no restart was restarted (M(cytube.shipit.bot_instance)), for the summary.
    type: str
  record:
    description:
      - On success, the release to record as live (C(release), C(verified), C(pop), C(keep), C(event)); see
        M(cytube.shipit.bot_record).
    type: dict
  journal:
    description: Write the outcome to the host's journal.
    type: bool
    default: true
  pr_number:
    description: The pull request of the run (else C(SHIPIT_PR_NUMBER) or C(GITHUB_REF)).
    type: int
seealso:
  - module: cytube.shipit.bot_record
  - module: cytube.shipit.run_inputs
"""

EXAMPLES = r"""
- name: Conclude the run with its outcome
  cytube.shipit.run_outcome:
    kind: verify
    channel: "{{ shipit_channel }}"
    marks: "{{ shipit_marks }}"
    verdict: "{{ bot_verify_result | default(none) }}"

- name: Fail the run unless its outcome is a success
  ansible.builtin.fail:
    msg: "{{ shipit_outcome_message }}"
  when: shipit_outcome.status not in ['success', 'check']
"""

RETURN = r"""
status:
  description: The outcome's status.
  returned: always
  type: str
  sample: rolled_back
journaled:
  description: Whether the outcome was appended to the host's journal.
  returned: always
  type: bool
journal:
  description: Path of the journal on the host.
  returned: when journaled
  type: str
pruned:
  description: Releases removed while recording.
  returned: always
  type: list
  elements: str
journal_error:
  description: Why the outcome could not be journaled (the host was unreachable or the write failed).
  returned: when it could not be journaled
  type: str
ansible_facts:
  description: C(shipit_outcome) (the outcome document) and C(shipit_outcome_message) (reason and next step).
  returned: always
  type: dict
"""

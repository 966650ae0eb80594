#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the deploy_event action plugin (it runs on the controller only)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: deploy_event
short_description: Ship run outcomes to the cytube.shipit dashboard's ingest API
version_added: "0.1.0"
description:
  - Posts run outcomes (documents of C(meta/outcome.schema.json)) to C(<url>/api/events) of the dashboard
    service, in batches, with the ingest token in an C(Authorization) header. The token is never printed.
  - The store is idempotent on the outcome id, so replaying outcomes changes nothing; an outcome the store
    already had is acknowledged as C(duplicate). C(changed) is true only when the store stored something new.
  - A dashboard that is down, slow, refuses the token or answers with an error never fails the task - the task
    returns ok with a warning naming the dashboard (host and port only) and what happened, and lists the
    outcomes it did not acknowledge in RV(unacked). Keep those unsent in the host journal
    (M(cytube.shipit.outcome_journal)) so a later run ships them.
  - When a batch is refused as invalid (HTTP 422, nothing of it is written), its outcomes are sent one by one,
    so one bad outcome does not hold back the others.
  - All requests of one task share a time O(budget); what is not sent within it is returned as unacked.
  - Only bad input fails - no or a malformed O(url), an empty O(token), O(outcomes) that is not a list of
    dicts each with a string C(id), limits out of range.
  - This is an action plugin; it runs on the controller whatever the play's hosts are, with C(requests).
author:
  - cytube.shipit maintainers (@cytube)
extends_documentation_fragment:
  - cytube.shipit.attributes
  - cytube.shipit.attributes.action
options:
  url:
    description: Base URL of the dashboard, e.g. C(http://dash.example:8095). No credentials, query or fragment.
    type: str
    required: true
  token:
    description: The dashboard's ingest token (C(shipit-dashboard --token-file)). Never logged or returned.
    type: str
    required: true
  outcomes:
    description: Outcome documents to ship, oldest first (as listed by M(cytube.shipit.outcome_journal)).
    type: list
    elements: raw
    required: true
  timeout:
    description: Seconds to wait for each request.
    type: float
    default: 5
  budget:
    description: Seconds all requests of this task may take together.
    type: float
    default: 10
  batch_size:
    description: Outcomes per request (the API takes at most 500).
    type: int
    default: 100
  validate_certs:
    description: Verify the dashboard's TLS certificate for an C(https) URL.
    type: bool
    default: true
notes:
  - C(playbooks/tasks/ship_outcomes.yml) lists a host's unsent outcomes, ships them with this module and marks the
    acknowledged ones sent; C(playbooks/flush.yml) does the same for every channel on demand.
seealso:
  - module: cytube.shipit.outcome_journal
"""

EXAMPLES = r"""
- name: List the outcomes this host has not shipped yet
  cytube.shipit.outcome_journal:
    state: unsent
  register: unsent

- name: Ship them to the dashboard (a dashboard that is down only warns)
  cytube.shipit.deploy_event:
    url: http://dash.example:8095
    token: "{{ dashboard_ingest_token }}"
    outcomes: "{{ unsent.outcomes }}"
  delegate_to: localhost
  register: shipped

- name: Mark what the dashboard acknowledged as sent
  cytube.shipit.outcome_journal:
    state: sent
    ids: "{{ shipped.acked }}"
  when: shipped.acked | length > 0
"""

RETURN = r"""
acked:
  description: Ids of the outcomes the dashboard acknowledged (stored now or already stored).
  returned: always
  type: list
  elements: str
stored:
  description: Ids the dashboard stored in this task.
  returned: always
  type: list
  elements: str
duplicate:
  description: Ids the dashboard already had (a replay).
  returned: always
  type: list
  elements: str
unacked:
  description: Outcomes not acknowledged, each with its C(id) and a short C(error) (never the token).
  returned: always
  type: list
  elements: dict
  sample: [{"id": "gh-1-1:deploy:chan:bots-1", "error": "unreachable (ConnectionError: ...)"}]
requests:
  description: Number of HTTP requests made.
  returned: always
  type: int
"""

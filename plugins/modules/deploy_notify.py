#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the deploy_notify action plugin (it runs on the controller only)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: deploy_notify
short_description: Tell people about a run (PR comment, GitHub deployment, Slack, Discord, signed webhook)
version_added: "0.1.0"
description:
  - Delivers a run's outcome (see C(meta/outcome.schema.json)) to the notification targets of the inventory
    (C(shipit_notify)), or, with O(phase=started), tells them that a run starts.
  - C(github_pr_comment) keeps ONE comment per pull request, environment and channel, found by a hidden marker
    C(<!-- cytube-shipit:<environment>/<channel> -->) through every page of the PR's comments, and edits it in place.
  - C(github_deployment) creates a GitHub deployment for environment C(<environment>/<channel>) at the commit,
    with status C(in_progress) at the start, then C(success), C(failure) or C(error); the deployment it replaced
    becomes C(inactive). A rollback run sets the status of the deployment of the release it brought back.
  - C(slack) posts Block Kit to an incoming webhook; C(discord) posts an embed that always fits Discord's limits
    (long check lists are shortened with a note); C(webhook) posts the outcome as JSON signed with
    C(X-Shipit-Signature) (HMAC-SHA256 of C(<X-Shipit-Timestamp>.<body>)), see C(docs/notifications.md).
  - Every target has a per-request timeout and a total budget; connection errors, 5xx, 429 and GitHub's rate limits
    are retried with backoff, honouring C(Retry-After), Discord's C(retry_after) and C(X-RateLimit-Reset), inside
    the budget. Targets are notified in parallel.
  - A target that fails is a warning and an entry with C(ok=false) in RV(notifications); the task does not fail.
    The task fails only for bad settings (unknown type, missing token or URL, malformed URL, bad filter), before
    anything is sent. O(validate_only=true) checks the settings only.
  - Tokens, webhook URLs and signing secrets never appear in the result, warnings or errors.
  - This is an action plugin; it runs on the controller with C(requests).
author:
  - cytube.shipit maintainers (@cytube)
extends_documentation_fragment:
  - cytube.shipit.attributes
  - cytube.shipit.attributes.action
options:
  targets:
    description:
      - The notification targets, usually C({{ shipit_notify | default([]) }}).
      - "Every target: C(type) (one of C(github_pr_comment), C(github_deployment), C(slack), C(discord), C(webhook)),
        optional C(name) (for C(type:name) in messages), C(statuses) (outcome statuses, C(started), or the groups
        C(problems) and C(finished)), C(environments) (names or globs), C(kinds) (C(deploy), C(rollback), C(verify)),
        C(timeout_s), C(budget_s)."
      - "GitHub targets: optional C(token), C(repository), C(api_url) (else the module's github_* options);
        C(github_pr_comment) also C(pr_number) (else the trigger's); C(github_deployment) also
        C(production_environments) (default C([prod, production]))."
      - "C(slack), C(discord): C(url) (a secret); C(discord) also C(username). C(webhook): C(url) and C(secret)
        (at least 16 characters)."
      - "Default C(statuses): GitHub targets every status except C(check), C(started) included; C(slack), C(discord)
        and C(webhook) the same without C(started)."
    type: list
    elements: dict
    default: []
  outcome:
    description: The run's outcome (outcome.schema.json). Mutually exclusive with O(phase).
    type: dict
  phase:
    description: C(started) to announce a run that starts ("deploying...", deployment status C(in_progress)).
    type: str
    choices: [started]
  context:
    description:
      - With O(phase=started), what is known at the start, with the outcome's field names
        (C(run_id), C(kind), C(channel), C(environment), C(host), C(server_url), C(channel_url), C(release) with
        C(id), C(version), C(git_sha), C(trigger), C(started_at), C(collection_version)).
      - Missing C(run_id) and C(trigger) are computed from the environment exactly as M(cytube.shipit.run_outcome)
        does (so the outcome finds the deployment the start created), C(host) is the inventory host,
        C(channel_url) is C(<server_url>/r/<channel>), C(started_at) is now. C(pr_number) may be given for the
        trigger.
    type: dict
  github_api_url:
    description: GitHub API base URL. Defaults to the environment variable E(GITHUB_API_URL), else C(https://api.github.com).
    type: str
  github_repository:
    description: C(owner/name) of the repository. Defaults to E(GITHUB_REPOSITORY), else the outcome's trigger.
    type: str
  github_token:
    description: GitHub token with C(pull-requests:write) and C(deployments:write). Defaults to E(GITHUB_TOKEN).
    type: str
  timeout_s:
    description: Default per-request timeout in seconds (a target's C(timeout_s) wins).
    type: float
    default: 5
  budget_s:
    description: Default total time per target in seconds, retries and waits included (a target's C(budget_s) wins).
    type: float
    default: 10
  troubleshooting_url:
    description: URL of the troubleshooting guide; failure messages link to C(<url>#<check name>).
    type: str
  validate_only:
    description: Only check O(targets) and the GitHub settings; send nothing. Fails with every problem found.
    type: bool
    default: false
notes:
  - Needs C(requests) on the controller.
seealso:
  - name: Notifications
    description: Rendered examples, inventory settings, webhook signature verification, the sandbox stand-ins.
    link: https://example.invalid/cytube/shipit/blob/main/docs/notifications.md
"""

EXAMPLES = r"""
- name: Refuse bad notification settings before any host changes
  cytube.shipit.deploy_notify:
    targets: "{{ shipit_notify | default([]) }}"
    validate_only: true
  delegate_to: localhost
  run_once: true

- name: Tell the pull request and the GitHub environment that the deploy starts
  cytube.shipit.deploy_notify:
    targets: "{{ shipit_notify | default([]) }}"
    phase: started
    context:
      run_id: "{{ shipit_run_id }}"
      kind: deploy
      channel: "{{ shipit_channel }}"
      environment: "{{ shipit_environment }}"
      host: "{{ inventory_hostname }}"
      channel_url: "{{ shipit_server_url }}/r/{{ shipit_channel }}"
      release: "{{ shipit_release_ref }}"
      trigger: "{{ shipit_trigger }}"
  delegate_to: localhost

- name: Tell everyone the outcome
  cytube.shipit.deploy_notify:
    targets: "{{ shipit_notify | default([]) }}"
    outcome: "{{ shipit_outcome }}"
  delegate_to: localhost
  register: shipit_notified

- name: A Slack target for production that only speaks about problems
  ansible.builtin.set_fact:
    shipit_notify:
      - type: slack
        name: ops
        url: "{{ vault_slack_ops_webhook }}"
        statuses: [problems]
        environments: [prod]
"""

RETURN = r"""
notifications:
  description: One entry per target, in the order of O(targets) (the outcome's C(notifications) list).
  returned: when something was to be notified
  type: list
  elements: dict
  contains:
    target:
      description: C(type) or C(type:name) of the target (never its URL or token).
      type: str
      sample: slack:ops
    ok:
      description: Delivered, or skipped on purpose.
      type: bool
    skipped:
      description: Not sent (filtered out, no pull request, check mode); C(error) says why.
      type: bool
    attempts:
      description: HTTP requests made, retries included.
      type: int
    status_code:
      description: HTTP status of the last answer, null when none came.
      type: int
    error:
      description: What failed (or why it was skipped), without URLs or secrets.
      type: str
      sample: "Discord webhook: HTTP 500; gave up after 3 attempt(s) within the 10 s budget"
    duration_s:
      description: Seconds spent on this target.
      type: float
  sample:
    - {target: github_pr_comment, ok: true, skipped: false, attempts: 2, status_code: 200, duration_s: 0.21}
outcome:
  description: The given outcome with C(notifications) added, ready for the journal and the dashboard.
  returned: when O(outcome) was given and the settings were valid
  type: dict
problems:
  description: Every problem of the settings (empty when valid).
  returned: when the settings were checked
  type: list
  elements: str
targets:
  description: C(type[:name]) of every target.
  returned: with O(validate_only=true)
  type: list
  elements: str
"""

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cytube_check
short_description: Verify a CyTube chat bot from outside, as a user would see it
version_added: "0.1.0"
description:
  - Connects to a CyTube server the way a user's browser does and checks that a
    chat bot is alive in its channel. The checks, in order, are
    C(socketconfig) (GET C(/socketconfig/<channel>.json)), C(connect) (one socket.io
    connection), C(join) (the channel's user list arrives), C(login) (the probe account
    logs in), C(probe_rank) (only with O(probe_rank) above 0 - CyTube gives the probe at
    least that rank), C(bot_present) (the bot's name is in the user list), then by O(mode)
    C(command_round_trip) (the probe says C(<command> <token>), in public or privately,
    and the bot must answer) or C(bot_stays) (presence - the bot stays in the user list).
  - The reply must come from O(bot_name) (case-insensitive), arrive after the command
    was sent and match O(expect) once CyTube's HTML transformation is undone. Messages
    CyTube replays on join and the probe's own echo never count.
  - The result is a RV(verdict) of V(healthy), V(unhealthy) (CyTube works but the
    bot is missing, silent, late or wrong) or V(inconclusive) (CyTube itself is
    unreachable or refuses the probe, so nothing is known about the bot). Every check
    reports its latency.
  - By default the module only reports; use O(fail_on) to fail the task on a verdict.
  - Its action plugin runs the probe inside C(ansible-playbook) on the controller,
    whatever host the task targets (no module is sent to any host, C(delegate_to) is
    not needed); the controller needs network access to the CyTube server and the
    client libraries below.
  - "CyTube limits that shape this module: a per-IP connection rate limit (5
    connections, then 1 per 10 s), so a stability window (O(repeat) > 1) uses ONE
    connection for all its rounds and never reconnects; one guest login per IP per 60 s,
    so use a registered probe account; a second login with the same name kicks the
    older connection, so the probe account must not be the bot's account."
author:
  - cytube.shipit maintainers (@cytube)
requirements:
  - python-socketio >= 5.8.0, < 6 (the sync client; tested range, see the collection's requirements.txt)
  - python-engineio >= 4.4.1, < 5
  - websocket-client >= 1.5.1, < 2
extends_documentation_fragment:
  - cytube.shipit.attributes
  - cytube.shipit.attributes.action
options:
  server_url:
    description:
      - CyTube's web address, C(http://) or C(https://), e.g. C(https://cytu.be).
      - The socket.io address is read from the server's socketconfig; an entry with
        C(secure=true) is preferred, as CyTube's own web client does.
    type: str
    required: true
  channel:
    description:
      - The channel name (the part after C(/r/)), 1-30 characters from C(a-z),
        C(A-Z), C(0-9), C(-) and C(_).
    type: str
    required: true
  channel_password:
    description:
      - The channel's password, when the channel has one.
    type: str
  bot_name:
    description:
      - The bot's CyTube user name, 1-20 characters from C(a-z), C(A-Z), C(0-9),
        C(-) and C(_). Compared case-insensitively, as CyTube does.
    type: str
    required: true
  probe_user:
    description:
      - The account the probe logs in with. Same rules as O(bot_name), and it must
        differ from O(bot_name) (a duplicate login would kick the bot).
      - Use a registered account of its own. Do not share it between probes that
        may run at the same time in the same channel (the older one gets kicked
        and reports V(inconclusive)).
    type: str
    required: true
  probe_password:
    description:
      - The probe account's password. Never logged or returned.
      - An empty string logs in as a guest named O(probe_user). CyTube allows one
        successful guest login per client IP per 60 seconds across all channels,
        so a second guest check from the same IP within a minute is refused and
        reports V(inconclusive). Prefer a registered probe account.
    type: str
    required: true
  mode:
    description:
      - How the bot shows it is healthy.
      - V(command) - the probe says O(command) in public chat and the bot's public reply
        must match O(expect).
      - V(pm) - the probe sends O(command) as a private message (CyTube's C(pm) event) and
        the bot's private reply must match O(expect); public chat is ignored. CyTube
        delivers a PM only to a user in the same channel (a refusal saying the bot is not
        connected makes the verdict V(unhealthy)). Bots often answer PMs only from users
        of a minimum rank - set O(probe_rank).
      - V(presence) - no message at all; the bot must be in the channel's user list and,
        when O(repeat) > 1, stay there for (O(repeat) - 1) x O(interval) seconds on the
        probe's one connection. A leave during that window (even with a quick rejoin) makes
        the verdict V(unhealthy), naming the time. O(command), O(expect) and
        O(expect_version) must not be set.
    type: str
    choices: [command, pm, presence]
    default: command
  command:
    description:
      - The command the bot answers (default V(!ping)). The probe sends C(<command> <token>),
        where the token is 10 random lowercase hex digits (no C(_), C(*), C(~) or
        backquote, which CyTube would turn into markup).
      - In O(mode=pm) the token is added only when O(expect) contains C({token}); otherwise
        the command is sent as it is (bots often answer an exact word), and the reply is
        recognised by its sender and by being sent after the command.
    type: str
  probe_rank:
    description:
      - The lowest channel rank the probe account must have (CyTube ranks - 1 registered,
        2 moderator, 3 channel admin). The probe waits up to O(connect_timeout) for CyTube
        to report its rank that high; otherwise the verdict is V(inconclusive) (not the
        bot's fault) and the message names the fix (C(/rank <probe_user> <rank>) by the
        channel owner). V(0) checks nothing.
    type: float
    default: 0
  expect:
    description:
      - Regular expression (Python syntax, searched in the decoded reply) the bot's
        reply must match. Each literal C({token}) is replaced by the escaped token of
        the round.
      - A named group C(version) is returned as RV(version).
      - Decoding undoes CyTube's default chat filters (C(<em>x</em>) becomes
        C(_x_), C(<strong>) C(*), C(<code>) a backquote, C(<s>) C(~~)), drops other
        tags and unescapes HTML entities.
      - Default C(^pong (?P<version>\\S+) {token}$).
    type: str
  expect_version:
    description:
      - When set, the reply's C(version) group must equal this value, otherwise the
        round fails and the verdict is V(unhealthy).
      - Requires a C(version) group in O(expect).
    type: str
  connect_timeout:
    description:
      - Seconds allowed for each CyTube step (socketconfig request, socket connect,
        join with login) and for the bot to appear in the user list.
    type: float
    default: 5
  reply_timeout:
    description:
      - Seconds the bot has to answer each command.
    type: float
    default: 5
  repeat:
    description:
      - Number of command rounds. More than 1 makes a stability window; all rounds
        share one connection.
    type: int
    default: 1
  interval:
    description:
      - Seconds between the starts of two rounds of a stability window. Events are
        read while waiting, so a kick or the bot leaving is noticed.
    type: float
    default: 10
  max_failures:
    description:
      - Rounds of the window that may fail without failing the verdict. Must be
        smaller than O(repeat).
    type: int
    default: 0
  validate_certs:
    description:
      - Verify TLS certificates (socketconfig request and socket.io connection).
        Only switch this off for a test server.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file with the CA certificates to trust instead of the system's.
    type: path
  fail_on:
    description:
      - Verdicts that fail the task. The failure carries every return value and a
        message naming the check, what was expected and what was seen.
      - The default, an empty list, reports the verdict without failing (as
        community.postgresql.postgresql_ping does); test RV(verdict) yourself.
    type: list
    elements: str
    choices: [unhealthy, inconclusive]
    default: []
  rate_limit_wait:
    description:
      - Seconds the probe may wait for a connection token of CyTube's per-IP connection
        rate limit (5 connections, then 1 per 10 s). Every probe run on this controller
        takes its token from one bucket per server, kept in O(rate_limit_dir) under a file
        lock, so concurrent C(ansible-playbook) runs queue instead of being refused.
      - A C(Rate limit exceeded) refusal (another client behind the same address) is a
        reason to wait for the next token and try again within this budget, never a
        verdict by itself. When no token can be had in time the verdict is
        V(inconclusive) with C(rate limited, retry in N s).
      - V(0) never waits.
    type: float
    default: 60
  rate_limit_dir:
    description:
      - Directory of the controller's connection buckets, one JSON file per server.
      - Defaults to C($XDG_CACHE_HOME/cytube-shipit/ratelimit) (C(~/.cache/...) without
        C(XDG_CACHE_HOME)); a private directory under the system's temporary directory
        is used when that is not writable.
    type: path
  forwarded_for:
    description:
      - FOR LOCAL TESTING ONLY. Sends C(X-Forwarded-For) with this IP address.
        CyTube trusts that header from loopback clients only, so a probe running on
        the CyTube host can pose as another client IP and stay clear of the per-IP
        rate limit and guest cooldown. Public servers ignore it.
    type: str
notes:
  - "Wall time is bounded: at most about O(rate_limit_wait) + 5 x O(connect_timeout) +
    O(repeat) x O(reply_timeout) + (O(repeat) - 1) x O(interval) + 3 seconds. The
    connection is closed on every path."
  - "Verdict rules: a failing C(socketconfig), C(connect) (including C(Rate limit
    exceeded)), C(join) or C(login) check, a kick, a lost connection, or CyTube not
    delivering the probe's own command (no echo, C(cooldown), C(noflood),
    C(spamFiltered)) gives V(inconclusive). The bot missing from the user list, or no,
    late or wrong reply (or a different version) gives V(unhealthy)."
  - "Stability window: V(unhealthy) when more than O(max_failures) rounds failed for the
    bot's fault; otherwise V(inconclusive) when more than O(max_failures) rounds failed
    for any reason or the window was cut short (connection lost); otherwise V(healthy).
    The window stops early once the verdict is V(unhealthy) or the connection is lost."
  - The probe posts one chat message per round in the channel (V(command)); channel users see it.
    In V(pm) mode only the bot sees the messages; V(presence) sends none.
seealso:
  - name: CyTube
    description: The CyTube server software.
    link: https://github.com/calzoneman/sync
"""

EXAMPLES = r"""
- name: Check the bot after a deploy (report only)
  cytube.shipit.cytube_check:
    server_url: https://cytu.be
    channel: mybotchannel
    bot_name: mybot
    probe_user: mybot-probe
    probe_password: "{{ vault_probe_password }}"
  register: bot_check

- name: Roll back when the bot is unhealthy
  ansible.builtin.include_tasks: rollback.yml
  when: bot_check.verdict == 'unhealthy'

- name: Production stability window, failing the task on any bad verdict
  cytube.shipit.cytube_check:
    server_url: https://cytu.be
    channel: mybotchannel
    bot_name: mybot
    probe_user: mybot-probe
    probe_password: "{{ vault_probe_password }}"
    expect_version: "{{ bot_version }}"
    repeat: 6
    interval: 10
    max_failures: 1
    reply_timeout: 3
    fail_on: [unhealthy, inconclusive]

- name: A bot with its own command and reply format
  cytube.shipit.cytube_check:
    server_url: https://cytube.example.org
    channel: lounge
    bot_name: dj-bot
    probe_user: dj-probe
    probe_password: "{{ vault_probe_password }}"
    command: "!health"
    expect: '^ok {token} v(?P<version>[0-9.]+)$'
    ca_path: /etc/ssl/private-ca.pem

- name: A bot that answers the private message "status" from channel moderators only
  cytube.shipit.cytube_check:
    server_url: https://cytu.be
    channel: lounge
    bot_name: chatbot
    probe_user: chat-probe
    probe_password: "{{ vault_probe_password }}"
    mode: pm
    command: status
    expect: '^status: up \d+ s'
    probe_rank: 2

- name: A bot that answers nothing - present for a 50 s window
  cytube.shipit.cytube_check:
    server_url: https://cytu.be
    channel: lounge
    bot_name: quietbot
    probe_user: quiet-probe
    probe_password: "{{ vault_probe_password }}"
    mode: presence
    repeat: 6
    interval: 10

- name: Sandbox stand-in on this machine, posing as another client IP
  cytube.shipit.cytube_check:
    server_url: http://127.0.0.1:8080
    channel: testchan
    bot_name: shipbot
    probe_user: shipprobe
    probe_password: "{{ sandbox_probe_password }}"
    forwarded_for: 10.99.0.7
"""

RETURN = r"""
verdict:
  description:
    - V(healthy), V(unhealthy) (the bot's fault) or V(inconclusive) (CyTube
      unreachable or refusing the probe).
  returned: always
  type: str
  sample: healthy
checks:
  description:
    - The checks that ran, in order; a check that could not run (an earlier one
      failed) is absent. C(command_round_trip) appears once per round; C(bot_stays) once, in
      V(presence) mode with a window.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: >-
        C(socketconfig), C(connect), C(join), C(login), C(probe_rank), C(bot_present), C(command_round_trip)
        or C(bot_stays).
      type: str
      sample: command_round_trip
    ok:
      description: Whether the check passed.
      type: bool
      sample: true
    latency_ms:
      description:
        - Milliseconds the check took. For C(bot_present), the time waited after the
          user list arrived (0 when the bot was already in it). For
          C(command_round_trip), from sending the command to receiving the reply.
      type: float
      sample: 3.1
    expected:
      description: What the check expected.
      type: str
      sample: "a reply from 'shipbot' matching '^pong (?P<version>\\S+) 5f1c0a9e2b$' within 5.0s"
    seen:
      description: What was seen instead (or the value that satisfied the check).
      type: str
      sample: "'pong 1.4.2 5f1c0a9e2b' after 3.1 ms"
    message:
      description: A short explanation.
      type: str
      sample: bot answered
    round:
      description: Round number (1-based), for C(command_round_trip) only.
      type: int
      sample: 1
  sample:
    - name: socketconfig
      ok: true
      latency_ms: 2.4
      expected: "HTTP 200 with a servers list from http://127.0.0.1:8080/socketconfig/testchan.json within 5.0s"
      seen: "server http://127.0.0.1:1337 (secure: false)"
      message: socketconfig read
version:
  description: The C(version) group of the last matching reply (null when none).
  returned: always
  type: str
  sample: 1.4.2
failed_check:
  description: The check that decided a non-healthy verdict, or null when healthy.
  returned: always
  type: str
  sample: command_round_trip
msg:
  description: One line saying what happened; for a failure, which check failed, what was expected and what was seen.
  returned: always
  type: str
  sample: >-
    unhealthy: check command_round_trip failed: no reply from 'shipbot'; expected a reply from
    'shipbot' matching '^pong (?P<version>\S+) 5f1c0a9e2b$' within 5.0s; seen no reply within 5.0s
elapsed_ms:
  description: Wall time of the whole probe in milliseconds.
  returned: always
  type: float
  sample: 74.2
"""

import sys

if __name__ == "__main__" and "aiohttp" not in sys.modules:
    # Only in the module's own process: python-socketio's package import pulls in its
    # asyncio client, which imports aiohttp when present (~0.2 s). The sync client
    # used here never needs it, and the async client treats it as optional.
    sys.modules["aiohttp"] = None  # type: ignore[assignment]

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cytube.shipit.plugins.module_utils.cytube_check_run import check_argument_spec, run_check


def main() -> None:
    """The module itself; playbooks normally run the action plugin of the same name, which calls the same
    ``run_check`` inside the controller's process."""
    module = AnsibleModule(argument_spec=check_argument_spec(), supports_check_mode=True)
    result = run_check(module.params)
    if result.pop("failed", False):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()

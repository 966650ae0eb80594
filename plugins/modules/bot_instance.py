#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make one release of a channel's bot live and running, in one step."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: bot_instance
short_description: Switch a channel's bot to a release, (re)start its systemd instance and wait until it is ready
version_added: "0.1.0"
description:
  - Manages the systemd instance C(cytube-bot@<channel>.service) of one channel on a bot host, in one task,
    so that a deploy or a rollback costs one round trip.
  - Ensures the unprivileged system user, the channel directories, the root-owned C(0600) secret files that
    the unit passes with C(LoadCredential=), and the template unit file (with a C(daemon-reload) only when
    it changed).
  - Switches C(<root>/<channel>/current) to the wanted release atomically (a symlink under a temporary
    name, then C(rename)), restarts the instance only when something changed (the release, the unit, a
    secret) or when it is not running the wanted release, then polls until the unit is active and the bot's
    health endpoint says it joined the channel, up to O(ready_timeout). It never sleeps a fixed time.
  - Before changing anything it computes the release a deploy would roll back to (the previous good
    release), and returns it as RV(rollback_target) even when it fails, so a rescue can use it.
  - A release that is incomplete, missing or marked bad (without O(allow_bad)) is refused before anything
    changes. With O(release=previous) the previous good release is chosen (a rollback).
  - Check mode reports what would change and changes nothing; with C(--diff) the switch is shown.
author:
  - cytube.shipit maintainers (@cytube)
extends_documentation_fragment:
  - cytube.shipit.channel_layout
  - cytube.shipit.bot_unit
  - cytube.shipit.journal_check
  - cytube.shipit.attributes.diff
options:
  state:
    description:
      - C(started) makes O(release) live and running.
      - C(stopped) stops and disables the instance (used when a first deploy fails and nothing is left to roll back to).
    type: str
    choices: [started, stopped]
    default: started
  release:
    description:
      - Release id to make live (a directory under C(releases/)), or C(previous) for the previous good release.
      - Required when O(state=started).
    type: str
  allow_bad:
    description: Accept a release marked bad (a forced rollback).
    type: bool
    default: false
  remove_current:
    description: With O(state=stopped), also remove the C(current) link.
    type: bool
    default: false
  unit_content:
    description: Content of the template unit file. When omitted, the unit file is left as it is (it must exist).
    type: str
  unit_dir:
    description: Where the template unit file is written.
    type: path
    default: /etc/systemd/system
  user:
    description: System user the bot runs as; created (system account, no login shell) when missing.
    type: str
    default: cytube-bot
  secrets:
    description:
      - Secret files for the instance, name to value, written to C(<secrets_root>/<channel>/<name>) as root,
        mode C(0600).
      - Values are never returned or logged.
    type: dict
    default: {}
  secrets_root:
    description: Parent directory of the per-channel secret directories.
    type: path
    default: /etc/cytube-shipit
  health_url:
    description: The bot's health endpoint, polled from the host. Ready means HTTP 200 and C(joined) not false.
    type: str
  expect_version:
    description: When the health endpoint reports a version, it must be this one.
    type: str
  ready_timeout:
    description: Seconds to wait for the instance to become ready after a (re)start.
    type: float
    default: 30
  settle:
    description: Without a health endpoint, seconds the unit must stay active to count as ready.
    type: float
    default: 2
  wait:
    description: Wait for readiness. C(false) returns right after the restart (an emergency rollback).
    type: bool
    default: true
  restart:
    description:
      - C(auto) restarts only when the release, the unit file or a secret changed, or when the instance is not
        active or runs another release. C(always) restarts anyway. C(never) only switches.
      - Unless C(never), an instance that was not restarted and whose health endpoint says it is between two
        connections (its own reconnect backoff, after a CyTube outage) is restarted so that it reconnects now
        (RV(restart_reason)).
    type: str
    choices: [auto, always, never]
    default: auto
  enable:
    description: Enable the instance so it starts at boot.
    type: bool
    default: true
  assume_built:
    description:
      - In check mode, accept a release that does not exist yet (a deploy preview, where the build was only
        simulated).
    type: bool
    default: false
notes:
  - Run it under the channel lock (M(cytube.shipit.channel_lock)); it does not lock by itself.
  - Several channels share the template unit file; a changed unit reaches another channel's instance at its next
    restart.
seealso:
  - module: cytube.shipit.bot_release
  - module: cytube.shipit.bot_releases
  - module: cytube.shipit.bot_host_check
"""

EXAMPLES = r"""
- name: Make the new release live and wait until the bot joined
  cytube.shipit.bot_instance:
    channel: mychannel
    release: "{{ bot_release_id }}"
    unit_content: "{{ lookup('ansible.builtin.template', 'cytube-bot@.service.j2') }}"
    secrets:
      bot-password: "{{ bot_password }}"
    health_url: http://127.0.0.1:8765/health
    ready_timeout: 20

- name: Roll back to the previous good release
  cytube.shipit.bot_instance:
    channel: mychannel
    release: previous

- name: Stop the instance and remove the current link
  cytube.shipit.bot_instance:
    channel: mychannel
    state: stopped
    remove_current: true
"""

RETURN = r"""
release:
  description: The release that is live now (or would be, in check mode).
  returned: always
  type: str
  sample: 2.0.0-1a2b3c4d5e
previous_release:
  description: The release C(current) pointed at before this task (null on a first deploy).
  returned: always
  type: str
rollback_target:
  description: The previous good release a failed activation of RV(release) would go back to (null when none).
  returned: always
  type: str
running_release:
  description: The release the instance's process runs from after this task (from its working directory).
  returned: always
  type: str
status:
  description: The state of RV(release) before this task - C(good) (verified before), C(bad) or C(pending).
  returned: when state=started
  type: str
recorded_live:
  description: Whether RV(release) was already recorded as the live release (top of the live stack) before this task.
  returned: when state=started
  type: bool
version:
  description: The bot version of RV(release), from its RELEASE.json.
  returned: when state=started
  type: str
switched:
  description: Whether C(current) changed.
  returned: always
  type: bool
restarted:
  description: Whether the instance was (re)started.
  returned: always
  type: bool
restart_reason:
  description: Why an instance that needed no restart was restarted all the same.
  returned: when a running instance was found reconnecting
  type: str
  sample: "the bot was between connections (its own reconnect backoff): restarted so that it reconnects now"
unit_changed:
  description: Whether the template unit file changed (and systemd was reloaded).
  returned: always
  type: bool
secrets_changed:
  description: Names of the secret files that changed (never their values).
  returned: always
  type: list
  elements: str
ready:
  description: Whether the instance became ready (null when not waited for).
  returned: always
  type: bool
checks:
  description:
    - Host checks (unit_active, unit_stable, health, journal), each with name, ok, latency_ms, expected, seen and
      message.
  returned: always
  type: list
  elements: dict
main_pid:
  description: PID of the bot process.
  returned: always
  type: int
restarts:
  description: systemd's NRestarts for the instance after the (re)start; a verification compares with it.
  returned: always
  type: int
unit:
  description: The instance name.
  returned: always
  type: str
  sample: cytube-bot@mychannel.service
journal:
  description: Last journal lines of the instance, when it failed to become ready.
  returned: on failure
  type: list
  elements: str
failed_check:
  description: Name of the first failed host check.
  returned: on failure
  type: str
timings_ms:
  description: Milliseconds spent in each phase (start, setup, restart, ready, checks), for diagnosis.
  returned: when state=started and not in check mode
  type: dict
"""

import os
import pwd
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_files import (
    atomic_write,
    flocked,
    host_setup_lock,
    makedirs,
    read_bytes,
    read_json,
)
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_layout import (
    CHANNEL_LAYOUT_ARGUMENT_SPEC,
    DEFAULT_SECRETS_ROOT,
    UNIT_ARGUMENT_SPEC,
    ChannelLayout,
    ShipitError,
    unit_instance,
)
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_release_dirs import (
    current_release,
    release_complete,
    remove_current,
    running_release,
    scan_releases,
    switch_current,
)
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_service import (
    JOURNAL_ARGUMENT_SPEC,
    describe_state,
    int_prop,
    journal_check,
    journal_tail,
    unit_props,
    wait_ready,
)
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_state import (
    PREVIOUS,
    is_bad,
    load_state,
    release_status,
    resolve_release,
    rollback_target,
)

RECONNECT_RESTART = "the bot was between connections (its own reconnect backoff): restarted so that it reconnects now"


class Instance:
    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.p = module.params
        self.layout = ChannelLayout(self.p["root"], self.p["channel"], self.p["secrets_root"])
        self.unit = unit_instance(self.p["unit_name"], self.p["channel"])
        self.check_mode = module.check_mode
        self.changed = False
        self.timings: Dict[str, int] = {}
        self._last = time.monotonic()

    def mark(self, phase: str) -> None:
        """Time spent since the previous mark, reported as RV(timings_ms)."""
        now = time.monotonic()
        self.timings[phase] = int((now - self._last) * 1000)
        self._last = now

    def run(self, argv: Sequence[str]) -> Tuple[int, str, str]:
        rc, out, err = self.module.run_command(list(argv), environ_update={"SYSTEMD_PAGER": "", "LC_ALL": "C"})
        return rc, out, err

    def must(self, argv: Sequence[str]) -> str:
        rc, out, err = self.run(argv)
        if rc != 0:
            raise ShipitError("%s failed (exit %d): %s" % (" ".join(argv), rc, (err or out).strip()))
        return out

    # ----------------------------------------------------------------- setup
    def user_exists(self) -> bool:
        try:
            pwd.getpwnam(self.p["user"])
            return True
        except KeyError:
            return False

    def ensure_user(self) -> None:
        if self.user_exists():
            return
        self.changed = True
        if self.check_mode:
            return
        # Two channels set up at once on one host both ran useradd for the one user, and the second replaced
        # the first's, whose directories then belonged to nobody (seen with Debian's useradd): check and create
        # under one host-wide lock.
        with flocked(host_setup_lock()):
            if not self.user_exists():
                self.add_user()

    def add_user(self) -> None:
        name = self.p["user"]
        self.must(
            [
                "useradd",
                "--system",
                "--user-group",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                "--comment",
                "CyTube bot (cytube.shipit)",
                name,
            ]
        )

    def user_ids(self) -> Tuple[int, int]:
        try:
            entry = pwd.getpwnam(self.p["user"])
            return entry.pw_uid, entry.pw_gid
        except KeyError:
            return -1, -1

    def ensure_dirs(self) -> None:
        lay = self.layout
        wanted = [
            (lay.root, 0o755, False),
            (lay.base, 0o755, False),
            (lay.releases, 0o755, False),
            (lay.state_dir, 0o755, False),
            (lay.shared, 0o750, True),
            (os.path.dirname(lay.secrets_dir), 0o755, False),
            (lay.secrets_dir, 0o700, False),
        ]
        uid, gid = self.user_ids()
        for path, mode, owned in wanted:
            if os.path.isdir(path):
                if owned and uid != -1:
                    st = os.stat(path)
                    if (st.st_uid, st.st_gid) != (uid, gid):
                        self.changed = True
                        if not self.check_mode:
                            os.chown(path, uid, gid)
                continue
            self.changed = True
            if self.check_mode:
                continue
            makedirs(path, mode)
            if owned and uid != -1:
                os.chown(path, uid, gid)

    def ensure_secrets(self) -> List[str]:
        changed = []
        for name, value in sorted((self.p["secrets"] or {}).items()):
            if not name or "/" in name or name.startswith("."):
                raise ShipitError("secret name %r is not a plain file name" % name)
            path = os.path.join(self.layout.secrets_dir, name)
            data = ("" if value is None else str(value)).encode("utf-8")
            current = read_bytes(path)
            st = os.stat(path) if current is not None else None
            if current == data and st is not None and (st.st_mode & 0o777) == 0o600 and st.st_uid == 0:
                continue
            changed.append(name)
            if not self.check_mode:
                atomic_write(path, data, 0o600, 0, 0)
        return changed

    def ensure_unit(self) -> bool:
        content = self.p["unit_content"]
        path = os.path.join(self.p["unit_dir"], self.p["unit_name"])
        if content is None:
            if not os.path.exists(path):
                raise ShipitError("unit file %s does not exist and no unit_content was given" % path)
            return False
        data = content.encode("utf-8")
        if not data.endswith(b"\n"):
            data += b"\n"
        if read_bytes(path) == data:
            return False
        if not self.check_mode:
            atomic_write(path, data, 0o644, 0, 0)
            self.must(["systemctl", "daemon-reload"])
        return True

    # ----------------------------------------------------------------- state
    def running_release(self, props: Dict[str, str]) -> Optional[str]:
        return running_release(self.layout, int_prop(props, "MainPID"))

    def resolve_release(self, state: Dict[str, Any], releases: List[Any], current: Optional[str]) -> str:
        wanted = self.p["release"]
        if not wanted:
            raise ShipitError("release is required with state=started")
        if wanted != PREVIOUS and self.check_mode and self.p["assume_built"]:
            # A deploy preview: the build was only simulated, so the release may not exist yet.
            if not release_complete(self.layout, wanted):
                return wanted
        return resolve_release(state, releases, wanted, current, self.p["channel"], self.p["allow_bad"])

    # ----------------------------------------------------------------- actions
    def started(self) -> Dict[str, Any]:
        self.mark("start")
        result = self.plan()
        self.prepare_host(result)
        self.mark("setup")
        props = unit_props(self.run, self.unit) if not (self.check_mode and result["unit_changed"]) else {}
        running = self.running_release(props)
        restart = self.activate(result, props, running)
        if self.check_mode:
            result["running_release"] = result["release"] if restart else running
            return result
        props = self.check_ready(result, restart)
        result["running_release"] = self.running_release(props)
        self.mark("checks")
        result["timings_ms"] = self.timings
        if self.p["wait"] and not result["ready"]:
            self.explain_not_ready(result, props)
        return result

    def plan(self) -> Dict[str, Any]:
        """Which release to activate, what it replaces and where a rollback would go; nothing changes yet."""
        lay = self.layout
        state = load_state(lay)
        releases = scan_releases(lay)
        previous = current_release(lay)
        release = self.resolve_release(state, releases, previous)
        manifest = read_json(lay.manifest_path(release)) or {}
        return {
            "unit": self.unit,
            "release": release,
            "previous_release": previous,
            "rollback_target": self.rollback_target_of(state, releases, release, previous),
            "version": manifest.get("version"),
            "status": release_status(state, release),
            "recorded_live": bool(state["stack"]) and state["stack"][-1] == release,
            "switched": False,
            "restarted": False,
            "unit_changed": False,
            "secrets_changed": [],
            "ready": None,
            "checks": [],
            "main_pid": 0,
            "restarts": 0,
            "running_release": None,
        }

    def rollback_target_of(
        self, state: Dict[str, Any], releases: List[Any], release: str, previous: Optional[str]
    ) -> Optional[str]:
        target = rollback_target(state, releases, exclude=[release], current=release)
        if target is None and previous and previous != release:
            # No verified history to go back to: the release being replaced is the way back, if usable.
            if release_complete(self.layout, previous) and not is_bad(state, previous):
                return previous
        return target

    def prepare_host(self, result: Dict[str, Any]) -> None:
        """The bot's user, directories, secrets and unit file."""
        self.ensure_user()
        self.ensure_dirs()
        result["secrets_changed"] = self.ensure_secrets()
        result["unit_changed"] = self.ensure_unit()

    def activate(self, result: Dict[str, Any], props: Dict[str, str], running: Optional[str]) -> bool:
        """Switch ``current``, enable the unit and restart it when needed; True when it is (re)started."""
        switched = result["previous_release"] != result["release"] or not os.path.islink(self.layout.current)
        if switched and not self.check_mode:
            switch_current(self.layout, result["release"])
        result["switched"] = switched
        restart = self.needs_restart(result, props, running)
        self.ensure_enabled(props)
        if restart:
            self.restart()
            result["restarted"] = True
        if switched or result["unit_changed"] or result["secrets_changed"]:
            self.changed = True
        return restart

    def needs_restart(self, result: Dict[str, Any], props: Dict[str, str], running: Optional[str]) -> bool:
        mode = self.p["restart"]
        if mode != "auto":
            return mode == "always"
        return bool(
            result["switched"]
            or result["unit_changed"]
            or result["secrets_changed"]
            or props.get("ActiveState") != "active"
            or running != result["release"]
        )

    def ensure_enabled(self, props: Dict[str, str]) -> None:
        if self.p["enable"] and props.get("UnitFileState") not in ("enabled", "enabled-runtime", "static"):
            self.changed = True
            if not self.check_mode:
                self.must(["systemctl", "enable", "--quiet", self.unit])

    def restart(self) -> None:
        self.changed = True
        if self.check_mode:
            return
        # The start limit bounds crash loops, not deploys: explicit restarts count towards it
        # too, so clear it (and any failed state) first.
        self.run(["systemctl", "reset-failed", self.unit])
        self.must(["systemctl", "restart", self.unit])
        self.mark("restart")

    def check_ready(self, result: Dict[str, Any], restarted: bool) -> Dict[str, str]:
        """Wait for readiness (with O(wait)) and check the journal; the unit's last properties."""
        if not self.p["wait"]:
            props = unit_props(self.run, self.unit)
            result.update(main_pid=int_prop(props, "MainPID"), restarts=int_prop(props, "NRestarts"))
            return props
        # A running bot still in its own reconnect backoff (after a CyTube outage it can be a minute) is restarted,
        # so it reconnects now: it is not in its channel anyway, and waiting out its backoff would blame the release.
        reconnect_now = not restarted and self.p["restart"] != "never"
        waited = wait_ready(
            self.run,
            self.unit,
            self.p["health_url"],
            self.p["ready_timeout"] if restarted else min(self.p["ready_timeout"], 5.0),
            self.p["settle"] if restarted else 0.0,
            version=self.p["expect_version"],
            reconnect_timeout=self.p["ready_timeout"],
            channel=self.p["channel"],
            stop_if_reconnecting=reconnect_now,
        )
        if reconnect_now and waited["reconnecting"]:
            result["restart_reason"] = RECONNECT_RESTART
            self.restart()
            result["restarted"] = True
            self.mark("restart")
            return self.check_ready(result, True)
        result.update(
            ready=waited["ready"], checks=waited["checks"], main_pid=waited["main_pid"], restarts=waited["restarts"]
        )
        self.mark("ready")
        if self.p["journal"] and not waited["failure"]:
            invocation = waited["props"].get("InvocationID", "")
            journal = journal_check(self.run, self.unit, invocation, self.p["journal_pattern"])[0]
            result["checks"].append(journal)
            result["ready"] = bool(result["ready"] and journal["ok"])
        return waited["props"]

    def explain_not_ready(self, result: Dict[str, Any], props: Dict[str, str]) -> None:
        """The failed check, the last log lines and one message naming them; the task fails."""
        failed = [c for c in result["checks"] if not c["ok"]]
        names = [c["name"] for c in failed]
        if "unit_active" in names:  # the same story told twice
            failed = [c for c in failed if c["name"] != "unit_stable"]
        result["failed_check"] = failed[0]["name"] if failed else "unit_active"
        result["journal"] = journal_tail(self.run, self.unit)
        result["msg"] = "release %s on channel %s is not ready: %s; last log lines: %s" % (
            result["release"],
            self.p["channel"],
            "; ".join(c["message"] for c in failed) or describe_state(props),
            " | ".join(result["journal"][-5:]) or "none",
        )
        result["failed"] = True

    def stopped(self) -> Dict[str, Any]:
        previous = current_release(self.layout)
        props = unit_props(self.run, self.unit)
        result: Dict[str, Any] = {
            "unit": self.unit,
            "release": None,
            "previous_release": previous,
            "rollback_target": None,
            "switched": False,
            "restarted": False,
            "unit_changed": False,
            "secrets_changed": [],
            "ready": None,
            "checks": [],
            "main_pid": 0,
            "restarts": 0,
            "running_release": None,
        }
        if props.get("ActiveState") not in ("inactive", "failed", None) or props.get("UnitFileState") == "enabled":
            self.changed = True
            if not self.check_mode:
                self.run(["systemctl", "disable", "--now", "--quiet", self.unit])
                self.run(["systemctl", "reset-failed", self.unit])
        if self.p["remove_current"] and os.path.islink(self.layout.current):
            self.changed = True
            result["switched"] = True
            if not self.check_mode:
                remove_current(self.layout)
        return result


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            **CHANNEL_LAYOUT_ARGUMENT_SPEC,
            state=dict(type="str", choices=["started", "stopped"], default="started"),
            release=dict(type="str"),
            allow_bad=dict(type="bool", default=False),
            remove_current=dict(type="bool", default=False),
            **UNIT_ARGUMENT_SPEC,
            unit_content=dict(type="str"),
            unit_dir=dict(type="path", default="/etc/systemd/system"),
            user=dict(type="str", default="cytube-bot"),
            secrets=dict(type="dict", default={}, no_log=True),
            secrets_root=dict(type="path", default=DEFAULT_SECRETS_ROOT),
            health_url=dict(type="str"),
            expect_version=dict(type="str"),
            ready_timeout=dict(type="float", default=30.0),
            settle=dict(type="float", default=2.0),
            wait=dict(type="bool", default=True),
            restart=dict(type="str", choices=["auto", "always", "never"], default="auto"),
            enable=dict(type="bool", default=True),
            assume_built=dict(type="bool", default=False),
            **JOURNAL_ARGUMENT_SPEC,
        ),
        required_if=[("state", "started", ("release",))],
        supports_check_mode=True,
    )
    try:
        instance = Instance(module)
        result = instance.started() if module.params["state"] == "started" else instance.stopped()
    except ShipitError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg="cannot manage channel %s: %s" % (module.params["channel"], exc))
    result["changed"] = instance.changed
    if module._diff:
        previous = result["previous_release"]
        before = "current -> releases/%s\n" % previous if previous else "current: absent\n"
        after = "current -> releases/%s\n" % result["release"] if result.get("release") else "current: absent\n"
        if result["restarted"]:
            after += "restart %s\n" % instance.unit
        result["diff"] = {
            "before": before,
            "after": after,
            "before_header": instance.layout.current,
            "after_header": instance.layout.current,
        }
    if result.pop("failed", False):
        msg = result.pop("msg")
        module.fail_json(msg=msg, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()

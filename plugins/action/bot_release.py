# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of cytube.shipit.bot_release: release id, one probe, one upload only when needed."""

from __future__ import annotations

import hashlib
import json
import os
import socket
from typing import Any, Dict, Optional

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_identity import run_url, user_name
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_layout import (
    DEFAULT_BOT_COMMAND,
    DEFAULT_CONFIG_NAME,
    DEFAULT_ROOT,
    ChannelLayout,
    ShipitError,
    sanitize_version,
)

MODULE = "cytube.shipit.bot_release"
PASS_THROUGH = (
    "channel",
    "root",
    "config",
    "config_name",
    "command",
    "check_args",
    "python",
    "compile",
    "build_timeout",
    "installer",
    "uv_path",
)


def release_id_for(artifact: Dict[str, Any], config: str, command: Any, config_name: str) -> str:
    digest = hashlib.sha256()
    for part in (artifact["content_hash"], config, json.dumps([command, config_name], sort_keys=True)):
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    return "%s-%s" % (sanitize_version(str(artifact.get("version") or "0")), digest.hexdigest()[:10])


#: how ansible-core says that a module printed no result (it died before it could)
NO_RESULT_MESSAGES = ("Module result deserialization failed", "MODULE FAILURE")


def killed_build_message(result: Dict[str, Any], release_id: str, host: str) -> Optional[str]:
    """What to say when the build's module gave no result at all: its Python was killed on the host.

    Ansible reports that as "Module result deserialization failed" (no JSON on stdout); what the
    operator needs is what happened and that nothing live changed (the release is built beside the
    live one, and the next build removes a release directory that has no RELEASE.json).
    """
    unparsed = result.get("_ansible_parsed") is False or str(result.get("msg", "")).startswith(NO_RESULT_MESSAGES)
    if not result.get("failed") or not unparsed:
        return None
    rc = result.get("rc")
    how = "exit %s" % rc
    if isinstance(rc, int) and (rc < 0 or rc > 128):
        how += ", signal %d" % (-rc if rc < 0 else rc - 128)
    return (
        "the build of release %s on %s was killed before it finished (%s: signal/OOM?); nothing live changed; "
        "re-running cleans up the half-built release" % (release_id, host, how)
    )


def release_path(args: Dict[str, Any], release_id: str) -> str:
    """Where the module puts ``release_id`` on the host (RV(path) of the module)."""
    try:
        return ChannelLayout(args.get("root") or DEFAULT_ROOT, str(args.get("channel", ""))).release_dir(release_id)
    except ShipitError as exc:
        raise AnsibleActionFail(str(exc)) from None


class ActionModule(ActionBase):
    # No early remote tmp dir: the probe needs none, and the upload makes its own only when needed.
    TRANSFERS_FILES = False

    def run(self, tmp: Any = None, task_vars: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        artifact = args.get("artifact")
        if not isinstance(artifact, dict) or not artifact.get("archive") or not artifact.get("content_hash"):
            raise AnsibleActionFail(
                "artifact must be the registered result of cytube.shipit.bot_artifact "
                "(with archive, version and content_hash)"
            )
        if not os.path.isfile(artifact["archive"]):
            raise AnsibleActionFail("the wheelhouse archive %s is missing on the controller" % artifact["archive"])
        config = args.get("config")
        if not isinstance(config, str):
            raise AnsibleActionFail("config must be the rendered config file content (a string)")
        command = args.get("command") or list(DEFAULT_BOT_COMMAND)
        config_name = args.get("config_name") or DEFAULT_CONFIG_NAME
        release_id = args.get("release_id") or release_id_for(artifact, config, command, config_name)

        manifest = {
            "version": artifact.get("version"),
            "project": artifact.get("project"),
            "source": artifact.get("source"),
            "source_kind": artifact.get("source_kind"),
            "artifact_sha256": artifact.get("archive_sha256"),
            "content_hash": artifact.get("content_hash"),
            "wheels": [{k: w.get(k) for k in ("name", "version", "sha256")} for w in artifact.get("wheels") or []],
            "git_sha": artifact.get("git_sha") or os.environ.get("GITHUB_SHA"),
            "actor": user_name(),
            "run_url": run_url(),
            "controller": socket.gethostname(),
            "config_sha256": hashlib.sha256(config.encode("utf-8")).hexdigest(),
        }
        manifest.update(args.get("manifest") or {})
        module_args: Dict[str, Any] = {k: args[k] for k in PASS_THROUGH if k in args}
        module_args.update(
            release_id=release_id,
            manifest=manifest,
            requirement=artifact.get("requirement"),
            pip_wheel=artifact.get("pip_wheel"),
            command=command,
            config_name=config_name,
        )

        known = args.get("known_releases")
        if isinstance(known, list) and release_id in known:
            # The host listed its complete releases under the channel lock: nothing to ask it.
            result.update(
                changed=False,
                release_id=release_id,
                exists=True,
                built=False,
                uploaded=False,
                version=artifact.get("version"),
                artifact_sha256=artifact.get("archive_sha256"),
                path=release_path(args, release_id),
            )
            return result
        if isinstance(known, list) and not self._task.check_mode:
            probe = {"needs_archive": True}
        else:
            probe = self._execute_module(MODULE, module_args=module_args, task_vars=task_vars)
        if probe.get("failed") or not probe.get("needs_archive") or self._task.check_mode:
            probe.setdefault("uploaded", False)
            probe["artifact_sha256"] = artifact.get("archive_sha256")
            result.update(probe)
            return result

        tmpdir = self._make_tmp_path()
        try:
            remote = self._connection._shell.join_path(tmpdir, "wheelhouse-%s.tar" % release_id)
            self._transfer_file(artifact["archive"], remote)
            self._fixup_perms2((tmpdir, remote))
            module_args["archive"] = remote
            built = self._execute_module(MODULE, module_args=module_args, task_vars=task_vars)
        finally:
            self._remove_tmp_path(tmpdir)
        killed = killed_build_message(built, release_id, str(task_vars.get("inventory_hostname", "the host")))
        if killed:
            built["msg"] = killed
        built["uploaded"] = True
        built["artifact_sha256"] = artifact.get("archive_sha256")
        result.update(built)
        return result

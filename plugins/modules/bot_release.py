#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build one release of a channel's bot beside the live one."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: bot_release
short_description: Build a bot release (virtualenv, rendered config, manifest) from a wheelhouse archive
version_added: "0.1.0"
description:
  - Builds C(<root>/<channel>/releases/<release_id>/) on a bot host from a wheelhouse archive made on the
    controller by M(cytube.shipit.bot_artifact), without touching the live release.
  - The action plugin of the same name runs on the controller, computes the release id from the bot's version,
    the wheelhouse content and the rendered config (the same inputs give the same id), asks the host whether
    that release already exists, and uploads the archive (one file) only when it does not.
  - "On the host: a virtualenv made with C(python3 -m venv --without-pip), the bot installed with the pip wheel
    shipped in the archive (C(pip install --no-index --find-links)), byte-code compiled in parallel, the config
    written, a C(run) launcher, an optional config check, and C(RELEASE.json) written last: a release is
    complete only once that file exists. A failed build removes its directory and leaves everything else as it was."
  - Idempotent - an existing complete release is left alone (changed=false, nothing uploaded), unless a file of its
    virtualenv no longer matches the sha256 pip recorded for it (RV(drifted)) - then it is built again.
  - Check mode reports whether the release would be built; with C(--diff) the release directory is shown.
author:
  - cytube.shipit maintainers (@cytube)
extends_documentation_fragment:
  - cytube.shipit.channel_layout
  - cytube.shipit.attributes.diff
  - cytube.shipit.attributes.action
options:
  artifact:
    description:
      - The result of M(cytube.shipit.bot_artifact) (controller side) - archive path, version, requirement,
        content hash, checksums. Used by the action plugin only.
    type: dict
  config:
    description: Content of the bot's config file (rendered from inventory; never a secret).
    type: str
    required: true
  config_name:
    description: File name of the config inside the release.
    type: str
    default: config.toml
  command:
    description:
      - The bot's command line. The first element is a program in the release's C(venv/bin) unless absolute.
        C({release}) and C({config}) in any element are replaced by the release directory and config path.
    type: list
    elements: str
    default: [cytube-refbot, --config, "{config}"]
  check_args:
    description:
      - Arguments appended to O(command) to validate the rendered config at build time (the bot's
        C(--check-config)); the build fails when that command fails. Empty to skip.
    type: list
    elements: str
    default: []
  manifest:
    description: Extra fields for C(RELEASE.json) (actor, run URL, git sha, ...).
    type: dict
    default: {}
  known_releases:
    description:
      - The channel's complete releases on the host, as returned by M(cytube.shipit.channel_lock) under the lock.
        When given, the action plugin does not ask the host whether the release exists.
    type: list
    elements: str
  release_id:
    description: Release id. Computed by the action plugin when omitted.
    type: str
  archive:
    description: Path of the uploaded archive on the host. Set by the action plugin.
    type: path
  requirement:
    description: What pip installs from the wheelhouse (C(name==version)). Set by the action plugin from O(artifact).
    type: str
  pip_wheel:
    description: File name of the pip wheel inside the archive. Set by the action plugin from O(artifact).
    type: str
  python:
    description: The hosts' Python used to create the virtualenv.
    type: path
    default: /usr/bin/python3
  compile:
    description: Byte-compile the virtualenv (the hardened unit cannot write C(__pycache__) at run time).
    type: bool
    default: true
  build_timeout:
    description: Seconds allowed for each build command (venv, pip, compile, config check).
    type: int
    default: 600
  installer:
    description:
      - What installs the wheelhouse into the release's virtualenv. C(pip) - the pip wheel shipped in the
        archive (needs nothing on the host). C(uv) - U(https://docs.astral.sh/uv/) already installed on the
        host (O(uv_path)); it installs the same wheels from the same wheelhouse, offline, in about 0.2 s
        instead of pip's 2-3 s (measured on a sandbox host); the build fails, naming the path, when uv is
        missing. C(auto) - uv when the host has it, else pip.
      - Either way pip's C(RECORD) files are written, so the integrity check of releases works the same;
        C(RELEASE.json) names the installer.
    type: str
    choices: [pip, uv, auto]
    default: pip
  uv_path:
    description: The uv program on the host for O(installer=uv) or O(installer=auto).
    type: path
    default: /usr/local/bin/uv
notes:
  - Run it under the channel lock (M(cytube.shipit.channel_lock)).
seealso:
  - module: cytube.shipit.bot_artifact
  - module: cytube.shipit.bot_instance
"""

EXAMPLES = r"""
- name: Resolve the bot source into a wheelhouse (controller, once)
  cytube.shipit.bot_artifact:
    source: dist/cytube_refbot-2.0.0-py3-none-any.whl
  delegate_to: localhost
  run_once: true
  register: artifact

- name: Build the release beside the live one
  cytube.shipit.bot_release:
    channel: mychannel
    artifact: "{{ artifact }}"
    config: "{{ lookup('ansible.builtin.template', 'config.toml.j2') }}"
    check_args: [--check-config]
  register: release
"""

RETURN = r"""
release_id:
  description: Id of the release (version, then a hash of the wheelhouse content and the config).
  returned: always
  type: str
  sample: 2.0.0-3f9a1c0d2e
path:
  description: The release directory.
  returned: always
  type: str
exists:
  description: Whether the release was already complete before this task.
  returned: always
  type: bool
built:
  description: Whether this task built the release.
  returned: always
  type: bool
version:
  description: Bot version installed in the release.
  returned: always
  type: str
build_ms:
  description: Time spent building on the host, in milliseconds.
  returned: when built
  type: int
installer:
  description: What installed the wheels, C(pip) or C(uv) (see O(installer)).
  returned: when built
  type: str
uploaded:
  description: Whether the archive was uploaded (action plugin).
  returned: always
  type: bool
needs_archive:
  description:
    - The release does not exist (or drifted) and no archive was given (the action plugin then uploads it).
  returned: when the release does not exist and no archive was given
  type: bool
drifted:
  description:
    - The files of an existing release's virtualenv that no longer match the sha256 pip recorded at install
      (edited, removed), each as the path followed by C(modified) or C(missing). Such a release is built again
      (the old directory is put back if that build fails).
  returned: when an existing release drifted
  type: list
  elements: str
"""

import os
import shlex
import subprocess
import tarfile
import time
from typing import Any, Dict, List, Optional

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_files import (
    atomic_write,
    dump_json,
    makedirs,
    read_json,
    remove_tree,
)
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_integrity import drifted_files
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_layout import (
    CHANNEL_LAYOUT_ARGUMENT_SPEC,
    DEFAULT_BOT_COMMAND,
    DEFAULT_CONFIG_NAME,
    MANIFEST_NAME,
    ChannelLayout,
    ShipitError,
    check_release_id,
)
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_release_dirs import (
    current_release,
    release_complete,
)


def _safe_extract(archive: str, dest: str) -> List[str]:
    names = []
    with tarfile.open(archive, "r:*") as tar:
        for member in tar.getmembers():
            name = member.name
            if not member.isfile() or "/" in name or name.startswith(".") or name in ("", ".."):
                raise ShipitError("archive %s holds an unexpected entry %r" % (archive, name))
            source = tar.extractfile(member)
            if source is None:
                raise ShipitError("archive %s: cannot read %r" % (archive, name))
            with open(os.path.join(dest, name), "wb") as handle:
                while True:
                    block = source.read(1 << 20)
                    if not block:
                        break
                    handle.write(block)
            names.append(name)
    return names


def built_result(result: Dict[str, Any], manifest: Dict[str, Any]) -> Dict[str, Any]:
    """The module's result once ``manifest`` (RELEASE.json) has been written."""
    result.update(
        changed=True,
        built=True,
        build_ms=manifest["build_ms"],
        installer=manifest["installer"],
        version=manifest.get("version"),
    )
    return result


class Builder:
    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.p = module.params
        self.layout = ChannelLayout(self.p["root"], self.p["channel"])

    def run(self, argv: List[str], what: str, cwd: Optional[str] = None) -> None:
        try:
            proc = subprocess.run(
                argv,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                timeout=self.p["build_timeout"],
                check=False,
                env=dict(
                    os.environ,
                    PIP_NO_INPUT="1",
                    PIP_DISABLE_PIP_VERSION_CHECK="1",
                    PYTHONDONTWRITEBYTECODE="1",
                    LC_ALL="C.UTF-8",
                ),
            )
        except subprocess.TimeoutExpired:
            raise ShipitError("%s timed out after %ds" % (what, self.p["build_timeout"])) from None
        except OSError as exc:
            raise ShipitError("%s could not run %s: %s" % (what, argv[0], exc)) from None
        if proc.returncode != 0:
            tail = "\n".join(proc.stdout.decode("utf-8", "replace").strip().splitlines()[-15:])
            raise ShipitError("%s failed (exit %d):\n%s" % (what, proc.returncode, tail))

    def installer(self) -> Optional[str]:
        """The uv program to install with, or None for pip (installer auto: uv only when it is there)."""
        choice, uv = self.p["installer"], self.p["uv_path"]
        if choice == "pip":
            return None
        if os.path.isfile(uv) and os.access(uv, os.X_OK):
            return uv
        if choice == "auto":
            return None
        raise ShipitError(
            "installer uv: %s is not an executable file on the host; install uv there "
            "(https://docs.astral.sh/uv/), set uv_path to where it is, or use installer pip" % uv
        )

    def install(self, venv: str, wheelhouse: str, pip_wheel: str) -> str:
        """Install the requirement from ``wheelhouse`` into ``venv``, offline; what installed it."""
        requirement = self.p["requirement"]
        py = os.path.join(venv, "bin", "python")
        uv = self.installer()
        if uv:
            self.run(
                [
                    uv,
                    "pip",
                    "install",
                    "--python",
                    py,
                    "--no-index",
                    "--find-links",
                    wheelhouse,
                    "--no-config",
                    "--no-cache",
                    "--link-mode",
                    "copy",
                    "--no-compile",
                    "--quiet",
                    requirement,
                ],
                "uv pip install of %s" % requirement,
            )
            return "uv"
        self.run(
            [
                py,
                os.path.join(wheelhouse, pip_wheel, "pip"),
                "install",
                "--no-index",
                "--find-links",
                wheelhouse,
                "--no-compile",
                "--no-cache-dir",
                "--disable-pip-version-check",
                "--no-input",
                "--quiet",
                "--no-warn-script-location",
                requirement,
            ],
            "pip install of %s" % requirement,
        )
        return "pip"

    def command(self, release_dir: str) -> List[str]:
        config = os.path.join(release_dir, self.p["config_name"])
        argv = [a.replace("{release}", release_dir).replace("{config}", config) for a in self.p["command"]]
        if not argv:
            raise ShipitError("command is empty: give the bot's program and arguments")
        if not os.path.isabs(argv[0]):
            argv[0] = os.path.join(release_dir, "venv", "bin", argv[0])
        return argv

    def build(self, release_id: str, release_dir: str) -> Dict[str, Any]:
        started = time.monotonic()
        archive = self.p["archive"]
        if not os.path.isfile(archive):
            raise ShipitError("archive %s is not on the host" % archive)
        remove_tree(release_dir)  # a directory without RELEASE.json: a killed build
        os.makedirs(release_dir, 0o755)
        wheelhouse = os.path.join(release_dir, ".wheelhouse")
        os.makedirs(wheelhouse, 0o700)
        names = _safe_extract(archive, wheelhouse)
        pip_wheel = self.p["pip_wheel"] or next((n for n in names if n.startswith("pip-") and n.endswith(".whl")), None)
        if not pip_wheel or pip_wheel not in names:
            raise ShipitError("archive %s has no pip wheel" % archive)
        venv = os.path.join(release_dir, "venv")
        self.run([self.p["python"], "-m", "venv", "--without-pip", venv], "creating the virtualenv")
        py = os.path.join(venv, "bin", "python")
        installer = self.install(venv, wheelhouse, pip_wheel)
        if self.p["compile"]:
            self.run([py, "-m", "compileall", "-q", "-j", "0", os.path.join(venv, "lib")], "byte-compiling")
        config_path = os.path.join(release_dir, self.p["config_name"])
        atomic_write(config_path, self.p["config"].encode("utf-8"), 0o644)
        argv = self.command(release_dir)
        if not os.path.exists(argv[0]):
            raise ShipitError("the bot's program %s is not in the release (command %s)" % (argv[0], self.p["command"]))
        launcher = "#!/bin/sh\n# Generated by cytube.shipit for release %s of channel %s.\nexec %s\n" % (
            release_id,
            self.p["channel"],
            " ".join(shlex.quote(a) for a in argv),
        )
        atomic_write(os.path.join(release_dir, "run"), launcher.encode("utf-8"), 0o755)
        if self.p["check_args"]:
            self.run(
                argv + list(self.p["check_args"]),
                "the config check (%s)" % " ".join(self.p["check_args"]),
                cwd=release_dir,
            )
        remove_tree(wheelhouse)
        manifest = dict(self.p["manifest"] or {})
        manifest.update(
            {
                "release_id": release_id,
                "channel": self.p["channel"],
                "requirement": self.p["requirement"],
                "command": argv,
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "built_at_epoch": time.time(),
                "host": os.uname()[1],
                "build_ms": int((time.monotonic() - started) * 1000),
                "installer": installer,
            }
        )
        atomic_write(os.path.join(release_dir, MANIFEST_NAME), dump_json(manifest), 0o644)
        return manifest

    def main(self) -> Dict[str, Any]:
        release_id = check_release_id(self.p["release_id"] or "")
        lay = self.layout
        release_dir = lay.release_dir(release_id)
        result: Dict[str, Any] = {
            "changed": False,
            "release_id": release_id,
            "path": release_dir,
            "exists": False,
            "built": False,
            "uploaded": False,
            "version": (self.p["manifest"] or {}).get("version"),
        }
        if release_complete(lay, release_id):
            drifted = drifted_files(release_dir)
            if not drifted:
                manifest = read_json(lay.manifest_path(release_id)) or {}
                result.update(exists=True, version=manifest.get("version", result["version"]))
                return result
            # Edited on the host since its build: not the release that was verified, so it is built again.
            result["drifted"] = drifted
            if self.module.check_mode or not self.p["archive"]:
                result.update(changed=self.module.check_mode, needs_archive=not self.p["archive"])
                return result
            return self.rebuild(release_id, release_dir, result)
        if current_release(lay) == release_id:
            raise ShipitError(
                "release %s is live but incomplete (no %s); deploy another release or remove it"
                % (release_id, MANIFEST_NAME)
            )
        if self.module.check_mode:
            result.update(changed=True, needs_archive=not self.p["archive"])
            return result
        if not self.p["archive"]:
            result.update(needs_archive=True)
            return result
        for path in (lay.root, lay.base, lay.releases):
            makedirs(path, 0o755)
        if not self.p["requirement"]:
            raise ShipitError("requirement is required to build a release")
        try:
            manifest = self.build(release_id, release_dir)
        except BaseException:
            remove_tree(release_dir)
            raise
        return built_result(result, manifest)

    def rebuild(self, release_id: str, release_dir: str, result: Dict[str, Any]) -> Dict[str, Any]:
        """Build a drifted release again; the old directory is kept aside (and put back if the build fails),
        so a live release is never left missing."""
        aside = os.path.join(self.layout.releases, ".drifted-%s" % release_id)
        remove_tree(aside)
        os.rename(release_dir, aside)
        try:
            manifest = self.build(release_id, release_dir)
        except BaseException:
            remove_tree(release_dir)
            os.rename(aside, release_dir)
            raise
        remove_tree(aside)
        return built_result(result, manifest)


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            **CHANNEL_LAYOUT_ARGUMENT_SPEC,
            artifact=dict(type="dict"),
            known_releases=dict(type="list", elements="str"),
            config=dict(type="str", required=True),
            config_name=dict(type="str", default=DEFAULT_CONFIG_NAME),
            command=dict(type="list", elements="str", default=list(DEFAULT_BOT_COMMAND)),
            check_args=dict(type="list", elements="str", default=[]),
            manifest=dict(type="dict", default={}),
            release_id=dict(type="str"),
            archive=dict(type="path"),
            requirement=dict(type="str"),
            pip_wheel=dict(type="str"),
            python=dict(type="path", default="/usr/bin/python3"),
            compile=dict(type="bool", default=True),
            build_timeout=dict(type="int", default=600),
            installer=dict(type="str", choices=["pip", "uv", "auto"], default="pip"),
            uv_path=dict(type="path", default="/usr/local/bin/uv"),
        ),
        supports_check_mode=True,
    )
    if "/" in module.params["config_name"] or module.params["config_name"] in ("", ".", ".."):
        module.fail_json(msg="config_name %r must be a plain file name" % module.params["config_name"])
    try:
        result = Builder(module).main()
    except ShipitError as exc:
        module.fail_json(
            msg="build of release %s for channel %s failed; the live release is untouched: %s"
            % (module.params["release_id"], module.params["channel"], exc)
        )
    except OSError as exc:
        module.fail_json(
            msg="build of release %s for channel %s failed; the live release is untouched: %s"
            % (module.params["release_id"], module.params["channel"], exc)
        )
    if module._diff and result["changed"]:
        result["diff"] = {
            "before": "",
            "after": "release %s (version %s) built in %s\n"
            % (result["release_id"], result.get("version"), result["path"]),
            "after_header": result["path"],
        }
    module.exit_json(**result)


if __name__ == "__main__":
    main()

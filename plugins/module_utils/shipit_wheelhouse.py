# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Resolve a bot source into a wheelhouse archive, once, on the controller.

A *source* is one of:

* a wheel file (``dist/cytube_refbot-2.0.0-py3-none-any.whl``),
* a pinned pip requirement (``cytube-refbot==2.0.0``; an unpinned one is allowed
  but resolved again on every run),
* a VCS URL (``git+https://host/org/bot.git@<commit>``, optionally as
  ``name @ git+...``); pinned to a 40-hex commit it is cached like the others.

The result is a directory of wheels for the hosts' Python (the bot, all its
dependencies and a pip wheel to install them with), packed as one uncompressed
tar archive, with a manifest of checksums.  Archives are cached under a key of
the source spec (for a wheel file: of its checksum) and the target, so a second
deploy of the same source costs a hash and a stat.

The *content hash* identifies what a release installs independently of zip
timestamps: for every wheel, the SHA-256 of its ``RECORD`` (which lists every
installed file with its own hash).  Rebuilding the same source therefore gives
the same content hash, and the same release id.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from typing import Any, Dict, Optional, Sequence, Tuple

from ansible_collections.cytube.shipit.plugins.module_utils.shipit_outcome import redact_url

CACHE_FORMAT = 1
ARCHIVE_NAME = "wheelhouse.tar"
MANIFEST_NAME = "manifest.json"
HEX40 = re.compile(r"^[0-9a-f]{40}$")
WHEEL_RE = re.compile(r"^(?P<name>[A-Za-z0-9_.]+)-(?P<version>[A-Za-z0-9_.!+]+)(-\d[^-]*)?-[^-]+-[^-]+-[^-]+\.whl$")
VCS_PREFIXES = ("git+", "hg+", "svn+", "bzr+")
REQ_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)$")

DEFAULT_PLATFORMS = (
    "manylinux_2_36_x86_64",
    "manylinux_2_35_x86_64",
    "manylinux_2_34_x86_64",
    "manylinux_2_31_x86_64",
    "manylinux_2_28_x86_64",
    "manylinux_2_27_x86_64",
    "manylinux_2_24_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux2014_x86_64",
    "manylinux2010_x86_64",
    "manylinux1_x86_64",
    "linux_x86_64",
)
HOW_TO = (
    "a wheel file (path/to/bot-1.2.3-py3-none-any.whl), a pinned pip requirement (name==1.2.3) "
    "or a VCS URL (git+https://host/org/bot.git@<40-hex commit>)"
)


class WheelhouseError(Exception):
    """The source cannot be resolved; the message names the value and the fix."""


#: What pip says about a checkout or directory that has no packaging metadata.
NOT_A_PROJECT = "does not appear to be a Python project"
NO_PACKAGING = (
    "bot source %r (%s) has no packaging metadata, so it cannot be built into a wheel: add a pyproject.toml with "
    "a [build-system] table, a [project] table (name, version, dependencies) and [project.scripts] naming the "
    "command that starts the bot (or a setup.py / setup.cfg with the same), commit it and deploy that commit "
    "(docs/bots.md, 'What a bot must provide')"
)


def normalize_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def parse_wheel_filename(filename: str) -> Tuple[str, str]:
    match = WHEEL_RE.match(os.path.basename(filename))
    if not match:
        raise WheelhouseError("%s is not a wheel file name (name-version-...-tag.whl)" % filename)
    return normalize_name(match.group("name")), match.group("version")


def record_digest(path: str) -> str:
    """SHA-256 of the wheel's RECORD: the same for two builds of the same content."""
    with zipfile.ZipFile(path) as archive:
        records = [n for n in archive.namelist() if n.endswith(".dist-info/RECORD") and n.count("/") == 1]
        if len(records) != 1:
            raise WheelhouseError("%s has no (or several) .dist-info/RECORD files" % path)
        return hashlib.sha256(archive.read(records[0])).hexdigest()


def classify(source: str, base_dir: Optional[str] = None) -> Dict[str, Any]:
    """What kind of source this is, and whether it can be cached by its spec."""
    spec = (source or "").strip()
    if not spec:
        raise WheelhouseError("the bot source is empty: set it to %s" % HOW_TO)
    url = spec.split(" @ ", 1)[1].strip() if " @ " in spec else spec
    if url.startswith(VCS_PREFIXES):
        ref = url.split("#", 1)[0].rsplit("@", 1)
        commit = ref[1] if len(ref) == 2 and "/" not in ref[1] else None
        pinned = bool(commit and HEX40.match(commit))
        return {"kind": "vcs", "spec": spec, "pinned": pinned, "git_sha": commit if pinned else None}
    if spec.endswith(".whl"):
        path = spec if os.path.isabs(spec) or not base_dir else os.path.join(base_dir, spec)
        path = os.path.abspath(os.path.expanduser(path))
        if not os.path.isfile(path):
            raise WheelhouseError(
                "bot source %r: wheel file %s does not exist; build it first or set the source "
                "to %s" % (source, path, HOW_TO)
            )
        parse_wheel_filename(path)
        return {"kind": "wheel", "spec": path, "pinned": True, "git_sha": None}
    if os.path.isdir(os.path.expanduser(spec)) or spec.startswith(("./", "../", "/")):
        path = os.path.abspath(os.path.expanduser(spec))
        if not os.path.isdir(path):
            raise WheelhouseError(
                "bot source %r: %s is neither a wheel file nor a directory; use %s" % (source, path, HOW_TO)
            )
        return {"kind": "directory", "spec": path, "pinned": False, "git_sha": None}
    match = REQ_NAME.match(spec)
    if not match or any(c in spec for c in ";\n\r"):
        raise WheelhouseError("bot source %r is not understood: use %s" % (source, HOW_TO))
    rest = match.group(3).strip()
    pinned = bool(re.match(r"^===?\s*[A-Za-z0-9_.!+-]+$", rest)) and "*" not in rest
    return {
        "kind": "requirement",
        "spec": spec,
        "pinned": pinned,
        "git_sha": None,
        "name": normalize_name(match.group(1)),
    }


def cache_key(
    info: Dict[str, Any], python_version: str, platforms: Sequence[str], pip_spec: str, pip_args: Sequence[str]
) -> str:
    material = {
        "format": CACHE_FORMAT,
        "kind": info["kind"],
        "python": python_version,
        "platforms": list(platforms),
        "pip": pip_spec,
        "pip_args": list(pip_args),
        "spec": sha256_file(info["spec"]) if info["kind"] == "wheel" else info["spec"],
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:32]


def _pip(argv: Sequence[str], env: Optional[Dict[str, str]] = None, timeout: float = 900) -> Tuple[int, str]:
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", *list(argv)]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, timeout=timeout, check=False)
    return proc.returncode, proc.stdout.decode("utf-8", "replace")


def _tail(text: str, lines: int = 12) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def describe_wheel(path: str) -> Dict[str, Any]:
    """One wheel of a wheelhouse: file, name, version, file digest and content (RECORD) digest."""
    name, version = parse_wheel_filename(path)
    return {
        "file": os.path.basename(path),
        "name": name,
        "version": version,
        "sha256": sha256_file(path),
        "record_sha256": record_digest(path),
    }


def content_hash(wheels: Sequence[Dict[str, Any]]) -> str:
    """What a release installs, as one hash: every wheel's name, version and RECORD digest.

    Zip timestamps and the order of ``wheels`` do not count, so rebuilding the same source gives the same
    hash (and the same release id). The pip wheel does not count either: it only installs the
    others and is not part of the release.
    """
    content = hashlib.sha256()
    for wheel in sorted(wheels, key=lambda w: w["file"]):
        if wheel["name"] != "pip":
            content.update(("%s %s %s\n" % (wheel["name"], wheel["version"], wheel["record_sha256"])).encode())
    return content.hexdigest()


def build_wheelhouse(
    info: Dict[str, Any],
    workdir: str,
    python_version: str,
    platforms: Sequence[str],
    pip_spec: str,
    pip_args: Sequence[str],
) -> Dict[str, Any]:
    """Fill ``workdir/wheels`` and return the manifest (no archive yet)."""
    top_dir = os.path.join(workdir, "top")
    wheels_dir = os.path.join(workdir, "wheels")
    os.makedirs(top_dir)
    os.makedirs(wheels_dir)
    if info["kind"] == "wheel":
        shutil.copy2(info["spec"], top_dir)
    else:
        rc, out = _pip(["wheel", "--no-deps", "--wheel-dir", top_dir, *list(pip_args), info["spec"]])
        if rc != 0 and NOT_A_PROJECT in out:
            raise WheelhouseError(NO_PACKAGING % (info["spec"], info["kind"]))
        if rc != 0:
            raise WheelhouseError(
                "pip could not build or fetch the bot source %r:\n%s"
                % (redact_url(info["spec"]), redact_url(_tail(out)))
            )
    tops = [n for n in os.listdir(top_dir) if n.endswith(".whl")]
    if len(tops) != 1:
        raise WheelhouseError("bot source %r gave %d wheels, expected one: %s" % (info["spec"], len(tops), tops))
    top = os.path.join(top_dir, tops[0])
    project, version = parse_wheel_filename(top)
    if info["kind"] == "requirement" and info.get("name") and info["name"] != project:
        raise WheelhouseError("bot source %r resolved to project %s" % (info["spec"], project))
    shutil.copy2(top, wheels_dir)
    target = [
        "--only-binary=:all:",
        "--python-version",
        python_version,
        "--implementation",
        "cp",
        "--abi",
        "cp" + python_version.replace(".", ""),
    ]
    for platform in platforms:
        target += ["--platform", platform]
    rc, out = _pip(["download", "--dest", wheels_dir, *target, *list(pip_args), top, pip_spec])
    if rc != 0:
        here = "%d.%d" % sys.version_info[:2]
        if here != python_version or not sys.platform.startswith("linux"):
            raise WheelhouseError(
                "pip could not download wheels of the dependencies of %s %s for Python %s:\n%s"
                % (project, version, python_version, _tail(out))
            )
        # Some dependency has no binary wheel: build it here (same Python as the hosts).
        rc, out = _pip(["wheel", "--wheel-dir", wheels_dir, *list(pip_args), top, pip_spec])
        if rc != 0:
            raise WheelhouseError("pip could not build wheels for %s %s:\n%s" % (project, version, _tail(out)))
    wheels = []
    pip_wheel = None
    for name in sorted(os.listdir(wheels_dir)):
        path = os.path.join(wheels_dir, name)
        if not name.endswith(".whl"):
            os.unlink(path)
            continue
        wheels.append(describe_wheel(path))
        if wheels[-1]["name"] == "pip":
            pip_wheel = name
    if not pip_wheel:
        raise WheelhouseError("the wheelhouse has no pip wheel (pip spec %r)" % pip_spec)
    return {
        "format": CACHE_FORMAT,
        "project": project,
        "version": version,
        "requirement": "%s==%s" % (project, version),
        "wheels": wheels,
        "pip_wheel": pip_wheel,
        "content_hash": content_hash(wheels),
        # A VCS URL may carry a token (git+https://user:token@host/...): the manifest travels to every host.
        "source": redact_url(info["spec"]),
        "source_kind": info["kind"],
        "git_sha": info.get("git_sha"),
        "python_version": python_version,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def pack(wheels_dir: str, manifest: Dict[str, Any], archive: str) -> str:
    """A deterministic tar of the wheels and the manifest; returns its SHA-256."""
    with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as tar:
        data = json.dumps(manifest, indent=2, sort_keys=True).encode()
        info = tarfile.TarInfo(MANIFEST_NAME)
        info.size, info.mode, info.mtime = len(data), 0o644, 0
        tar.addfile(info, io.BytesIO(data))
        for wheel in manifest["wheels"]:
            path = os.path.join(wheels_dir, wheel["file"])
            info = tarfile.TarInfo(wheel["file"])
            info.size, info.mode, info.mtime = os.path.getsize(path), 0o644, 0
            with open(path, "rb") as handle:
                tar.addfile(info, handle)
    return sha256_file(archive)


def resolve(
    source: str,
    cache_dir: str,
    python_version: str = "3.11",
    platforms: Sequence[str] = DEFAULT_PLATFORMS,
    pip_spec: str = "pip",
    pip_args: Sequence[str] = (),
    base_dir: Optional[str] = None,
    refresh: bool = False,
) -> Dict[str, Any]:
    """The cached (or freshly built) wheelhouse archive for ``source``."""
    info = classify(source, base_dir)
    key = cache_key(info, python_version, platforms, pip_spec, pip_args)
    entry = os.path.join(cache_dir, key)
    archive = os.path.join(entry, ARCHIVE_NAME)
    manifest_path = os.path.join(entry, MANIFEST_NAME)
    cacheable = info["pinned"]
    if cacheable and not refresh and os.path.isfile(archive) and os.path.isfile(manifest_path):
        with open(manifest_path, "r", encoding="utf-8") as handle:
            result = json.load(handle)
        # The same content may come from another path (or spelling) than the one that filled the cache.
        result.update(archive=archive, cache_hit=True, cache_key=key, source=info["spec"])
        return result
    os.makedirs(cache_dir, exist_ok=True)
    work = tempfile.mkdtemp(prefix=".build-", dir=cache_dir)
    try:
        manifest = build_wheelhouse(info, work, python_version, platforms, pip_spec, pip_args)
        staging = os.path.join(work, "entry")
        os.makedirs(staging)
        manifest["archive_sha256"] = pack(os.path.join(work, "wheels"), manifest, os.path.join(staging, ARCHIVE_NAME))
        manifest["cache_key"] = key
        with open(os.path.join(staging, MANIFEST_NAME), "w", encoding="utf-8") as handle:
            json.dump(manifest, handle, indent=2, sort_keys=True)
        if not cacheable:
            # Unpinned sources are never reused, but keep this build under its content for the hosts.
            key = "unpinned-" + manifest["content_hash"][:24]
            entry = os.path.join(cache_dir, key)
            archive = os.path.join(entry, ARCHIVE_NAME)
        if os.path.isdir(entry) and (refresh or not cacheable):
            shutil.rmtree(entry, ignore_errors=True)
        try:
            os.rename(staging, entry)
        except OSError:
            # Another run cached the same key first: use theirs, it has the same content.
            pass
        with open(os.path.join(entry, MANIFEST_NAME), "r", encoding="utf-8") as handle:
            result = json.load(handle)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result.update(archive=archive, cache_hit=False, cache_key=key, source=info["spec"])
    return result

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the bot_artifact action plugin (it runs on the controller only)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: bot_artifact
short_description: Resolve a bot source into a wheelhouse archive for the bot hosts, once, on the controller
version_added: "0.1.0"
description:
  - Turns the bot source into a wheelhouse - the bot's wheel, every dependency as a wheel for the hosts' Python
    and platform, and a pip wheel to install them with - packed as one uncompressed tar archive with a
    manifest of checksums. M(cytube.shipit.bot_release) uploads that one file to each host, where it is
    installed with C(pip --no-index), so hosts need no access to a package index and every host of a channel
    runs byte-identical releases.
  - "The source is one of: a wheel file; a pip requirement (C(name==1.2.3)); a VCS URL
    (C(git+https://host/org/bot.git@<commit>), optionally C(name @ git+...))."
  - Archives are cached under O(cache_dir) by a key of the source (a wheel file by its checksum, a pinned
    requirement or a VCS URL pinned to a 40-hex commit by its text) and the target, so a warm deploy costs a
    hash and a stat. Unpinned requirements and VCS branches are resolved again on every run.
  - RV(content_hash) identifies what a release installs independently of zip timestamps (the SHA-256 of each
    wheel's RECORD), so rebuilding the same source gives the same release id.
  - This is an action plugin; it runs on the controller whatever the play's hosts are, and needs
    the controller's pip (and network access to the package index on a cache miss).
author:
  - cytube.shipit maintainers (@cytube)
extends_documentation_fragment:
  - cytube.shipit.attributes
  - cytube.shipit.attributes.action
options:
  source:
    description: The bot source (see the description). A relative wheel path is relative to O(base_dir).
    type: str
    required: true
  cache_dir:
    description: Cache of wheelhouse archives. Default C($XDG_CACHE_HOME/cytube-shipit/wheelhouse) (C(~/.cache/...)).
    type: path
  python_version:
    description: The hosts' Python version (C(major.minor)); dependency wheels are chosen for it.
    type: str
    default: "3.11"
  platforms:
    description: Platform tags acceptable on the hosts (pip C(--platform)), most specific first.
    type: list
    elements: str
    default: [manylinux_2_36_x86_64, manylinux_2_35_x86_64, manylinux_2_34_x86_64, manylinux_2_31_x86_64,
              manylinux_2_28_x86_64, manylinux_2_27_x86_64, manylinux_2_24_x86_64, manylinux_2_17_x86_64,
              manylinux2014_x86_64, manylinux2010_x86_64, manylinux1_x86_64, linux_x86_64]
  pip_spec:
    description: The pip shipped in the wheelhouse, used on the hosts to install it.
    type: str
    default: pip
  pip_args:
    description: Extra arguments for the controller's pip (e.g. C(--index-url https://mirror/simple)).
    type: list
    elements: str
    default: []
  base_dir:
    description: Directory a relative wheel path is relative to. Default - the current directory.
    type: path
  refresh:
    description: Rebuild even when the archive is cached.
    type: bool
    default: false
seealso:
  - module: cytube.shipit.bot_release
"""

EXAMPLES = r"""
- name: Resolve a wheel file
  cytube.shipit.bot_artifact:
    source: dist/cytube_refbot-2.0.0-py3-none-any.whl
  run_once: true
  register: artifact

- name: Resolve a pinned requirement from a mirror
  cytube.shipit.bot_artifact:
    source: cytube-refbot==2.0.0
    pip_args: [--index-url, "https://pypi.example.net/simple"]
  run_once: true
  register: artifact
"""

RETURN = r"""
archive:
  description: Path of the wheelhouse archive on the controller.
  returned: always
  type: str
archive_sha256:
  description: SHA-256 of the archive.
  returned: always
  type: str
content_hash:
  description: SHA-256 over the RECORD digests of the bot's wheels (ignores zip timestamps).
  returned: always
  type: str
project:
  description: Normalized project name of the bot.
  returned: always
  type: str
  sample: cytube-refbot
version:
  description: The bot's version.
  returned: always
  type: str
  sample: 2.0.0
requirement:
  description: What the hosts install (C(project==version)).
  returned: always
  type: str
wheels:
  description: Wheels in the archive, each with file, name, version, sha256 and record_sha256.
  returned: always
  type: list
  elements: dict
pip_wheel:
  description: File name of the pip wheel in the archive.
  returned: always
  type: str
source:
  description: The resolved source (a wheel path is made absolute).
  returned: always
  type: str
source_kind:
  description: C(wheel), C(requirement), C(vcs) or C(directory).
  returned: always
  type: str
git_sha:
  description: The commit of a VCS source pinned to one (null otherwise).
  returned: always
  type: str
cache_hit:
  description: Whether the archive came from the cache.
  returned: always
  type: bool
cache_key:
  description: The cache key.
  returned: always
  type: str
"""

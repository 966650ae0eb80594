# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Names and paths of one channel on a bot host: the one home of the layout rules.

Layout of one channel on a bot host (``root`` defaults to :data:`DEFAULT_ROOT`)::

    <root>/<channel>/releases/<release_id>/   venv/, config.toml, run, RELEASE.json
    <root>/<channel>/current -> releases/<release_id>   (switched atomically)
    <root>/<channel>/shared/                  state that outlives releases
    <root>/<channel>/.shipit/state.json       good/bad marks, the live-release stack (shipit_state)
    <root>/<channel>/.shipit/lock.json        the deploy lock (see shipit_lock)
    /etc/cytube-shipit/<channel>/<secret>     root 0600, passed with LoadCredential=

A release directory is complete once its ``RELEASE.json`` exists: that file is
written last, atomically, so a build killed half way leaves a directory without
it, which is never switched to and is removed by the next build or prune.
"""

from __future__ import annotations

import os
import re

#: CyTube's own rule for channel names (``src/utilities.js`` isValidChannelName).
CHANNEL_RE = re.compile(r"^[\w-]{1,30}$", re.ASCII)
CHANNEL_RULE = "1-30 characters from a-z, A-Z, 0-9, '-' and '_'"
#: CyTube's rule for user names, guest and registered (``src/user.js`` login).
USER_RE = re.compile(r"^[\w-]{1,20}$", re.ASCII)
USER_RULE = "1-20 characters from a-z, A-Z, 0-9, '-' and '_'"
#: Release ids are built from the bot's version and a content hash.
RELEASE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
RELEASE_ID_RULE = "1-128 characters from a-z, A-Z, 0-9, '.', '_' and '-', starting with a letter or digit"

DEFAULT_ROOT = "/srv/cytube-bots"
DEFAULT_SECRETS_ROOT = "/etc/cytube-shipit"
#: The bot's systemd template unit; one instance per channel (:func:`unit_instance`).
DEFAULT_UNIT_TEMPLATE = "cytube-bot@.service"
MANIFEST_NAME = "RELEASE.json"
#: The bot's config file in a release, and the command line that starts the bot
#: (``{config}``: the config file's path, ``{release}``: the release directory).
DEFAULT_CONFIG_NAME = "config.toml"
DEFAULT_BOT_COMMAND = ("cytube-refbot", "--config", "{config}")

#: The options every host-side module takes to find its channel (documented in
#: doc_fragments/channel_layout.py): the argument spec of :class:`ChannelLayout`.
CHANNEL_LAYOUT_ARGUMENT_SPEC = {
    "channel": {"type": "str", "required": True},
    "root": {"type": "path", "default": DEFAULT_ROOT},
}

#: The unit option of the modules that manage or check the instance (doc_fragments/bot_unit.py).
UNIT_ARGUMENT_SPEC = {
    "unit_name": {"type": "str", "default": DEFAULT_UNIT_TEMPLATE},
}


class ShipitError(Exception):
    """A problem a caller reports as a module failure, with a clear message."""


def valid_channel_name(channel: str) -> bool:
    return bool(CHANNEL_RE.match(channel or ""))


def channel_key(channel: str) -> str:
    """The name used on disk and as the systemd instance: CyTube lowercases channel names."""
    if not valid_channel_name(channel):
        raise ShipitError("channel %r is not a valid CyTube channel name: use %s" % (channel, CHANNEL_RULE))
    return channel.lower()


def check_release_id(release_id: str) -> str:
    if not RELEASE_ID_RE.match(release_id or "") or release_id in (".", ".."):
        raise ShipitError("release id %r is not valid: use %s" % (release_id, RELEASE_ID_RULE))
    return release_id


def sanitize_version(version: str) -> str:
    """A version string made safe for a release id (``1.0+local`` -> ``1.0_local``)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", version or "0")
    return cleaned.lstrip("._-")[:64] or "0"


def unit_instance(unit_template: str, channel: str) -> str:
    """``cytube-bot@.service`` + ``Chan`` -> ``cytube-bot@chan.service``."""
    prefix, sep, suffix = unit_template.partition("@")
    if not sep:
        raise ShipitError("unit name %r is not a template unit (name@.service)" % unit_template)
    return "%s@%s%s" % (prefix, channel_key(channel), suffix)


class ChannelLayout:
    """Paths of one channel on one host."""

    def __init__(self, root: str, channel: str, secrets_root: str = DEFAULT_SECRETS_ROOT) -> None:
        if not root or not os.path.isabs(root):
            raise ShipitError("root %r must be an absolute path" % root)
        self.channel = channel
        self.key = channel_key(channel)
        self.root = os.path.normpath(root)
        self.base = os.path.join(self.root, self.key)
        self.releases = os.path.join(self.base, "releases")
        self.current = os.path.join(self.base, "current")
        self.shared = os.path.join(self.base, "shared")
        self.state_dir = os.path.join(self.base, ".shipit")
        self.state_file = os.path.join(self.state_dir, "state.json")
        self.lock_file = os.path.join(self.state_dir, "lock.json")
        self.secrets_dir = os.path.join(os.path.normpath(secrets_root), self.key)

    def release_dir(self, release_id: str) -> str:
        return os.path.join(self.releases, check_release_id(release_id))

    def manifest_path(self, release_id: str) -> str:
        return os.path.join(self.release_dir(release_id), MANIFEST_NAME)

# Copyright: cytube.shipit maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """Options every host-side module shares: which channel, and where its releases live."""

    DOCUMENTATION = r"""
options:
  channel:
    description:
      - CyTube channel name (C(^[A-Za-z0-9_-]{1,30}$)); its lowercase form names the channel's
        directory under O(root) and the systemd instance.
    type: str
    required: true
  root:
    description: Directory holding one subdirectory per channel (C(releases/), C(current), C(shared/)).
    type: path
    default: /srv/cytube-bots
"""

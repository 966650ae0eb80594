# Copyright: cytube.shipit maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """The bot's systemd unit (module_utils/shipit_layout.UNIT_ARGUMENT_SPEC)."""

    DOCUMENTATION = r"""
options:
  unit_name:
    description:
      - Name of the bot's systemd template unit; the channel's instance is C(<prefix>@<channel><suffix>)
        (the channel lowercased), e.g. C(cytube-bot@mychannel.service).
    type: str
    default: cytube-bot@.service
"""

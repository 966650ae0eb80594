# Copyright: cytube.shipit maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """The journal check options (module_utils/shipit_service.JOURNAL_ARGUMENT_SPEC)."""

    DOCUMENTATION = r"""
options:
  journal:
    description:
      - Check the journal of the instance for error lines since the unit's current start (its invocation
        id), as the C(journal) check.
    type: bool
    default: true
  journal_pattern:
    description:
      - A regular expression; journal lines matching it count as errors (besides priority C(err) and worse).
      - The default is the one definition of what a failing bot's log line looks like
        (C(DEFAULT_ERROR_PATTERN) in C(module_utils/shipit_service.py)).
    type: str
    default: '\b(ERROR|CRITICAL|FATAL)\b|^Traceback \(most recent call last\)'
"""

# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The attributes of the collection's modules: check mode always; diff mode and an action plugin where they apply."""

from __future__ import annotations


class ModuleDocFragment(object):
    # Every module: check mode, no diff output.
    DOCUMENTATION = r"""
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
"""

    # Instead of the default: a module that shows a diff.
    DIFF = r"""
attributes:
  check_mode:
    description: Predicts its changes in check mode without changing the host.
    support: full
  diff_mode:
    description: Shows what changed (or would change in check mode) with --diff.
    support: full
"""

    # In addition: the module has an action plugin (it runs on the controller, or prepares the host call there).
    ACTION = r"""
attributes:
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options run on the controller.
    support: full
"""

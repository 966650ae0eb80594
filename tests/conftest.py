"""Make the checkout importable as ``ansible_collections.cytube.shipit``.

``.collections/ansible_collections/cytube/shipit`` is a committed symlink to the
repository root (see docs/CONTRACTS.md), so adding ``.collections`` to sys.path is
all the tests need; no install step.
"""

from __future__ import annotations

import sys
from pathlib import Path

_COLLECTIONS = Path(__file__).resolve().parents[1] / ".collections"
if str(_COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(_COLLECTIONS))

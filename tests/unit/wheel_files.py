"""Shared helper of the unit tests: minimal wheel files (a module and its RECORD)."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path


def make_wheel(
    directory: Path,
    name: str = "mybot",
    version: str = "1.2.3",
    payload: str = "x = 1\n",
    stamp: tuple = (2020, 1, 1, 0, 0, 0),
) -> Path:
    """``<name>-<version>-py3-none-any.whl`` holding ``payload``; ``stamp`` is every zip entry's time."""
    path = directory / (f"{name}-{version}-py3-none-any.whl")
    record = f"{name}/__init__.py,sha256={hashlib.sha256(payload.encode()).hexdigest()},{len(payload)}\n"
    with zipfile.ZipFile(path, "w") as zf:
        for arcname, data in ((f"{name}/__init__.py", payload), (f"{name}-{version}.dist-info/RECORD", record)):
            info = zipfile.ZipInfo(arcname, date_time=stamp)
            zf.writestr(info, data)
    return path

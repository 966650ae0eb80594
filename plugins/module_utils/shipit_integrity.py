# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Has a release drifted since it was built?

A release is never modified after its build, so a file of its virtualenv that no longer matches
what pip installed (edited by hand, truncated, removed) means the release is not the one that was
verified. pip writes a ``RECORD`` file per installed distribution (``*.dist-info/RECORD``): one CSV
row per installed file with its ``sha256`` (urlsafe base64, no padding); those rows are checked.
Files pip does not record (byte code compiled after the install, the config, the launcher) are
not: the config and launcher are part of the release id, and stale byte code is recompiled from
the source Python checks it against.
"""

from __future__ import annotations

import base64
import csv
import glob
import hashlib
import io
import os
from typing import Iterator, List, Tuple

#: The only hash pip writes into RECORD files.
HASH_NAME = "sha256"
_CHUNK = 1 << 16


def record_files(venv: str) -> List[str]:
    """The RECORD files of the distributions installed in ``venv`` (sorted)."""
    return sorted(glob.glob(os.path.join(venv, "lib", "python*", "site-packages", "*.dist-info", "RECORD")))


def recorded_hashes(record: str) -> Iterator[Tuple[str, str]]:
    """``(absolute path, expected digest)`` for each row of ``record`` that carries a sha256.

    Paths are relative to the directory holding the ``.dist-info`` (console scripts are ``../../../bin/x``).
    """
    site_packages = os.path.dirname(os.path.dirname(record))
    with open(record, "rb") as handle:
        text = handle.read().decode("utf-8", "replace")
    for row in csv.reader(io.StringIO(text)):
        if len(row) < 2 or not row[1].startswith(HASH_NAME + "="):
            continue
        yield os.path.normpath(os.path.join(site_packages, row[0])), row[1][len(HASH_NAME) + 1 :]


def file_digest(path: str) -> str:
    """The RECORD form of ``path``'s sha256: urlsafe base64 without padding."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode("ascii")


def drifted_files(release_dir: str) -> List[str]:
    """The files of ``release_dir``'s virtualenv that differ from what pip installed, each as
    ``<path relative to the release>: modified|missing|unreadable``; empty when the release is intact
    (or has no virtualenv with RECORD files to check)."""
    drifted: List[str] = []
    for record in record_files(os.path.join(release_dir, "venv")):
        for path, expected in recorded_hashes(record):
            problem = _file_problem(path, expected)
            if problem:
                drifted.append("%s: %s" % (os.path.relpath(path, release_dir), problem))
    return sorted(drifted)


def _file_problem(path: str, expected: str) -> str:
    try:
        return "" if file_digest(path) == expected else "modified"
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return "unreadable (%s)" % exc.strerror


def describe_drift(release_id: str, drifted: List[str], limit: int = 5) -> str:
    """One sentence naming the drifted files of ``release_id`` (at most ``limit``, then how many more)."""
    shown = "; ".join(drifted[:limit])
    more = " and %d more" % (len(drifted) - limit) if len(drifted) > limit else ""
    return "release %s differs from what was built and verified (%s%s)" % (release_id, shown, more)

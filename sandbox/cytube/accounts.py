"""Registered accounts: a JSON file (reloaded when it changes) plus runtime registrations.

File format: ``{"accounts": [{"name": "shipbot", "bcrypt": "$2b$10$...", "rank": 1}]}``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import bcrypt

from .textproc import js_substring, to_utf8_like_node

LOG = logging.getLogger("cytube-standin")

USERNAME_RE = re.compile(r"[A-Za-z0-9_-]{1,20}")
MAX_PASSWORD_LENGTH = 100  # CyTube cuts passwords to 100 characters before bcrypt
BCRYPT_MAX_BYTES = 72  # bcrypt ignores the rest; the Python binding refuses longer input

ERR_BAD_PASSWORD = "Invalid username/password combination"
ERR_NO_USER = "User does not exist"


def is_valid_username(name: str) -> bool:
    return USERNAME_RE.fullmatch(name) is not None


def dedupe_name(name: str) -> str:
    """Collapse look-alike characters: I/l/1 -> 1, o/0 -> 0, - -> _ (compared case-insensitively)."""
    lowered = name.lower()
    return re.sub(r"[il1]", "1", re.sub(r"[o0]", "0", lowered)).replace("-", "_")


def hash_password(password: str, rounds: int) -> str:
    secret = to_utf8_like_node(js_substring(password, MAX_PASSWORD_LENGTH))[:BCRYPT_MAX_BYTES]
    return bcrypt.hashpw(secret, bcrypt.gensalt(rounds=rounds)).decode("ascii")


def password_matches(password: str, hashed: str) -> bool:
    secret = to_utf8_like_node(js_substring(password, MAX_PASSWORD_LENGTH))[:BCRYPT_MAX_BYTES]
    try:
        return bcrypt.checkpw(secret, hashed.encode("ascii"))
    except ValueError:
        LOG.warning("stored bcrypt hash is malformed; treating as a wrong password")
        return False


@dataclass(frozen=True)
class Account:
    name: str
    bcrypt_hash: str
    rank: float = 1


class AccountFileError(ValueError):
    pass


def parse_accounts(text: str) -> dict[str, Account]:
    """Decode an accounts file into a map keyed by lowercased name."""
    raw = json.loads(text)
    if not isinstance(raw, dict) or not isinstance(raw.get("accounts"), list):
        raise AccountFileError('expected {"accounts": [...]}')
    accounts: dict[str, Account] = {}
    for entry in raw["accounts"]:
        if not isinstance(entry, dict):
            raise AccountFileError(f"account entry {entry!r} is not an object")
        name, hashed, rank = entry.get("name"), entry.get("bcrypt"), entry.get("rank", 1)
        if not isinstance(name, str) or not is_valid_username(name):
            raise AccountFileError(f"invalid account name {name!r}")
        if not isinstance(hashed, str) or not hashed.startswith("$2"):
            raise AccountFileError(f"account {name}: 'bcrypt' must be a bcrypt hash")
        if isinstance(rank, bool) or not isinstance(rank, (int, float)):
            raise AccountFileError(f"account {name}: rank must be a number")
        if name.lower() in accounts:
            raise AccountFileError(f"account {name} is listed twice")
        accounts[name.lower()] = Account(name=name, bcrypt_hash=hashed, rank=rank)
    return accounts


class AccountStore:
    def __init__(self, path: Path | None, hash_rounds: int) -> None:
        self.path = path
        self.hash_rounds = hash_rounds
        self._from_file: dict[str, Account] = {}
        self._runtime: dict[str, Account] = {}
        self._file_stamp: tuple[int, int] | None = None

    def load_initial(self) -> None:
        """Read the file at start-up; a missing file is allowed (it may be written later)."""
        if self.path is not None and not self.path.exists():
            LOG.warning("accounts file %s does not exist yet; starting with no accounts", self.path)
        self._maybe_reload(strict=True)

    def _maybe_reload(self, strict: bool = False) -> None:
        if self.path is None:
            return
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            if self._file_stamp is not None:
                LOG.warning("accounts file %s disappeared; keeping the last accounts read", self.path)
                self._file_stamp = None
            return
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp == self._file_stamp:
            return
        try:
            accounts = parse_accounts(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            if strict:
                raise AccountFileError(f"accounts file {self.path}: {exc}") from exc
            LOG.warning("accounts file %s unreadable (%s); keeping the previous accounts", self.path, exc)
            return
        self._from_file = accounts
        self._file_stamp = stamp
        LOG.info("loaded %d account(s) from %s", len(accounts), self.path)

    def _all(self) -> dict[str, Account]:
        self._maybe_reload()
        return {**self._from_file, **self._runtime}

    def find(self, name: str) -> Account | None:
        """Case-insensitive lookup (CyTube's MySQL collation ignores case)."""
        return self._all().get(name.lower())

    def is_taken(self, name: str) -> bool:
        """True when ``name`` or a look-alike of it is registered (guest-name check)."""
        wanted, wanted_dedupe = name.lower(), dedupe_name(name)
        return any(key == wanted or dedupe_name(acc.name) == wanted_dedupe for key, acc in self._all().items())

    def names(self) -> list[str]:
        return sorted(acc.name for acc in self._all().values())

    async def register(self, name: str, password: str, rank: float) -> Account:
        """Add or replace an account at runtime (hashing off the event loop)."""
        hashed = await asyncio.to_thread(hash_password, password, self.hash_rounds)
        existing = self.find(name)
        account = Account(name=existing.name if existing else name, bcrypt_hash=hashed, rank=rank)
        self._runtime[name.lower()] = account
        return account

    async def verify(self, name: str, password: str) -> tuple[Account | None, str | None]:
        """Check a login; return (account, None) or (None, CyTube's error text)."""
        if not is_valid_username(name):
            return None, f'Invalid username "{name}"'
        account = self.find(name)
        if account is None:
            return None, ERR_NO_USER
        matches = await asyncio.to_thread(password_matches, password, account.bcrypt_hash)
        if not matches:
            return None, ERR_BAD_PASSWORD
        return account, None

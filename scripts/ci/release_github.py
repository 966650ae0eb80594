"""The GitHub side of a release: find or create the release for a tag, upload the assets it lacks.

Plain urllib (no dependency beyond the standard library). Retries on 5xx, on connection
failures and on GitHub's rate limits (Retry-After); refusals name what to fix.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from release_assets import content_type
from release_git import ReleaseError

DEFAULT_API_URL = "https://api.github.com"
REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
ATTEMPTS = 4
FIRST_DELAY_S = 1.0
MAX_RETRY_AFTER_S = 60.0
TIMEOUT_S = 60.0
NEXT_LINK = re.compile(r'<([^>]+)>;\s*rel="next"')


class GitHubRefused(ReleaseError):
    """GitHub answered with an error status; str() names the fix."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    data: Any


@dataclass
class GitHub:
    api_url: str
    repository: str
    token: str = field(repr=False)
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        self.api_url = self.api_url.rstrip("/")
        if not REPOSITORY.match(self.repository):
            raise ReleaseError(f"GITHUB_REPOSITORY={self.repository!r} is not 'owner/name'")
        if urlsplit(self.api_url).scheme not in ("http", "https"):
            raise ReleaseError(f"GITHUB_API_URL={self.api_url!r} is not an http(s) URL")

    @property
    def repo_url(self) -> str:
        return f"{self.api_url}/repos/{self.repository}"

    def call(self, method: str, url: str, body: bytes | None = None, kind: str = "application/json") -> Answer:
        """One API call with retries; raises ReleaseError with the fix for refusals."""
        delay = FIRST_DELAY_S
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return self._once(method, url, body, kind)
            except urllib.error.HTTPError as error:
                wait = _retry_wait(error, delay)
                if wait is None or attempt == ATTEMPTS:
                    raise GitHubRefused(error.code, self._refusal(method, url, error)) from None
            except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
                if attempt == ATTEMPTS:
                    reason = getattr(error, "reason", error)
                    raise ReleaseError(
                        f"{method} {url}: no answer from GitHub after {ATTEMPTS} attempts ({reason}); "
                        "check GITHUB_API_URL and the runner's network"
                    ) from None
                wait = delay
            self.sleep(wait)
            delay *= 2
        raise AssertionError("unreachable")

    def _once(self, method: str, url: str, body: bytes | None, kind: str) -> Answer:
        request = urllib.request.Request(url, data=body, method=method)
        # Unredirected: a redirect to another host must not carry the token.
        request.add_unredirected_header("Authorization", f"Bearer {self.token}")
        request.add_header("Accept", "application/vnd.github+json")
        request.add_header("X-GitHub-Api-Version", "2022-11-28")
        request.add_header("User-Agent", "cytube-shipit-release")
        if body is not None:
            request.add_header("Content-Type", kind)
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            raw = response.read()
            data = json.loads(raw) if raw else None
            return Answer(response.status, dict(response.headers), data)

    def _refusal(self, method: str, url: str, error: urllib.error.HTTPError) -> str:
        said = _github_message(error)
        where = f"{method} {urlsplit(url).path}"
        hints = {
            401: "GitHub did not accept the token: pass the job's token as GITHUB_TOKEN (it is missing, "
            "expired or wrong)",
            403: "the token may not do this: give the release job `permissions: contents: write` "
            "(and allow write tokens in the repository's Actions settings)",
            404: f"not found: check that GITHUB_REPOSITORY={self.repository} names the repository, "
            f"that GITHUB_API_URL={self.api_url} is its API, and that the token can see it",
            422: "GitHub rejected the request as invalid",
        }
        hint = hints.get(error.code, "GitHub refused the request")
        return f"{where} answered {error.code} ({said}): {hint}"

    def json(self, method: str, url: str, payload: dict[str, Any] | None = None) -> Answer:
        body = json.dumps(payload).encode() if payload is not None else None
        return self.call(method, url, body)

    def release_by_tag(self, tag: str) -> dict[str, Any] | None:
        try:
            return self.json("GET", f"{self.repo_url}/releases/tags/{quote(tag)}").data
        except GitHubRefused as refused:
            if refused.status == 404:
                return None
            raise

    def create_release(self, tag: str, notes: str, commit: str) -> dict[str, Any]:
        payload = {"tag_name": tag, "name": tag, "body": notes, "target_commitish": commit}
        return self.json("POST", f"{self.repo_url}/releases", payload).data

    def assets(self, release: dict[str, Any]) -> list[dict[str, Any]]:
        url: str | None = f"{self.repo_url}/releases/{release['id']}/assets?per_page=100"
        found: list[dict[str, Any]] = []
        while url:
            answer = self.json("GET", url)
            found.extend(answer.data)
            link = NEXT_LINK.search(answer.headers.get("Link", ""))
            url = link.group(1) if link else None
        return found

    def upload(self, release: dict[str, Any], path: Path) -> dict[str, Any]:
        # upload_url is an RFC 6570 template ending in {?name,label}; only `name` is sent.
        base = release["upload_url"].split("{", 1)[0]
        url = f"{base}?name={quote(path.name)}"
        return self.call("POST", url, path.read_bytes(), content_type(path)).data


def _github_message(error: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(error.read() or b"{}")
    except (ValueError, OSError):
        return error.reason or "no message"
    message = str(body.get("message", error.reason))
    details = [f"{e.get('resource', '')}.{e.get('field', '')} {e.get('code', '')}" for e in body.get("errors", [])]
    return f"{message}: {', '.join(details)}" if details else message


def _retry_wait(error: urllib.error.HTTPError, delay: float) -> float | None:
    """How long to wait before retrying, or None when retrying cannot help."""
    if error.code >= 500:
        return delay
    retry_after = error.headers.get("Retry-After") if error.headers else None
    if error.code in (403, 429) and retry_after and retry_after.isdigit():
        return min(float(retry_after), MAX_RETRY_AFTER_S)
    return None


@dataclass(frozen=True)
class Published:
    release: dict[str, Any]
    created: bool
    uploaded: list[str]
    kept: list[str]


def publish(github: GitHub, tag: str, notes: str, commit: str, files: list[Path]) -> Published:
    """The release for `tag` with every file uploaded once; a re-run only adds what is missing."""
    release = github.release_by_tag(tag)
    created = release is None
    if release is None:
        release = github.create_release(tag, notes, commit)
    present = {asset["name"]: asset for asset in github.assets(release)}
    uploaded: list[str] = []
    kept: list[str] = []
    for path in files:
        existing = present.get(path.name)
        if existing is None:
            github.upload(release, path)
            uploaded.append(path.name)
        elif existing.get("size") == path.stat().st_size:
            kept.append(path.name)
        else:
            raise ReleaseError(
                f"release {tag} already has an asset {path.name} of {existing.get('size')} bytes, but the local "
                f"one is {path.stat().st_size} bytes: delete that asset on GitHub if it is broken, or rebuild "
                "the assets from the tagged commit"
            )
    return Published(release, created, uploaded, kept)

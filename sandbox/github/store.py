"""What the GitHub stand-in holds: comments, deployments and their statuses, commit statuses, releases, assets.

Objects are built with every field GitHub's description requires, so responses validate.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

DEFAULT_LOGIN = "shipit-bot"


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def user(base: str, login: str, user_id: int = 1) -> dict[str, Any]:
    api = f"{base}/users/{login}"
    return {
        "login": login,
        "id": user_id,
        "node_id": f"U_{user_id:08d}",
        "avatar_url": f"{base}/avatars/{login}",
        "gravatar_id": "",
        "url": api,
        "html_url": f"{base}/{login}",
        "followers_url": f"{api}/followers",
        "following_url": f"{api}/following{{/other_user}}",
        "gists_url": f"{api}/gists{{/gist_id}}",
        "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{api}/subscriptions",
        "organizations_url": f"{api}/orgs",
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events{{/privacy}}",
        "received_events_url": f"{api}/received_events",
        "type": "Bot",
        "site_admin": False,
    }


@dataclass
class Store:
    """In-memory repositories, keyed by "owner/repo"; ids are global like GitHub's."""

    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)
    deployments: dict[int, dict[str, Any]] = field(default_factory=dict)
    deployment_statuses: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    commit_statuses: list[dict[str, Any]] = field(default_factory=list)
    releases: dict[int, dict[str, Any]] = field(default_factory=dict)
    assets: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    asset_data: dict[int, bytes] = field(default_factory=dict)

    def next_id(self) -> int:
        return next(self.ids)

    def add_comment(self, base: str, repo: str, issue: int, body: str, login: str) -> dict[str, Any]:
        comment_id = self.next_id()
        stamp = now_iso()
        comment = {
            "id": comment_id,
            "node_id": f"IC_{comment_id}",
            "url": f"{base}/repos/{repo}/issues/comments/{comment_id}",
            "html_url": f"https://github.com/{repo}/pull/{issue}#issuecomment-{comment_id}",
            "issue_url": f"{base}/repos/{repo}/issues/{issue}",
            "body": body,
            "user": user(base, login),
            "created_at": stamp,
            "updated_at": stamp,
            "author_association": "NONE",
        }
        self.comments[comment_id] = {"repo": repo, "issue": issue, "edits": 0, "object": comment}
        return comment

    def issue_comments(self, repo: str, issue: int) -> list[dict[str, Any]]:
        return [c["object"] for c in self.comments.values() if c["repo"] == repo and c["issue"] == issue]

    def add_deployment(self, base: str, repo: str, body: dict[str, Any], login: str) -> dict[str, Any]:
        deployment_id = self.next_id()
        stamp = now_iso()
        url = f"{base}/repos/{repo}/deployments/{deployment_id}"
        environment = body.get("environment", "production")
        deployment = {
            "url": url,
            "id": deployment_id,
            "node_id": f"DE_{deployment_id}",
            "sha": _sha_for(body["ref"]),
            "ref": body["ref"],
            "task": body.get("task", "deploy"),
            "payload": body.get("payload", {}) or {},
            "original_environment": environment,
            "environment": environment,
            "description": body.get("description"),
            "creator": user(base, login),
            "created_at": stamp,
            "updated_at": stamp,
            "statuses_url": f"{url}/statuses",
            "repository_url": f"{base}/repos/{repo}",
            "transient_environment": bool(body.get("transient_environment", False)),
            "production_environment": bool(body.get("production_environment", environment == "production")),
        }
        self.deployments[deployment_id] = {"repo": repo, "object": deployment}
        self.deployment_statuses[deployment_id] = []
        return deployment

    def add_deployment_status(
        self, base: str, repo: str, deployment_id: int, body: dict[str, Any], login: str
    ) -> dict[str, Any]:
        status_id = self.next_id()
        stamp = now_iso()
        deployment = self.deployments[deployment_id]["object"]
        status = {
            "url": f"{deployment['url']}/statuses/{status_id}",
            "id": status_id,
            "node_id": f"DES_{status_id}",
            "state": body["state"],
            "creator": user(base, login),
            "description": body.get("description", ""),
            "environment": body.get("environment", deployment["environment"]),
            "target_url": body.get("target_url", body.get("log_url", "")),
            "created_at": stamp,
            "updated_at": stamp,
            "deployment_url": deployment["url"],
            "repository_url": f"{base}/repos/{repo}",
            "environment_url": body.get("environment_url", ""),
            "log_url": body.get("log_url", body.get("target_url", "")),
        }
        # GitHub lists statuses newest first.
        self.deployment_statuses[deployment_id].insert(0, status)
        return status

    def add_commit_status(self, base: str, repo: str, sha: str, body: dict[str, Any], login: str) -> dict[str, Any]:
        status_id = self.next_id()
        stamp = now_iso()
        status = {
            "url": f"{base}/repos/{repo}/statuses/{sha}",
            "avatar_url": None,
            "id": status_id,
            "node_id": f"SC_{status_id}",
            "state": body["state"],
            "description": body.get("description"),
            "target_url": body.get("target_url"),
            "context": body.get("context", "default"),
            "created_at": stamp,
            "updated_at": stamp,
            "creator": user(base, login),
        }
        self.commit_statuses.insert(0, {"repo": repo, "sha": sha, "object": status})
        return status

    def add_release(self, base: str, uploads: str, repo: str, body: dict[str, Any], login: str) -> dict[str, Any]:
        release_id = self.next_id()
        stamp = now_iso()
        url = f"{base}/repos/{repo}/releases/{release_id}"
        tag = body["tag_name"]
        draft = bool(body.get("draft", False))
        release = {
            "url": url,
            "html_url": f"https://github.com/{repo}/releases/tag/{tag}",
            "assets_url": f"{url}/assets",
            "upload_url": f"{uploads}/repos/{repo}/releases/{release_id}/assets{{?name,label}}",
            "tarball_url": f"{base}/repos/{repo}/tarball/{tag}",
            "zipball_url": f"{base}/repos/{repo}/zipball/{tag}",
            "id": release_id,
            "node_id": f"RE_{release_id}",
            "tag_name": tag,
            "target_commitish": body.get("target_commitish", "main"),
            "name": body.get("name", tag),
            "body": body.get("body", ""),
            "draft": draft,
            "prerelease": bool(body.get("prerelease", False)),
            "created_at": stamp,
            "published_at": None if draft else stamp,
            "author": user(base, login),
            "assets": [],
        }
        self.releases[release_id] = {"repo": repo, "object": release}
        self.assets[release_id] = []
        return release

    def add_asset(
        self, base: str, release_id: int, name: str, label: str | None, content_type: str, data: bytes, login: str
    ) -> dict[str, Any]:
        asset_id = self.next_id()
        stamp = now_iso()
        release = self.releases[release_id]
        repo = release["repo"]
        asset = {
            "url": f"{base}/repos/{repo}/releases/assets/{asset_id}",
            "browser_download_url": f"https://github.com/{repo}/releases/download/"
            f"{release['object']['tag_name']}/{name}",
            "id": asset_id,
            "node_id": f"RA_{asset_id}",
            "name": name,
            "label": label,
            "state": "uploaded",
            "content_type": content_type,
            "size": len(data),
            "digest": "sha256:" + hashlib.sha256(data).hexdigest(),
            "download_count": 0,
            "created_at": stamp,
            "updated_at": stamp,
            "uploader": user(base, login),
        }
        self.assets[release_id].append(asset)
        self.asset_data[asset_id] = data
        release["object"]["assets"] = list(self.assets[release_id])
        return asset

    def asset(self, asset_id: int) -> tuple[str, dict[str, Any]] | None:
        """(repo, asset) of an uploaded asset."""
        for release_id, assets in self.assets.items():
            for asset in assets:
                if asset["id"] == asset_id:
                    return self.releases[release_id]["repo"], asset
        return None

    def summary(self) -> dict[str, Any]:
        """Everything received, for tests (admin API)."""
        return {
            "comments": [
                {**c["object"], "repo": c["repo"], "issue_number": c["issue"], "edits": c["edits"]}
                for c in self.comments.values()
            ],
            "deployments": [
                {
                    **d["object"],
                    "repo": d["repo"],
                    "statuses": list(reversed(self.deployment_statuses[d["object"]["id"]])),
                }
                for d in self.deployments.values()
            ],
            "commit_statuses": [{**s["object"], "repo": s["repo"], "sha": s["sha"]} for s in self.commit_statuses],
            "releases": [{**r["object"], "repo": r["repo"]} for r in self.releases.values()],
        }


def _sha_for(ref: str) -> str:
    """A commit sha for a ref: itself when it is one, else a stable made-up one."""
    if len(ref) == 40 and all(c in "0123456789abcdef" for c in ref):
        return ref
    return hashlib.sha1(ref.encode()).hexdigest()

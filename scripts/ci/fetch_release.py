"""Download the bot wheel a GitHub release published, and check it against the release's SHA256SUMS.

    python scripts/ci/fetch_release.py --tag v1.4.0 --project examples/refbot --out DIR

Production deploys exactly what the release published (the wheel whose checksum is in SHA256SUMS), never a
rebuild. The wheel is the one whose distribution name is the project's (pyproject.toml ``name``). Prints the
path and writes ``wheel=``, ``version=`` and ``sha=`` (the tag's commit, when git knows it) to
``$GITHUB_OUTPUT``. Environment: GITHUB_TOKEN, GITHUB_REPOSITORY, GITHUB_API_URL. The token is sent to the
API only, never to the storage a download redirects to, and never printed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from github_output import write_outputs

NAME_RE = re.compile(r'^name = "([^"]+)"$', re.MULTILINE)
TIMEOUT_S = 30.0


class FetchError(Exception):
    """The release cannot give a checked wheel; the message says what to fix."""


def distribution(project: Path) -> str:
    found = NAME_RE.findall((project / "pyproject.toml").read_text(encoding="utf-8"))
    if len(found) != 1:
        raise FetchError(f"{project}/pyproject.toml needs one 'name = \"...\"' line to find the bot's wheel")
    return re.sub(r"[-_.]+", "_", found[0]).lower()


def request(url: str, token: str, accept: str) -> bytes:
    message = urllib.request.Request(url)
    message.add_header("Accept", accept)
    message.add_header("X-GitHub-Api-Version", "2022-11-28")
    if token:
        message.add_unredirected_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(message, timeout=TIMEOUT_S) as response:
        return response.read()


def release_of(api: str, repository: str, tag: str, token: str) -> dict[str, Any]:
    try:
        return json.loads(
            request(f"{api}/repos/{repository}/releases/tags/{tag}", token, "application/vnd.github+json")
        )
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise FetchError(
                f"no GitHub release for tag {tag} in {repository}: publish it first (release workflow)"
            ) from None
        raise FetchError(f"GitHub answered {exc.code} for the release {tag}: the job needs contents: read") from None


def pick_wheel(assets: list[dict[str, Any]], dist: str) -> dict[str, Any]:
    wheels = [
        asset for asset in assets if asset["name"].endswith(".whl") and asset["name"].lower().startswith(dist + "-")
    ]
    if len(wheels) != 1:
        names = ", ".join(asset["name"] for asset in assets) or "none"
        raise FetchError(f"the release needs exactly one {dist}-*.whl asset, it has: {names}")
    return wheels[0]


def expected_sum(sums: str, name: str) -> str:
    for line in sums.splitlines():
        digest, _, listed = line.strip().partition("  ")
        if listed.lstrip("*") == name:
            return digest.lower()
    raise FetchError(f"SHA256SUMS of the release does not list {name}: re-publish the release")


def tag_commit(tag: str) -> str:
    done = subprocess.run(["git", "rev-list", "-n", "1", tag], capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else ""


def fetch(tag: str, project: Path, out: Path) -> Path:
    api = os.environ.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
    repository, token = os.environ["GITHUB_REPOSITORY"], os.environ.get("GITHUB_TOKEN", "")
    release = release_of(api, repository, tag, token)
    assets = release.get("assets") or []
    sums_asset = next((asset for asset in assets if asset["name"] == "SHA256SUMS"), None)
    if sums_asset is None:
        raise FetchError(f"release {tag} has no SHA256SUMS asset: re-publish it with scripts/ci/release.py")
    wheel = pick_wheel(assets, distribution(project))
    sums = request(sums_asset["url"], token, "application/octet-stream").decode("utf-8")
    data = request(wheel["url"], token, "application/octet-stream")
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected_sum(sums, wheel["name"]):
        raise FetchError(f"{wheel['name']} of release {tag} does not match SHA256SUMS (got {digest}): not deploying it")
    out.mkdir(parents=True, exist_ok=True)
    target = out / wheel["name"]
    target.write_bytes(data)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tag", required=True)
    parser.add_argument("--project", required=True, help="the bot's project directory (its name picks the wheel)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    try:
        wheel = fetch(args.tag, Path(args.project), Path(args.out))
    except FetchError as exc:
        print(f"fetch_release: {exc}", file=sys.stderr)
        return 2
    except urllib.error.URLError as exc:
        print(f"fetch_release: GitHub API unreachable ({exc.reason}); re-run the job", file=sys.stderr)
        return 1
    version = wheel.name.split("-")[1]
    print(wheel)
    write_outputs({"wheel": str(wheel), "version": version, "sha": tag_commit(args.tag)})
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Tell a pull request from a fork why it was not deployed, and how a maintainer can deploy it.

Run by .github/workflows/fork-notice.yml (``pull_request_target``: the base repository's code and a token
that may comment, never the fork's code). Reads the event from ``$GITHUB_EVENT_PATH``; posts one comment
per pull request, or updates it on the next push (found by its marker). Does nothing for a pull request
from the repository itself. Standard library only: it runs before any setup.

Environment: GITHUB_TOKEN (pull-requests: write), GITHUB_REPOSITORY, GITHUB_API_URL, GITHUB_EVENT_PATH.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from typing import Any

MARKER = "<!-- cytube-shipit:fork-notice -->"
TIMEOUT_S = 10.0


def is_fork(event: dict[str, Any]) -> bool:
    pull = event["pull_request"]
    return pull["head"]["repo"] is None or pull["head"]["repo"]["full_name"] != pull["base"]["repo"]["full_name"]


def notice(event: dict[str, Any], repository: str) -> str:
    pull = event["pull_request"]
    head = pull["head"]["repo"]["full_name"] if pull["head"]["repo"] else "a deleted fork"
    number = pull["number"]
    return "\n".join(
        [
            MARKER,
            "### Not deployed: this pull request comes from a fork",
            "",
            f"The changes come from `{head}`. GitHub gives workflows started by a fork no secrets, and",
            "cytube.shipit never hands the bot's password or the deploy key to code nobody has reviewed, so",
            "this pull request was linted and tested but **not deployed** to the test channel.",
            "",
            "A maintainer who has read the changes can deploy them:",
            f"- **Actions** tab → **test-deploy** → *Run workflow* with `pr_number: {number}` and `sha`: the",
            "  full commit SHA you reviewed (exactly that commit is tested and deployed), or",
            f"- `git fetch origin pull/{number}/head:pr-{number} && git push origin pr-{number}` and open a pull",
            f"  request from `{repository}:pr-{number}` (it deploys like any branch of this repository).",
        ]
    )


def github(method: str, url: str, token: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode("utf-8") if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Accept", "application/vnd.github+json")
    request.add_header("X-GitHub-Api-Version", "2022-11-28")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
        return json.loads(response.read() or b"null")


def post_or_update(api: str, repository: str, number: int, token: str, text: str) -> str:
    comments = github("GET", f"{api}/repos/{repository}/issues/{number}/comments?per_page=100", token)
    for comment in comments:
        if MARKER in (comment.get("body") or ""):
            github("PATCH", f"{api}/repos/{repository}/issues/comments/{comment['id']}", token, {"body": text})
            return f"updated comment {comment['id']}"
    created = github("POST", f"{api}/repos/{repository}/issues/{number}/comments", token, {"body": text})
    return f"posted comment {created['id']}"


def main() -> int:
    with open(os.environ["GITHUB_EVENT_PATH"], encoding="utf-8") as handle:
        event = json.load(handle)
    if not is_fork(event):
        print("fork_notice: not a fork: nothing to say")
        return 0
    token = os.environ.get("GITHUB_TOKEN", "")
    if not token:
        print(
            "fork_notice: GITHUB_TOKEN is empty: give the step env GITHUB_TOKEN: ${{ github.token }}", file=sys.stderr
        )
        return 2
    repository = os.environ["GITHUB_REPOSITORY"]
    api = os.environ.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
    number = int(event["pull_request"]["number"])
    try:
        done = post_or_update(api, repository, number, token, notice(event, repository))
    except urllib.error.HTTPError as exc:
        print(
            f"fork_notice: GitHub answered {exc.code} for pull request #{number}: the job needs "
            "permissions: pull-requests: write",
            file=sys.stderr,
        )
        return 1
    except (urllib.error.URLError, TimeoutError) as exc:
        print(f"fork_notice: GitHub API at {api} unreachable ({exc}); re-run the job", file=sys.stderr)
        return 1
    print(f"fork_notice: pull request #{number} from a fork: {done}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

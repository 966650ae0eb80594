# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Notification targets: their vocabulary, validation, filters, labels and redaction.

A target is one entry of the inventory's ``shipit_notify`` list. Its URL, token and
signing secret are secrets: no message built here ever contains them, and
:func:`redact` removes them from anything else before it is shown or returned.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple
from urllib.parse import urlsplit

TARGET_TYPES = ("github_pr_comment", "github_deployment", "slack", "discord", "webhook")
GITHUB_TYPES = ("github_pr_comment", "github_deployment")
URL_TYPES = ("slack", "discord", "webhook")
OUTCOME_STATUSES = (
    "success",
    "rolled_back",
    "rollback_failed",
    "failed",
    "inconclusive",
    "refused",
    "invalid",
    "check",
)
STARTED = "started"
STATUS_GROUPS = {
    "problems": ("rolled_back", "rollback_failed", "failed", "inconclusive", "refused", "invalid"),
    "finished": tuple(s for s in OUTCOME_STATUSES if s != "check"),
}
KINDS = ("deploy", "rollback", "verify")
DEFAULT_STATUSES = {
    "github_pr_comment": (STARTED,) + STATUS_GROUPS["finished"],
    "github_deployment": (STARTED,) + STATUS_GROUPS["finished"],
    "slack": STATUS_GROUPS["finished"],
    "discord": STATUS_GROUPS["finished"],
    "webhook": STATUS_GROUPS["finished"],
}
COMMON_KEYS = ("type", "name", "statuses", "environments", "kinds", "timeout_s", "budget_s")
TYPE_KEYS = {
    "github_pr_comment": ("token", "repository", "api_url", "pr_number"),
    "github_deployment": ("token", "repository", "api_url", "production_environments"),
    "slack": ("url",),
    "discord": ("url", "username"),
    "webhook": ("url", "secret"),
}
SECRET_KEYS = ("url", "token", "secret")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
REPOSITORY_RE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
MIN_SECRET_LENGTH = 16
MAX_TIMEOUT_S = 120.0
MASK = "********"


def target_label(target: Mapping[str, Any]) -> str:
    """``type[:name]``: how a target is named in messages and in the outcome (never its URL)."""
    name = target.get("name")
    return "%s:%s" % (target.get("type"), name) if name else str(target.get("type"))


def is_http_url(value: Any) -> bool:
    if not isinstance(value, str) or not value or any(c.isspace() for c in value):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def allowed_statuses() -> Tuple[str, ...]:
    return (STARTED, *OUTCOME_STATUSES, *STATUS_GROUPS)


def validate_targets(
    targets: Any,
    github_token: Optional[str] = None,
    github_api_url: Optional[str] = None,
    github_repository: Optional[str] = None,
) -> List[str]:
    """Every problem of the target list, each naming the bad value (never a secret) and the fix."""
    if targets is None:
        return []
    if not isinstance(targets, list):
        return ["shipit_notify must be a list of targets ({type: ..., ...}), got %s" % type(targets).__name__]
    problems: List[str] = []
    if github_api_url is not None and not is_http_url(github_api_url):
        problems.append(
            "github_api_url %r is not an http(s) URL: fix GITHUB_API_URL or github_api_url" % (github_api_url,)
        )
    if github_repository and not REPOSITORY_RE.match(github_repository):
        problems.append("github_repository %r is not owner/name: fix GITHUB_REPOSITORY" % (github_repository,))
    seen: Dict[str, int] = {}
    for index, target in enumerate(targets):
        where = "shipit_notify[%d]" % index
        if not isinstance(target, Mapping):
            problems.append("%s must be a mapping with a 'type', got %s" % (where, type(target).__name__))
            continue
        found = _target_problems(where, target, github_token)
        problems.extend(found)
        if not found:
            label = target_label(target)
            if label in seen:
                problems.append(
                    "%s and shipit_notify[%d] are both %r: give them distinct 'name's" % (where, seen[label], label)
                )
            seen[label] = index
    return problems


def _target_problems(where: str, target: Mapping[str, Any], github_token: Optional[str]) -> List[str]:
    kind = target.get("type")
    if kind not in TARGET_TYPES:
        return ["%s: type %r is unknown: use one of %s" % (where, kind, ", ".join(TARGET_TYPES))]
    where = "%s (%s)" % (where, kind)
    problems = []
    unknown = sorted(set(target) - set(COMMON_KEYS) - set(TYPE_KEYS[kind]))
    if unknown:
        problems.append(
            "%s: unknown key(s) %s: a %s target takes %s"
            % (where, ", ".join(unknown), kind, ", ".join(COMMON_KEYS + TYPE_KEYS[kind]))
        )
    name = target.get("name")
    if name is not None and (not isinstance(name, str) or not NAME_RE.match(name)):
        problems.append("%s: name %r must be 1-64 letters, digits, '.', '_' or '-'" % (where, name))
    problems.extend(_filter_problems(where, target))
    problems.extend(_limit_problems(where, target))
    if kind in GITHUB_TYPES:
        problems.extend(_github_problems(where, target, github_token))
    else:
        problems.extend(_url_problems(where, target))
    return problems


def _filter_problems(where: str, target: Mapping[str, Any]) -> List[str]:
    problems = []
    checks = (("statuses", allowed_statuses()), ("kinds", KINDS))
    for key, allowed in checks:
        values = target.get(key)
        if values is None:
            continue
        if not _is_str_list(values):
            problems.append("%s: %s must be a list of strings, got %r" % (where, key, values))
            continue
        bad = [v for v in values if v not in allowed]
        if bad:
            problems.append("%s: %s %s unknown: use %s" % (where, key, ", ".join(map(repr, bad)), ", ".join(allowed)))
    environments = target.get("environments")
    if environments is not None and not _is_str_list(environments):
        problems.append(
            "%s: environments must be a list of names or globs (e.g. [prod]), got %r" % (where, environments)
        )
    return problems


def _limit_problems(where: str, target: Mapping[str, Any]) -> List[str]:
    problems = []
    for key in ("timeout_s", "budget_s"):
        value = target.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= MAX_TIMEOUT_S:
            problems.append("%s: %s %r must be a number of seconds in (0, %g]" % (where, key, value, MAX_TIMEOUT_S))
    return problems


def _github_problems(where: str, target: Mapping[str, Any], github_token: Optional[str]) -> List[str]:
    problems = []
    token = target.get("token", github_token)
    if not isinstance(token, str) or not token.strip():
        problems.append(
            "%s: no GitHub token: set GITHUB_TOKEN in the environment (in Actions: "
            "env GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}), github_token, or the target's token" % where
        )
    repository = target.get("repository")
    if repository is not None and (not isinstance(repository, str) or not REPOSITORY_RE.match(repository)):
        problems.append("%s: repository %r must be owner/name (e.g. cytube/bot)" % (where, repository))
    api_url = target.get("api_url")
    if api_url is not None and not is_http_url(api_url):
        problems.append("%s: api_url %r is not an http(s) URL (e.g. https://api.github.com)" % (where, api_url))
    pr_number = target.get("pr_number")
    if pr_number is not None and (isinstance(pr_number, bool) or not isinstance(pr_number, int) or pr_number < 1):
        problems.append("%s: pr_number %r must be a positive integer" % (where, pr_number))
    production = target.get("production_environments")
    if production is not None and not _is_str_list(production):
        problems.append("%s: production_environments must be a list of environment names" % where)
    return problems


def _url_problems(where: str, target: Mapping[str, Any]) -> List[str]:
    problems = []
    kind = target["type"]
    url = target.get("url")
    example = {
        "slack": "https://hooks.slack.com/services/...",
        "discord": "https://discord.com/api/webhooks/...",
        "webhook": "https://receiver.example/hook",
    }[kind]
    if url is None or url == "":
        problems.append("%s: url is missing: set the webhook URL (%s), from a vault or secret store" % (where, example))
    elif not is_http_url(url):
        problems.append(
            "%s: url is not an http(s) URL with a host (value not shown: webhook URLs are secrets); expected %s"
            % (where, example)
        )
    if kind == "webhook":
        secret = target.get("secret")
        if not isinstance(secret, str) or len(secret) < MIN_SECRET_LENGTH:
            problems.append(
                "%s: secret is missing or shorter than %d characters: set a random shared secret "
                "(e.g. openssl rand -hex 32) that the receiver also knows" % (where, MIN_SECRET_LENGTH)
            )
    return problems


def _is_str_list(values: Any) -> bool:
    return isinstance(values, list) and all(isinstance(v, str) for v in values)


def expand_statuses(statuses: Iterable[str]) -> List[str]:
    expanded: List[str] = []
    for status in statuses:
        expanded.extend(STATUS_GROUPS.get(status, (status,)))
    return expanded


def filter_reason(target: Mapping[str, Any], status: str, environment: str, kind: str) -> Optional[str]:
    """None when the target wants this event, else why it is skipped."""
    statuses = target.get("statuses")
    wanted = expand_statuses(statuses) if statuses is not None else DEFAULT_STATUSES[target["type"]]
    if status not in wanted:
        return "status %s is not in the target's statuses" % status
    environments = target.get("environments")
    if environments is not None and not any(fnmatch.fnmatchcase(environment or "", p) for p in environments):
        return "environment %s is not in the target's environments" % (environment or "(none)")
    kinds = target.get("kinds")
    if kinds is not None and kind not in kinds:
        return "kind %s is not in the target's kinds" % kind
    return None


def secrets_of(targets: Sequence[Mapping[str, Any]], extra: Iterable[Optional[str]] = ()) -> List[str]:
    """Every secret value to keep out of output: URLs (and their paths), tokens, signing secrets."""
    found = [v for v in extra if isinstance(v, str) and v]
    for target in targets:
        if not isinstance(target, Mapping):
            continue
        for key in SECRET_KEYS:
            value = target.get(key)
            if isinstance(value, str) and value:
                found.append(value)
                if key == "url":
                    path = urlsplit(value).path if is_http_url(value) else ""
                    if len(path) >= 8:
                        found.append(path)
    return sorted(set(found), key=len, reverse=True)


def redact(value: Any, secrets: Sequence[str]) -> Any:
    """`value` with every secret replaced by a mask, through dicts, lists and strings."""
    if isinstance(value, str):
        for secret in secrets:
            if secret and secret in value:
                value = value.replace(secret, MASK)
        return value
    if isinstance(value, Mapping):
        return dict((k, redact(v, secrets)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [redact(v, secrets) for v in value]
    return value

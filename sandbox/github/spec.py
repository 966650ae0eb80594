"""GitHub's OpenAPI description, cut to the operations the stand-in serves.

Building a validator from the whole description (13 MB, 800+ paths) takes ~18 s, so the
stand-in keeps only its own operations and the components they reference, and caches
that cut file next to the source, keyed by the source's hash and the operation list.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

OCTOKIT_CACHE = Path(os.environ.get("SHIPIT_OCTOKIT_OPENAPI", "/var/cache/cytube-shipit/octokit-openapi"))
SPEC_RELATIVE = Path("node_modules/@octokit/openapi/generated/api.github.com.json")
DEFAULT_SPEC = OCTOKIT_CACHE / SPEC_RELATIVE
CUT_DIR_NAME = "cut"

# (method, path template) the stand-in serves; the release asset upload is served by
# GitHub on https://uploads.github.com, which the description says on that operation.
OPERATIONS: tuple[tuple[str, str], ...] = (
    ("get", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),
    ("post", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),
    ("get", "/repos/{owner}/{repo}/issues/comments/{comment_id}"),
    ("patch", "/repos/{owner}/{repo}/issues/comments/{comment_id}"),
    ("get", "/repos/{owner}/{repo}/deployments"),
    ("post", "/repos/{owner}/{repo}/deployments"),
    ("get", "/repos/{owner}/{repo}/deployments/{deployment_id}"),
    ("get", "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses"),
    ("post", "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses"),
    ("post", "/repos/{owner}/{repo}/statuses/{sha}"),
    ("get", "/repos/{owner}/{repo}/commits/{ref}/statuses"),
    ("get", "/repos/{owner}/{repo}/releases"),
    ("post", "/repos/{owner}/{repo}/releases"),
    ("get", "/repos/{owner}/{repo}/releases/{release_id}"),
    ("get", "/repos/{owner}/{repo}/releases/tags/{tag}"),
    ("get", "/repos/{owner}/{repo}/releases/{release_id}/assets"),
    ("get", "/repos/{owner}/{repo}/releases/assets/{asset_id}"),
    ("post", "/repos/{owner}/{repo}/releases/{release_id}/assets"),
)


class SpecMissing(RuntimeError):
    pass


def cut_description(full: dict[str, Any], operations: Iterable[tuple[str, str]] = OPERATIONS) -> dict[str, Any]:
    """The description with only `operations` and the components they reference."""
    paths: dict[str, dict[str, Any]] = {}
    for method, template in operations:
        source = full["paths"].get(template, {})
        if method not in source:
            raise SpecMissing(f"{method.upper()} {template} is not in the description")
        kept = paths.setdefault(template, {k: v for k, v in source.items() if k in ("parameters", "servers")})
        kept[method] = source[method]
    components: dict[str, dict[str, Any]] = {}
    pending = list(_refs(paths))
    seen: set[str] = set()
    while pending:
        ref = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        _, _, section, name = ref.split("/", 3)
        node = full["components"][section][name]
        components.setdefault(section, {})[name] = node
        pending.extend(_refs(node))
    return {
        "openapi": full["openapi"],
        "info": full["info"],
        "servers": full.get("servers", []),
        "paths": paths,
        "components": components,
    }


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/"):
            yield ref
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def load_cut(source: Path = DEFAULT_SPEC, cache_dir: Path | None = None) -> dict[str, Any]:
    """The cut description, from the cache when the source and operation list are unchanged."""
    if not source.is_file():
        raise SpecMissing(
            f"GitHub's OpenAPI description is missing at {source}: run scripts/setup.sh "
            "(it installs npm @octokit/openapi) or pass --spec PATH"
        )
    raw = source.read_bytes()
    key = hashlib.sha256(raw + json.dumps(OPERATIONS).encode()).hexdigest()[:16]
    cache_dir = cache_dir or source.parent / CUT_DIR_NAME
    cached = cache_dir / f"github-standin-{key}.json"
    if cached.is_file():
        return json.loads(cached.read_text())
    cut = cut_description(json.loads(raw))
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        temporary = cached.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(cut))
        temporary.replace(cached)
    except OSError:
        pass  # a read-only cache only costs the cut again next time
    return cut

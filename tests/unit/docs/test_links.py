"""Every relative link in README.md and docs/*.md resolves to a file or directory of the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
#: [text](target) and ![alt](target), the target up to a space (an optional "title") or the closing parenthesis
LINK_RE = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
CODE_RE = re.compile(r"```.*?```|`[^`\n]*`", re.DOTALL)
EXTERNAL = ("http://", "https://", "mailto:", "#")


def relative_links(doc: Path) -> list[str]:
    text = CODE_RE.sub("", doc.read_text(encoding="utf-8"))
    return [target for target in LINK_RE.findall(text) if not target.startswith(EXTERNAL)]


def test_the_link_pattern_finds_links() -> None:
    assert LINK_RE.findall('see [a](docs/a.md#x) and ![b](img/b.png "t") but not `[c](c.md)`') == [
        "docs/a.md#x",
        "img/b.png",
        "c.md",
    ]


def test_a_link_to_a_missing_file_is_caught(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text("[ok](doc.md) [gone](missing.md#x) [abs](/home/build/docs/refbot.md) [web](https://x.org)\n")
    assert relative_links(doc) == ["doc.md", "missing.md#x", "/home/build/docs/refbot.md"]


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: str(doc.relative_to(REPO)))
def test_relative_links_resolve(doc: Path) -> None:
    broken = []
    for target in relative_links(doc):
        path = target.split("#", 1)[0].split("?", 1)[0]
        if path.startswith("/") or not (doc.parent / path).resolve().exists():
            broken.append(target)
    assert not broken, f"{doc.relative_to(REPO)} links to what does not exist in the repository: {broken}"

"""Every relative link in README.md and docs/*.md points at a file (and heading) that exists.

Links inside code blocks and code spans are examples, not links, and are skipped; a page named in
a code span as ``docs/NAME.md`` is a pointer to a page all the same, and must exist too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

_FENCE_RE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
_SPAN_RE = re.compile(r"`[^`\n]*`")
_LINK_RE = re.compile(r"(?<!!)\[[^\]\n]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_IMAGE_RE = re.compile(r"!\[[^\]\n]*\]\(([^)\s]+)\)")
_PAGE_SPAN_RE = re.compile(r"`(docs/[\w./-]+\.md)`")
_HEADING_RE = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)


def _prose(text: str) -> str:
    return _SPAN_RE.sub("", _FENCE_RE.sub("", text))


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation out, spaces to hyphens."""
    plain = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", plain).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    return {_slug(h) for h in _HEADING_RE.findall(_FENCE_RE.sub("", page.read_text("utf-8")))}


def _broken(page: Path) -> list[str]:
    text = page.read_text(encoding="utf-8")
    prose = _prose(text)
    bad = []
    for target in _LINK_RE.findall(prose) + _IMAGE_RE.findall(prose):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            bad.append(f"{target} (no such file)")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            bad.append(f"{target} (no heading #{anchor})")
    outside_fences = _FENCE_RE.sub("", text)
    for name in _PAGE_SPAN_RE.findall(outside_fences):
        if not any((base / name).exists() for base in (page.parent, ROOT)):
            bad.append(f"`{name}` (named page does not exist)")
    return bad


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    assert _broken(page) == []


def test_the_checker_catches_a_broken_link(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    (tmp_path / "there.md").write_text("# Title here\n", encoding="utf-8")
    page.write_text(
        "[ok](there.md) [ok](there.md#title-here) [gone](missing.md) [bad](there.md#nope)"
        " see `docs/ops.md`\n```\n[in code](nowhere.md)\n```\n`[span](nowhere.md)`\n",
        encoding="utf-8",
    )
    assert _broken(page) == [
        "missing.md (no such file)",
        "there.md#nope (no heading #nope)",
        "`docs/ops.md` (named page does not exist)",
    ]

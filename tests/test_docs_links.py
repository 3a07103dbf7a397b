"""Every relative link of the documentation resolves: the file exists and, with ``#anchor``,
a heading of that file has that anchor (GitHub's heading slugs)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
DOCUMENTS = sorted(
    [
        ROOT / "README.md",
        ROOT / "CHANGELOG.md",
        ROOT / "bench" / "README.md",
        *ROOT.glob("docs/*.md"),
    ]
)

FENCE = re.compile(r"^(```|~~~)")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL)
#: ``[text](target)`` and ``![alt](target)``; the target up to a space or the closing paren.
LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")


def prose(text: str) -> Iterator[str]:
    """The paragraphs of ``text`` outside fenced code blocks, inline code spans removed (a
    link's text may run over lines, never over paragraphs)."""
    fenced, paragraph = False, []
    for line in [*text.splitlines(), ""]:
        if FENCE.match(line.lstrip()):
            fenced = not fenced
        elif not fenced and line.strip():
            paragraph.append(line)
            continue
        if paragraph:
            yield CODE_SPAN.sub("", "\n".join(paragraph))
            paragraph = []


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: link markup and punctuation dropped, lowercase,
    spaces as hyphens (letters, digits, ``-`` and ``_`` kept)."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
    text = text.replace("`", "").lower()
    text = "".join(c for c in text if c.isalnum() or c in " -_")
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The anchors of the headings of ``path``; a repeated slug gets ``-1``, ``-2``, ..."""
    seen: dict[str, int] = {}
    found: set[str] = set()
    fenced = False
    for line in path.read_text().splitlines():
        if FENCE.match(line.lstrip()):
            fenced = not fenced
            continue
        heading = None if fenced else HEADING.match(line)
        if heading:
            base = slug(heading.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
    return found


def broken_links(path: Path) -> list[str]:
    """Each relative link of ``path`` that does not resolve, with the reason."""
    broken = []
    for paragraph in prose(path.read_text()):
        for target in LINK.findall(paragraph):
            if re.match(r"[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
                continue  # http:, https:, mailto: ...
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            if not linked.exists():
                broken.append(f"{target}: no file {linked}")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                broken.append(f"{target}: no heading with the anchor #{anchor} in {linked.name}")
    return broken


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(document: Path) -> None:
    assert broken_links(document) == []


def test_the_guides_are_all_linked_from_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    for guide in sorted((ROOT / "docs").glob("*.md")):
        assert f"](docs/{guide.name}" in readme, f"README.md does not link docs/{guide.name}"


def test_a_missing_file_or_anchor_is_reported(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other\n\n## Hot reload (`SIGHUP`)\n")
    doc = tmp_path / "doc.md"
    doc.write_text(
        "# Doc\n\n## Same title\n\n## Same title\n\n"
        "[ok](other.md#hot-reload-sighup), [ok](#same-title-1), [ok](https://example.org/#x)\n"
        "[gone](missing.md), [no anchor](other.md#hot-reload), [a link over\ntwo lines](#nowhere)\n"
        "`[in code](nothere.md)`\n\n```\n[in a block](nothere.md)\n```\n"
    )
    assert broken_links(doc) == [
        f"missing.md: no file {tmp_path / 'missing.md'}",
        "other.md#hot-reload: no heading with the anchor #hot-reload in other.md",
        "#nowhere: no heading with the anchor #nowhere in doc.md",
    ]

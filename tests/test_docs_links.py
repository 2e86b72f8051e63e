"""Every document the repository cites is in the repository (docs/README.md).

Code comments, docstrings and documents cite the contract by path (`docs/events.md`, R14 in
`docs/sno-rules.md`); a clone must be able to open each of them. Two kinds of reference are checked:

- a relative markdown link, `[text](path)` or `[text](path#heading)`, in a `.md` file: the path is
  relative to the linking file (as GitHub reads it), and a `#heading` must be a heading of the target;
- a cited markdown file anywhere else (`docs/events.md`, `sno/core/ALERTS.md`, `README.md`): a
  repository path, from the repository's root, so that one citation means the same file wherever it
  stands.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

_TEXT_SUFFIXES = {
    ".py", ".md", ".sql", ".toml", ".yaml", ".yml", ".sh", ".j2", ".json", ".xml", ".cfg", ".txt", ".ini",
}
_TEXT_NAMES = {"Makefile", "Dockerfile"}
_SKIPPED_PARTS = {".git", ".venv", "node_modules", "__pycache__", ".pytest_cache", ".ruff_cache", "sno-data"}
#: This file: its self-test writes broken links and citations on purpose.
_SELF = Path(__file__).resolve()

# [text](target): the target up to a closing parenthesis or a space (a title may follow it).
_LINK = re.compile(r"\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)
# A cited markdown file: a path of word characters, dots, slashes and hyphens ending in `.md`, not the
# middle of a longer token (`month.md.j2` is a template, `.public.md` a suffix built in code).
_CITATION = re.compile(r"(?<![\w./{}-])(\w[\w./-]*\.md)(?![\w-]|\.\w)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
_FENCE = re.compile(r"^\s*(```|~~~)")


def repository_files(root: Path = ROOT) -> list[Path]:
    """The files git would commit (tracked, and new ones it does not ignore); every file without git."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=root, capture_output=True, check=True, timeout=60,
        ).stdout.decode()
        names = [name for name in out.split("\0") if name]
        paths = [root / name for name in names]
    except (OSError, subprocess.CalledProcessError):
        paths = [p for p in root.rglob("*") if p.is_file()]
    return sorted(
        p for p in paths
        if p.is_file()
        and p.resolve() != _SELF
        and not _SKIPPED_PARTS & set(p.relative_to(root).parts)
        and (p.suffix in _TEXT_SUFFIXES or p.name in _TEXT_NAMES or p.name.startswith("Dockerfile"))
    )


def _prose_lines(text: str) -> list[tuple[int, str]]:
    """The lines of a markdown file outside fenced code blocks, numbered from 1."""
    out: list[tuple[int, str]] = []
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            out.append((number, line))
    return out


def heading_anchors(markdown: str) -> set[str]:
    """The `#anchors` GitHub gives the headings of a markdown file: lower case, punctuation dropped,
    spaces as hyphens, a repeated anchor numbered -1, -2 …"""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    for _, line in _prose_lines(markdown):
        match = _HEADING.match(line)
        if not match:
            continue
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", match[1])  # a link in a heading keeps its text
        slug = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def broken_links(files: list[Path], root: Path = ROOT) -> list[str]:
    """Relative markdown links whose file, or whose heading, is not there."""
    problems: list[str] = []
    anchors: dict[Path, set[str]] = {}
    for path in files:
        if path.suffix != ".md":
            continue
        for number, line in _prose_lines(path.read_text(encoding="utf-8")):
            for target in _LINK.findall(_CODE_SPAN.sub("", line)):  # `[a](b)` in code is not a link
                if _URL.match(target) or target.startswith("mailto:"):
                    continue
                file_part, _, anchor = target.partition("#")
                where = f"{path.relative_to(root)}:{number}"
                resolved = (path.parent / file_part).resolve() if file_part else path
                if not resolved.exists():
                    problems.append(f"{where}: link to {target}: no such file")
                    continue
                if anchor and resolved.suffix == ".md":
                    if resolved not in anchors:
                        anchors[resolved] = heading_anchors(resolved.read_text(encoding="utf-8"))
                    if anchor not in anchors[resolved]:
                        problems.append(f"{where}: link to {target}: no heading #{anchor} there")
    return problems


def missing_citations(files: list[Path], root: Path = ROOT) -> list[str]:
    """Cited markdown files that are not at the repository path they name."""
    problems: list[str] = []
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        lines = _prose_lines(text) if path.suffix == ".md" else list(enumerate(text.splitlines(), 1))
        for number, line in lines:
            if path.suffix == ".md":
                line = _LINK.sub(" ", line)  # links are checked as links, relative to their file
            line = _URL.sub(" ", line)
            for cited in _CITATION.findall(line):
                if not (root / cited).is_file():
                    where = f"{path.relative_to(root)}:{number}"
                    problems.append(f"{where}: cites {cited}, not in the repository")
    return problems


def test_every_relative_markdown_link_names_a_file_and_a_heading_that_exist() -> None:
    problems = broken_links(repository_files())
    assert not problems, "\n".join(problems)


def test_every_cited_markdown_file_is_at_the_repository_path_it_names() -> None:
    problems = missing_citations(repository_files())
    assert not problems, "\n".join(problems)


def test_the_contract_documents_are_in_the_repository() -> None:
    for name in ("docs/events.md", "docs/interfaces.md", "docs/sno-rules.md"):
        assert (ROOT / name).is_file(), name
    rules = (ROOT / "docs/sno-rules.md").read_text(encoding="utf-8")
    numbered = {int(n) for n in re.findall(r"^### R(\d+) ", rules, re.MULTILINE)}
    assert numbered == set(range(1, 25)), "docs/sno-rules.md must have a section for each of R1 … R24"


def test_the_checks_find_a_missing_file_a_missing_heading_and_a_citation_by_a_wrong_path(
    tmp_path: Path,
) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "rules.md").write_text("# Rules\n\n### R1 Time zone\n", encoding="utf-8")
    (tmp_path / "index.md").write_text(
        "[ok](docs/rules.md#r1-time-zone) [gone](docs/gone.md) [no heading](docs/rules.md#r2-month)\n"
        "```\n[in a code block](not/checked.md)\n```\n",
        encoding="utf-8",
    )
    (tmp_path / "code.py").write_text(
        '"""As docs/rules.md says (and rules.md, which is not a repository path)."""\n'
        'TEMPLATE = "month.md.j2"  # a template, not a citation\n',
        encoding="utf-8",
    )
    files = sorted(tmp_path.rglob("*.*"))
    assert broken_links(files, tmp_path) == [
        "index.md:1: link to docs/gone.md: no such file",
        "index.md:1: link to docs/rules.md#r2-month: no heading #r2-month there",
    ]
    assert missing_citations(files, tmp_path) == ["code.py:1: cites rules.md, not in the repository"]


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("## The report, `--format json`", "the-report---format-json"),
        ("### R18 MijnOverheid production performance", "r18-mijnoverheid-production-performance"),
        ("## 8. Not measured from events", "8-not-measured-from-events"),
    ],
)
def test_headings_get_the_anchors_github_gives_them(heading: str, anchor: str) -> None:
    assert anchor in heading_anchors(heading + "\n")

"""Every documentation citation in the repository points at a section that exists (pure text, fast).

Docstrings, comments, printed notes and result files cite ``docs/<name>.md §N`` (and
``docs/method.md §N, eqs. A-B``). This test fails when a cited doc or section does not
exist, when a cited equation is not tagged ``(eq. N)`` in that section, or when a file
still cites the method or design notes that live outside the repository (the upper-case
file names of the shared folder).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
SCANNED = ("src", "tests", "benchmarks", "tools", "docs", "README.md", "MODEL_CARD.md")
TEXT_SUFFIXES = {".py", ".md", ".json", ".jsonl", ".txt", ".toml", ".cfg", ".ini", ".sh", ".csv", ".yaml", ".yml", ""}

# Spelled in parts so that this file does not cite them itself.
_OUTSIDE = "|".join(name + r"\.md" for name in ("METHOD", "DESIGN"))
OUTSIDE_NOTES = re.compile(rf"(?:{_OUTSIDE})")
SECTION = r"§\s*(\d+)"
DOC = r"(?<![\w/.-])(?:docs/)?([a-z][\w-]*)\.md"  # docs/name.md, or name.md inside docs/
CITATION = re.compile(DOC + r"((?:\s*(?:,|and|/)?\s*" + SECTION + r")+)")
EQS_AFTER = re.compile(DOC + r"\s*" + SECTION + r",?\s*eqs?\.\s*(\d+)(?:\s*[-–]\s*(\d+))?")
EQS_BEFORE = re.compile(r"eqs?\.\s*(\d+)(?:\s*[-–]\s*(\d+))?\s+of\s+" + DOC + r"\s*" + SECTION)
HEADING = re.compile(r"^#{1,6}\s+§?(\d+)[.):\s]", re.M)


def scanned_files() -> list[Path]:
    files: list[Path] = []
    for name in SCANNED:
        path = REPO / name
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files.extend(p for p in sorted(path.rglob("*")) if p.is_file() and p.suffix in TEXT_SUFFIXES
                         and "__pycache__" not in p.parts)
    return [p for p in files if p != Path(__file__).resolve()]  # this file's examples are bad on purpose


def read_text(path: Path) -> str:
    """The file's text, JSON's ``\\u00a7`` read as §."""
    return path.read_text(encoding="utf-8", errors="replace").replace("\\u00a7", "§")


def doc_sections(doc: Path) -> dict[int, str]:
    """Section number → the section's text, from headings ``## §N. Title`` (or ``## N. Title``)."""
    text = doc.read_text(encoding="utf-8")
    marks = list(HEADING.finditer(text))
    return {int(m.group(1)): text[m.start():marks[i + 1].start() if i + 1 < len(marks) else len(text)]
            for i, m in enumerate(marks)}


def citation_problems(text: str, docs_dir: Path = DOCS) -> list[str]:
    """What is wrong with the citations in ``text`` (empty = nothing)."""
    problems = [f"cites {m.group(0)} (not in the repository: cite docs/method.md or docs/design.md)"
                for m in OUTSIDE_NOTES.finditer(text)]
    cache: dict[str, dict[int, str] | None] = {}

    def sections(name: str) -> dict[int, str] | None:
        if name not in cache:
            doc = docs_dir / f"{name}.md"
            cache[name] = doc_sections(doc) if doc.is_file() else None
        return cache[name]

    for m in CITATION.finditer(text):
        found = sections(m.group(1))
        if found is None:
            problems.append(f"cites docs/{m.group(1)}.md, which does not exist")
            continue
        for number in re.findall(SECTION, m.group(2)):
            if int(number) not in found:
                problems.append(f"cites docs/{m.group(1)}.md §{number}, which has no such section")
    eqs = [(m.group(1), m.group(2), m.group(3), m.group(4)) for m in EQS_AFTER.finditer(text)]
    eqs += [(m.group(3), m.group(4), m.group(1), m.group(2)) for m in EQS_BEFORE.finditer(text)]
    for name, section, first, last in eqs:
        body = (sections(name) or {}).get(int(section))
        if body is None:
            continue  # reported above
        for eq in range(int(first), int(last or first) + 1):
            if f"(eq. {eq})" not in body:
                problems.append(f"cites eq. {eq} in docs/{name}.md §{section}, which does not tag it")
    return problems


def test_method_and_design_docs_have_their_sections() -> None:
    assert sorted(doc_sections(DOCS / "method.md")) == list(range(9))
    assert sorted(doc_sections(DOCS / "design.md")) == list(range(1, 8))


def test_every_equation_of_the_paper_is_tagged_once() -> None:
    text = (DOCS / "method.md").read_text(encoding="utf-8")
    for eq in range(1, 17):
        assert text.count(f"(eq. {eq})") == 1, f"eq. {eq}"


def test_readme_links_the_docs() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "(docs/method.md)" in readme and "(docs/design.md)" in readme


@pytest.mark.parametrize("path", scanned_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_citations_point_at_existing_sections(path: Path) -> None:
    assert citation_problems(read_text(path)) == []


def test_the_checker_catches_bad_citations() -> None:
    outside = "METHOD" + ".md §3"
    assert citation_problems(f"see {outside}")
    assert citation_problems("see docs/method.md §42")
    assert citation_problems("see docs/nowhere.md §1")
    assert citation_problems("see docs/design.md §3, §99")
    assert citation_problems("losses, docs/method.md §3, eqs. 5-9")
    assert citation_problems("eqs. 10–17 of docs/method.md §5")
    assert citation_problems("docs/method.md \\u00a742".replace("\\u00a7", "§"))
    assert not citation_problems("see docs/method.md §1 step 4 and docs/design.md §5")
    assert not citation_problems("losses, docs/method.md §4, eqs. 5-9; eqs. 10–16 of docs/method.md §5")

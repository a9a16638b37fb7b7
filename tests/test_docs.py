"""Comments cite the project's own docs (or Twilio's public pages), never files
outside the repository, and every section they cite exists."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
# the names of documents that are not part of the repository
OUTSIDE = re.compile(
    r"\b(resources|open-questions|client-protocol|conventions|roles|webhooks|push-and-clients"
    r"|limits|HELPERS|STYLE)\.md\b|/work/shared"
)
CITED = re.compile(r"docs/(behaviour|decisions)\.md((?:[ ,/and]*§[A-Z]*[0-9.]*[0-9A-Z])+)")


def _sources() -> list[Path]:
    found = []
    for folder in ("parley", "tests", "bench", "examples", "docs"):
        for path in (ROOT / folder).rglob("*"):
            if "node_modules" in path.parts or not path.is_file():
                continue
            if path.suffix in {".py", ".js", ".sql", ".md", ".yaml", ".toml"}:
                found.append(path)
    return found


def _sections(doc: str) -> set[str]:
    """The labels a doc's headings and bold items carry (``R3``, ``W3.1``, ``26``)."""
    text = (DOCS / doc).read_text()
    labels = set(re.findall(r"^#+\s+([A-Z]+[0-9.]*[0-9])\.", text, re.M))
    labels |= set(re.findall(r"\*\*([A-Z]+[0-9]+(?:\.[0-9]+)+) ", text))
    labels |= set(re.findall(r"^([0-9]+)\. \*\*", text, re.M))
    labels |= set(re.findall(r"^## ([A-Z])\. ", text, re.M))
    return labels


def test_nothing_cites_a_document_outside_the_repository() -> None:
    offenders = []
    for path in _sources():
        if path.resolve() == Path(__file__).resolve():
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            # the spec is read as data by the tests (tests may read ../shared)
            if OUTSIDE.search(line) and "openapi.json" not in line:
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_every_cited_section_exists() -> None:
    known = {"behaviour": _sections("behaviour.md"), "decisions": _sections("decisions.md")}
    assert {"R3", "W3.1", "C9.2", "A5", "E"} <= known["behaviour"]
    assert {"15", "26", "42"} <= known["decisions"]
    missing = []
    for path in _sources():
        for doc, refs in CITED.findall(path.read_text(errors="replace")):
            for label in re.findall(r"§([A-Z]*[0-9.]*[0-9A-Z])", refs):
                if label.rstrip(".") not in known[doc]:
                    missing.append(f"{path.relative_to(ROOT)}: docs/{doc}.md §{label}")
    assert missing == []

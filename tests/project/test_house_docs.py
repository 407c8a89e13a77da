"""Every file, folder and section the documentation names exists.

In README.md, docs/*.md and scripts/README.md: every relative Markdown link (and its #section,
for a Markdown target), and every repository path written out (`scripts/...`, `cunet/...`,
`configs/...`, `tests/...`, `docs/...`, from the repository root; `*` as a glob).
"""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PAGES = sorted([REPO / "README.md", REPO / "scripts" / "README.md", *(REPO / "docs").glob("*.md")])
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")
PATH = re.compile(r"(?<![\w./\-])((?:scripts|cunet|configs|tests|docs)/[\w.*/\-]*[\w*/])")


def _anchors(page: Path) -> set:
    """GitHub's anchors of a Markdown page's headings."""
    anchors = set()
    for line in page.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", title)))
    return anchors


def _broken_links(page: Path) -> list:
    broken = []
    for match in LINK.finditer(page.read_text()):
        target = match.group(1) or match.group(2)
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(target)
        elif anchor and file.suffix == ".md" and anchor not in _anchors(file):
            broken.append(target)
    return broken


def _missing_paths(page: Path) -> list:
    missing = []
    for mention in sorted(set(PATH.findall(page.read_text()))):
        mention = mention.rstrip(".")
        found = list(REPO.glob(mention)) if "*" in mention else (REPO / mention).exists()
        if not found:
            missing.append(mention)
    return missing


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_links_and_paths_of_the_docs_exist(page):
    assert page.is_file(), page
    assert not _broken_links(page), f"{page.name}: broken links {_broken_links(page)}"
    assert not _missing_paths(page), f"{page.name}: names paths that do not exist: {_missing_paths(page)}"


def test_the_checks_find_what_is_missing(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "# A title\n[ok](#a-title) [gone](nowhere.md) [bad anchor](#other)\n"
        "Run `scripts/no_such_script.py` or `cunet/config.py`, see tests/project/test_house_*.py.\n"
    )
    assert _broken_links(page) == ["nowhere.md", "#other"]
    assert _missing_paths(page) == ["scripts/no_such_script.py"]

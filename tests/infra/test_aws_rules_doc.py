"""docs/aws-rules.md is the list a reviewer checks first: every row names a source and a test that exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "docs" / "aws-rules.md"
TEST_FILE = re.compile(r"tests/[\w/]+\.py")
TEST_NAME = re.compile(r"\btest_\w+")


def rows() -> list[list[str]]:
    found = []
    for line in RULES.read_text().splitlines():
        if line.startswith("| ") and not line.startswith(("| rule ", "|---")):
            found.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return found


def test_every_rule_has_a_source_a_place_in_the_product_and_an_enforcer() -> None:
    assert len(rows()) >= 35
    for cells in rows():
        assert len(cells) == 4 and all(cells), cells[0][:80]


def test_every_test_a_rule_names_exists_in_the_files_it_names() -> None:
    for rule, _, _, enforced in rows():
        files = [ROOT / path for path in TEST_FILE.findall(enforced)]
        assert all(path.exists() for path in files), (rule[:80], files)
        sources = "".join(path.read_text() for path in files)
        for name in set(TEST_NAME.findall(enforced)) - {Path(p).stem for p in TEST_FILE.findall(enforced)}:
            assert re.search(rf"def {name}\b", sources), f"{name} (rule: {rule[:80]})"

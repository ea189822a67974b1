"""benchmarks/_results.py: `--write` replaces a section of RESULTS.md in place, never appends a copy."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from _results import replace_section

DOC = "# Results\n\nintro\n\n## A\n\nold a\n\n## B\n\nb stays\n"


def test_a_section_written_again_replaces_the_old_one_where_it_stands() -> None:
    out = replace_section(DOC, "## A\n\nnew a\n")
    assert out == "# Results\n\nintro\n\n## A\n\nnew a\n\n## B\n\nb stays\n"
    assert replace_section(out, "## A\n\nnew a\n") == out  # idempotent: one copy


def test_the_last_section_is_replaced_to_the_end_of_the_file() -> None:
    assert replace_section(DOC, "## B\nfresh b") == "# Results\n\nintro\n\n## A\n\nold a\n\n## B\nfresh b\n"


def test_a_new_section_is_appended() -> None:
    assert replace_section(DOC, "## C\n\nc\n").endswith("b stays\n\n## C\n\nc\n")


def test_a_subsection_heading_is_part_of_its_section() -> None:
    doc = "## A\n\n### detail\n\nx\n\n## B\n"
    assert replace_section(doc, "## A\n\ny\n") == "## A\n\ny\n\n## B\n"


def test_text_without_a_heading_is_refused() -> None:
    with pytest.raises(ValueError):
        replace_section(DOC, "no heading")

"""benchmarks/attacks.py: its suites exist, every one has a category, outcomes are read right."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("llmctl_bench_attacks", REPO / "benchmarks" / "attacks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


attacks = _load()


def _test_files(entry: str) -> list[Path]:
    path = REPO / entry.split("::")[0]
    return sorted(path.glob("test_*.py")) if path.is_dir() else [path]


def test_every_suite_names_existing_tests_and_has_a_category() -> None:
    attacks.check_suites(attacks.SUITES)
    for entry in attacks.SUITES:
        files = _test_files(entry)
        assert files and all(f.is_file() for f in files), entry
        for f in files:
            defined = _tests_in(f)
            wanted = [entry.split("::")[1]] if "::" in entry else defined
            for name in wanted:
                assert name in defined, f"{entry}: no such test (renamed?)"
                nodeid = f"{f.relative_to(REPO).as_posix()}::{name}"
                assert attacks.category_of(nodeid) != attacks.OTHER, nodeid


def _tests_in(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]


def test_an_entry_inside_another_is_refused() -> None:
    with pytest.raises(SystemExit, match="inside"):
        attacks.check_suites(["tests/reliability", "tests/reliability/test_rel_disk.py"])
    with pytest.raises(SystemExit, match="inside"):
        attacks.check_suites(["tests/test_yamlio.py", "tests/test_yamlio.py::test_alias_bomb_is_refused"])
    attacks.check_suites(["tests/test_yamlio.py::test_a", "tests/test_yamlio.py::test_ab"])


def test_categories_of_mixed_files() -> None:
    assert attacks.category_of("tests/test_bad_inputs.py::test_bad_input[symlink-include-dotenv]") == "path-escapes"
    assert attacks.category_of("tests/test_bad_inputs.py::test_bad_input[sandbox-str-mro]") == "templates-yaml"
    assert attacks.category_of("tests/test_bad_inputs.py::test_bad_input[store-not-duckdb]") == "damaged-stores"
    assert attacks.category_of("tests/test_bad_inputs.py::test_bad_input[tab-indented]") == "bad-input-files"
    assert attacks.category_of("tests/models/test_models_http.py::test_url_credentials_and_a_key_are_refused") == (
        "secrets"
    )
    assert attacks.category_of("tests/models/test_models_http.py::test_chunked_body") == "odd-servers"


JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest">
<testcase classname="tests.reliability.test_rel_secrets" name="test_canary[native]"
  file="tests/reliability/test_rel_secrets.py" time="1.5"/>
<testcase classname="tests.reliability.test_rel_secrets" name="test_canary[litellm]"
  file="tests/reliability/test_rel_secrets.py" time="2.0"><failure message="leaked">x</failure></testcase>
<testcase classname="tests.reliability.test_rel_keepalive" name="test_close[idle-litellm]"
  file="tests/reliability/test_rel_keepalive.py" time="0.5"><skipped type="pytest.xfail" message="gap"/></testcase>
<testcase classname="tests.reliability.test_rel_disk" name="test_full"
  file="tests/reliability/test_rel_disk.py" time="0.1"><skipped type="pytest.skip" message="no tmpfs"/></testcase>
<testcase classname="tests.store.test_identify.TestOpen" name="test_truncated"
  file="tests/store/test_identify.py" time="0.2"><error message="fixture">x</error></testcase>
</testsuite></testsuites>
"""


def test_outcomes_from_junit_xml(tmp_path: Path) -> None:
    xml = tmp_path / "j.xml"
    xml.write_text(JUNIT, encoding="utf-8")
    got = attacks.parse_junit(xml)
    assert [(a.nodeid, a.outcome) for a in got] == [
        ("tests/reliability/test_rel_secrets.py::test_canary[native]", "passed"),
        ("tests/reliability/test_rel_secrets.py::test_canary[litellm]", "failed"),
        ("tests/reliability/test_rel_keepalive.py::test_close[idle-litellm]", "xfail"),
        ("tests/reliability/test_rel_disk.py::test_full", "skipped"),
        ("tests/store/test_identify.py::TestOpen::test_truncated", "error"),
    ]
    rows = {r.category: r for r in attacks.tabulate(got)}
    assert (rows["secrets"].tried, len(rows["secrets"].held)) == (2, 1)
    assert [a.outcome for a in rows["odd-servers"].not_held] == ["xfail"]
    assert (rows["damaged-stores"].tried, len(rows["damaged-stores"].skipped)) == (1, 1)  # skipped: not tried
    text = attacks.table(list(rows.values()))
    assert "`test_rel_secrets.py::test_canary[litellm]`" in text
    assert "`test_rel_keepalive.py::test_close[idle-litellm]` (xfail)" in text
    assert "| **all** | | **4** | **1** | 3 | 1 |" in text

"""Template bombs and hostile evaluators (issue 10 items 3 and 4).

Every bomb from the adversarial pass must end quickly with exit 2 and one
message naming the file and line (never "internal error", never the OOM
killer); `--deadline` must stop rendering and evaluators; a catastrophic regex
fails its case instead of blocking the event loop.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from llmctl import sandbox
from llmctl.cli import _common
from llmctl.store import Store
from tests.e2e.project import llmctl, write

STORE = ".llmctl/llmctl.duckdb"


def _project(root: Path, template: str, files: dict[str, Any] | None = None) -> None:
    write(
        root,
        {
            "llmctl.yaml": f"default_models: [echo]\nstore: {STORE}\n",
            "prompts/b.yaml": "inputs: {q: {type: string, default: x}}\ntemplate: |\n  " + template + "\n",
            "evalsets/b.yaml": "prompt: b\ncases: [{id: c1, vars: {q: x}}]\n",
            **(files or {}),
        },
    )


def _chain(n: int) -> dict[str, str]:
    files = {f"prompts/partials/c{i}.jinja": f'{{% include "partials/c{i + 1}.jinja" %}}' for i in range(n)}
    files[f"prompts/partials/c{n}.jinja"] = "end"
    return files


def _fan_out(levels: int, width: int) -> dict[str, str]:
    files = {
        f"prompts/partials/f{i}.jinja": f'{{% include "partials/f{i + 1}.jinja" %}}' * width for i in range(levels)
    }
    files[f"prompts/partials/f{levels}.jinja"] = ""
    return files


# (id, template, extra files, expected message, expected location)
BOMBS: list[tuple[str, str, dict[str, str], str, str]] = [
    ("int-power-folded", "{{ (9 ** 999999999) > 1 }}", {}, "9 ** 999999999 has about", "prompts/b.yaml:3"),
    ("int-product", "{% set n = 10 ** 3000 %}{{ n * n * n * n }}", {}, "bits (limit", "prompts/b.yaml:3"),
    ("string-repeat", "{{ 'a' * 10**10 }}", {}, "a repeated string or list would be over", "prompts/b.yaml:3"),
    ("list-repeat", "{{ [1, 2] * 10**9 }}", {}, "a repeated string or list", "prompts/b.yaml:3"),
    ("center-filter", "{{ 'a'|center(3000000000) }}", {}, "the argument of 'center'", "prompts/b.yaml:3"),
    ("center-method", "{{ 'a'.center(3000000000) }}", {}, "the width of 'center'", "prompts/b.yaml:3"),
    ("printf-width", "{{ '%3000000000d' % 1 }}", {}, "a format width 3,000,000,000", "prompts/b.yaml:3"),
    ("printf-star-width", "{{ '%*d' % (3000000000, 1) }}", {}, "a format width", "prompts/b.yaml:3"),
    ("format-filter-width", "{{ '%3000000000d'|format(1) }}", {}, "a format width", "prompts/b.yaml:3"),
    ("str-format-width", "{{ '{:3000000000}'.format(1) }}", {}, "a format width", "prompts/b.yaml:3"),
    ("str-format-nested-width", "{{ '{:{w}}'.format(1, w=3000000000) }}", {}, "a format width", "prompts/b.yaml:3"),
    ("indent-width", "{{ 'x'|indent(3000000000) }}", {}, "the argument of 'indent'", "prompts/b.yaml:3"),
    (
        "replace-growth",
        "{{ ('a' * 1000000)|replace('a', 'bbbbbbbbbb') }}",
        {},
        "the result of 'replace'",
        "prompts/b.yaml:3",
    ),
    (
        "concat-doubling",
        "{% set ns = namespace(s='a' * 1000000) %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        {},
        "a string would be over",
        "prompts/b.yaml:3",
    ),
    (
        "printed-references",
        "{% set b = 'a' * 3000000 %}{{ [b, b, b, b, b, b, b, b] }}",
        {},
        "a printed value",
        "prompts/b.yaml:3",
    ),
    ("join-references", "{% set b = 'a' * 3000000 %}{{ [b, b, b]|join }}", {}, "'join'", "prompts/b.yaml:3"),
    (
        "macro-buffer",
        "{% macro m() %}{% for i in range(100000) %}{{ 'a' * 1000 }}{% endfor %}{% endmacro %}{{ m() }}",
        {},
        "a block's output",
        "prompts/b.yaml:3",
    ),
    ("output-size", "{% for i in range(100000) %}{{ 'a' * 1000 }}{% endfor %}", {}, "the rendered prompt", ""),
    ("range-length", "{{ range(10**10)|list|length }}", {}, "range() of 10,000,000,000 items", "prompts/b.yaml:3"),
    ("recursive-macro", "{% macro m(n) %}{{ m(n) }}{% endmacro %}{{ m(1) }}", {}, "nested more than", "prompts/b.yaml"),
    ("huge-literal", "{{ 1" + "0" * 5000 + " }}", {}, "invalid literal", "prompts/b.yaml:3"),
    (
        "self-include",
        '{% include "partials/self.jinja" %}',
        {"prompts/partials/self.jinja": '{% include "partials/self.jinja" %}'},
        "include cycle",
        "prompts/partials/self.jinja:1",
    ),
    (
        "mutual-include",
        '{% include "partials/a.jinja" %}',
        {
            "prompts/partials/a.jinja": '{% include "partials/b.jinja" %}',
            "prompts/partials/b.jinja": 'x\n{% include "partials/a.jinja" %}',
        },
        "include cycle: prompts/partials/a.jinja -> prompts/partials/b.jinja -> prompts/partials/a.jinja",
        "prompts/partials/b.jinja:2",
    ),
    ("include-chain-2000", '{% include "partials/c0.jinja" %}', _chain(2000), "nested more than 32 deep", ""),
    ("include-fan-out", '{% include "partials/f0.jinja" %}', _fan_out(8, 10), "more than 10,000 includes", ""),
]


@pytest.mark.parametrize(("template", "files", "message", "where"), [b[1:] for b in BOMBS], ids=[b[0] for b in BOMBS])
def test_template_bomb_is_an_input_error(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    template: str,
    files: dict[str, str],
    message: str,
    where: str,
) -> None:
    monkeypatch.setattr(_common, "DEBUG", False)
    _project(tmp_path, template, files)
    started = time.monotonic()
    for argv in (["lint"], ["render", "b"], ["eval"]):
        code, out = llmctl(tmp_path, *argv, capsys=capsys)
        if argv == ["lint"] and code == 0:
            continue  # lint checks the files; a bomb that only goes off when rendered passes it
        assert code == 2, (argv, out)
        assert message in out, (argv, out)
        assert "internal error" not in out and "Traceback" not in out, out
        if where:  # a render error in eval names the case, and the prompt's file and line in its hint
            assert f"error: {where}" in out or (argv == ["eval"] and f"while rendering {where}" in out), (argv, out)
    assert time.monotonic() - started < 30
    assert not (tmp_path / STORE).exists() or not Store(tmp_path / STORE).list_runs()  # nothing was stored


@pytest.mark.parametrize(
    "template",
    [
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "{% set s = 'a' * 100000 %}{% for c in s %}{% for d in s %}{% endfor %}{% endfor %}",
        "{% for i in range(100000) %}{% for j in range(100000) %}{{ '' }}{% endfor %}{% endfor %}",
    ],
    ids=["nested-range", "nested-string-loop", "nested-output"],
)
def test_time_bomb_stops_at_the_render_time_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, template: str
) -> None:
    monkeypatch.setattr(_common, "DEBUG", False)
    monkeypatch.setattr(sandbox, "RENDER_TIMEOUT_S", 0.5)
    _project(tmp_path, template)
    started = time.monotonic()
    code, out = llmctl(tmp_path, "render", "b", capsys=capsys)
    assert code == 2, out
    assert "error: prompts/b.yaml:3: template exceeds a render limit: rendering took longer than 0.5 s" in out
    assert time.monotonic() - started < 10


def test_deadline_covers_rendering(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The render limit is far away; `--deadline 1` still ends the eval within seconds (exit 3)."""
    monkeypatch.setattr(_common, "DEBUG", False)
    monkeypatch.setattr(sandbox, "RENDER_TIMEOUT_S", 600)
    _project(tmp_path, "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}")
    started = time.monotonic()
    code, out = llmctl(tmp_path, "eval", "--deadline", "1", capsys=capsys)
    elapsed = time.monotonic() - started
    assert code == 3, out
    assert "--deadline passed while rendering" in out and "case 'c1'" in out, out
    assert "nothing was called or stored" in out
    assert elapsed < 10, elapsed


def test_slow_but_legal_template_renders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The limits leave ordinary heavy templates alone: 100,000 iterations, a 1 MB string, includes in a loop."""
    _project(
        tmp_path,
        "{% for i in range(100000) %}{% if i % 50000 == 0 %}{{ i }};{% endif %}{% endfor %}"
        "{{ ('ab' * 500000)|length }};{{ '%05d' % 42 }};{{ '{:>8}'.format('r') }};"
        '{% for i in range(300) %}{% include "partials/p.jinja" %}{% endfor %}',
        {"prompts/partials/p.jinja": "."},
    )
    code, out = llmctl(tmp_path, "render", "b", capsys=capsys)
    assert code == 0, out
    assert "0;50000;1000000;00042;       r;" + "." * 300 in out


def test_catastrophic_regex_fails_the_case_and_the_run_finishes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`^(a|aa)+$` on a 41-character output: each case fails with the timeout as its error, quickly."""
    write(
        tmp_path,
        {
            "llmctl.yaml": f"default_models: [echo]\nstore: {STORE}\n",
            "prompts/r.yaml": "inputs: {q: {type: string}}\ntemplate: '{{ q }}'\n",
            "evalsets/r.yaml": {
                "prompt": "r",
                "evaluators": [{"type": "regex", "value": "^(a|aa)+$", "timeout": 0.2}],
                "cases": [
                    {"id": "bad", "vars": {"q": "a" * 40 + "!"}},
                    {"id": "good", "vars": {"q": "aaaa"}},
                ],
            },
        },
    )
    started = time.monotonic()
    code, out = llmctl(tmp_path, "eval", capsys=capsys)
    assert time.monotonic() - started < 20
    assert code in (0, 1), out  # a failed case (the gate has no floor here), not a crash or a hang
    store = Store(tmp_path / STORE)
    run = store.list_runs()[0]
    outcomes = {o.case_id: o for o in store.outcomes(run.id)}
    assert outcomes["good"].passed is True
    assert outcomes["bad"].passed is False
    rows = store._db.run(
        lambda con: con.execute("SELECT error FROM scores WHERE run_id = ?", [run.id]).fetchall(), read_only=True
    )
    assert any(e and "took more than 0.2 s" in e for (e,) in rows), rows


def test_deadline_covers_evaluators(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Once --deadline has passed, evaluators no longer run: their scores are errors, never passes."""
    write(
        tmp_path,
        {
            "llmctl.yaml": f"default_models: [echo]\nstore: {STORE}\n",
            "prompts/r.yaml": "inputs: {q: {type: string}}\ntemplate: '{{ q }}'\n",
            "evalsets/r.yaml": {
                "prompt": "r",
                "evaluators": [
                    {"type": "regex", "value": "^(a|aa)+$", "timeout": 1.5},
                    {"type": "contains", "value": "a"},
                ],
                "cases": [{"id": f"c{i}", "vars": {"q": "a" * 40 + "!"}} for i in range(6)],
            },
        },
    )
    started = time.monotonic()
    code, out = llmctl(tmp_path, "eval", "--deadline", "1", "--concurrency", "1", capsys=capsys)
    assert time.monotonic() - started < 15
    assert code in (0, 1, 3), out
    store = Store(tmp_path / STORE)
    run = store.list_runs()[0]
    rows = store._db.run(
        lambda con: con.execute("SELECT s.error, s.passed FROM scores s WHERE s.run_id = ?", [run.id]).fetchall(),
        read_only=True,
    )
    results = store.outcomes(run.id)
    assert len(results) == 6  # one result per case, whatever the deadline did
    assert not any(o.passed for o in results)
    assert any(e == "deadline exceeded before scoring" for e, _ in rows) or any(
        o.error == "deadline exceeded" for o in results
    ), (rows, [o.error for o in results])

"""Pinned prompt versions in an evalset (issue 22, contract corners 11 and 12): two versions of one
prompt are two prompts in the store, and a pinned ref stays pinned on the baseline side."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.project import config, git, init_repo, llmctl, write
from tests.reliability.helpers import store


def _prompt(word: str) -> dict[str, object]:
    return {
        "inputs": {"question": {"type": "string"}},
        "messages": [{"role": "system", "content": f"Answer {word}."}, {"role": "user", "content": "{{ question }}"}],
    }


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    init_repo(tmp_path)
    write(tmp_path, {"llmctl.yaml": config(), "prompts/add.yaml": _prompt("one")})
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "v1")
    git(tmp_path, "tag", "first")
    write(tmp_path, {"prompts/add.yaml": _prompt("two")})
    git(tmp_path, "commit", "-qam", "v2")
    git(tmp_path, "tag", "second")
    return tmp_path


def _evalset(root: Path, prompts: list[str]) -> None:
    write(
        root,
        {
            "evalsets/add.yaml": {
                "prompt": prompts,
                "models": ["echo"],
                "evaluators": [{"type": "icontains", "value": "answer"}],
                "cases": [{"id": "a", "vars": {"question": "1+1?"}}, {"id": "b", "vars": {"question": "2+2?"}}],
            }
        },
    )


def test_two_versions_of_one_prompt_are_stored_and_compared_as_two_prompts(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _evalset(repo, ["add@first", "add@second"])
    code, out = llmctl(repo, "eval", capsys=capsys)
    assert code == 0, out
    run = store(repo).list_runs()[0]
    rows = store(repo).query(
        "SELECT prompt, case_id, output FROM results WHERE run_id = $r ORDER BY 1, 2", {"r": run.id}
    )
    assert [(r[0], r[1]) for r in rows] == [
        ("add@first", "a"),
        ("add@first", "b"),
        ("add@second", "a"),
        ("add@second", "b"),
    ]
    assert "Answer one." in rows[0][2] and "Answer two." in rows[2][2]


def test_a_pinned_ref_stays_pinned_under_baseline_and_is_not_changed(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _evalset(repo, ["add@first"])
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "evalset")
    git(repo, "tag", "base")
    write(repo, {"prompts/add.yaml": _prompt("three")})  # the work tree moves on; the pin does not
    git(repo, "commit", "-qam", "v3")
    code, out = llmctl(repo, "eval", "--baseline", "base", capsys=capsys)
    assert code in (0, 1), out
    outputs = {
        r[0]: r[1] for r in store(repo).query("SELECT run_id, string_agg(output, '|') FROM results GROUP BY run_id", {})
    }
    assert len(outputs) == 2 and all(
        "Answer one." in o and "two" not in o and "three" not in o for o in outputs.values()
    )
    runs = len(store(repo).list_runs())
    code, out = llmctl(repo, "eval", "--baseline", "base", "--changed-only", capsys=capsys)
    assert code == 0, out
    assert len(store(repo).list_runs()) == runs, out  # nothing it uses changed: not evaluated again

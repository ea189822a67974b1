"""`--changed-only` follows the judge prompts the evaluators really load, and the judge model only
where a judge-type evaluator uses it (llmctl/fingerprint.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from llmctl.scaffold import scaffold
from tests.cli.clirun import run
from tests.gitrepo import JUDGE_PROMPT, GitRepo, git_env, pr_project
from tests.gitrepo import TICKET_PROMPT as PROMPT

CONFIG = """\
default_models: [demo]
models:
  demo: {model: scripted, default: "ok"}
  grader: {model: scripted, default: '{"score": 1.0, "pass": true, "reason": "fine"}'}
  grader2: {model: scripted, default: '{"score": 1.0, "pass": true, "reason": "also fine"}'}
judge:
  model: grader
gate:
  quality: {min_pass_rate: 0.5, max_drop: 0.5}
  latency: {p95_max_increase: null}
"""

PAIRWISE_PROMPT = """\
messages:
  - role: user
    content: "Rubric: {{ rubric }} A: {{ response_a }} B: {{ response_b }}"
"""

EVALSETS = {
    # a judge by an alias, no `prompt:`: loads prompts/judges/rubric.yaml when there is one
    "evalsets/judged.yaml": (
        "prompt: ask\nmodels: [demo]\nevaluators:\n  - {type: llm_rubric, rubric: 'fine?'}\n"
        "cases:\n  - {id: j1, vars: {ticket: one}}\n"
    ),
    "evalsets/paired.yaml": (
        "prompt: ask\nmodels: [demo]\nevaluators:\n  - {type: pairwise}\n"
        "cases:\n  - {id: p1, vars: {ticket: two}, expected: ok}\n"
    ),
    # a judge by a `prompt:` name under prompts/
    "evalsets/named.yaml": (
        "prompt: ask\nmodels: [demo]\nevaluators:\n  - {type: judge, rubric: 'fine?', prompt: judges/strict}\n"
        "cases:\n  - {id: n1, vars: {ticket: three}}\n"
    ),
    "evalsets/plain.yaml": (
        "prompt: ask\nmodels: [demo]\ncases:\n  - {id: x1, vars: {ticket: four}, assert: [{type: equals, value: ok}]}\n"
    ),
}
ALL = {"judged", "paired", "named", "plain"}


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    return pr_project(
        tmp_path / "proj",
        {
            "llmctl.yaml": CONFIG,
            ".gitignore": ".llmctl/\nreport.*\n",
            "prompts/ask.yaml": PROMPT,
            "prompts/judges/rubric.yaml": JUDGE_PROMPT,
            "prompts/judges/strict.yaml": JUDGE_PROMPT,
            **EVALSETS,
        },
        monkeypatch,
    )


def evaluated(repo: GitRepo, files: dict[str, str | None], capsys, monkeypatch) -> tuple[set[str], str]:
    repo.write(files)
    code, out, err = run(["eval", "--baseline", "base", "--changed-only", "-o", "report.md"], capsys, monkeypatch)
    assert code in (0, 1), out + err  # ran (the scripted grader's verdicts may fail the pairwise gate)
    skipped = {name for name in ALL if f"skipped {name}" in out}
    return ALL - skipped, out.replace("\n", " ")


def test_editing_the_project_judge_prompt_selects_the_judges_that_load_it(repo, capsys, monkeypatch) -> None:
    ran, out = evaluated(repo, {"prompts/judges/rubric.yaml": JUDGE_PROMPT + "# stricter\n"}, capsys, monkeypatch)
    assert ran == {"judged"}, out
    assert "prompts/judges/rubric.yaml changed" in out


def test_adding_a_project_pairwise_prompt_selects_the_pairwise_evalset(repo, capsys, monkeypatch) -> None:
    ran, out = evaluated(repo, {"prompts/judges/pairwise.yaml": PAIRWISE_PROMPT}, capsys, monkeypatch)
    assert ran == {"paired"}, out
    assert "prompts/judges/pairwise.yaml added" in out


def test_a_judge_prompt_named_without_its_suffix_is_followed(repo, capsys, monkeypatch) -> None:
    ran, out = evaluated(repo, {"prompts/judges/strict.yaml": JUDGE_PROMPT + "# v2\n"}, capsys, monkeypatch)
    assert ran == {"named"}, out
    assert "prompts/judges/strict.yaml changed" in out


def test_a_judge_model_change_selects_only_evalsets_with_judge_type_evaluators(repo, capsys, monkeypatch) -> None:
    ran, out = evaluated(
        repo, {"llmctl.yaml": CONFIG.replace("model: grader\n", "model: grader2\n")}, capsys, monkeypatch
    )
    assert ran == {"judged", "paired", "named"}, out
    assert "llmctl.yaml: judge.model changed" in out


def test_the_scaffolded_judge_prompt_is_what_the_scaffolded_judge_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's case: `llmctl init`, commit, edit prompts/judges/rubric.yaml: its evalset runs."""
    git_env(monkeypatch)
    monkeypatch.delenv("LLMCTL_DB", raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    repo = GitRepo.init(tmp_path / "proj")
    scaffold(repo.root)
    shutil.rmtree(repo.root / ".github")
    repo.commit(message="init")
    repo.branch("base")
    monkeypatch.chdir(repo.root)
    rubric = repo.root / "prompts/judges/rubric.yaml"
    assert rubric.is_file(), "the scaffold ships the judge prompt its judge uses"
    rubric.write_text(rubric.read_text() + "# grade harder\n")
    code, out, err = run(["eval", "--baseline", "base", "--changed-only", "-o", "report.md"], capsys, monkeypatch)
    assert code == 0, out + err
    assert "skipped summarize" not in out and "skipped safety" in out, out
    assert "prompts/judges/rubric.yaml changed" in out.replace("\n", " ")


@pytest.mark.parametrize(
    ("evaluator", "graded"),
    [
        ("{type: moderation}", False),  # moderation never takes judge.model (it requires model:)
        ("{type: moderation, model: openai/omni-moderation-latest}", False),
        ("{type: judge, rubric: ok, model: grader2}", False),
        ("{type: refusal, judge: grader2}", False),  # a delegated judge with its own model
        ("{type: rubric, rubric: ok}", True),
        ("{type: contains, value: ok}", False),
    ],
)
def test_the_judge_model_is_a_dependency_only_where_it_grades(tmp_path: Path, evaluator: str, graded: bool) -> None:
    from llmctl import fingerprint as fpr
    from llmctl.config import load_config
    from llmctl.evalset import load_evalset
    from llmctl.sources import WorktreeSource

    (tmp_path / "llmctl.yaml").write_text(CONFIG)
    (tmp_path / "evalsets").mkdir()
    path = tmp_path / "evalsets/e.yaml"
    path.write_text(f"prompt: ask\nmodels: [demo]\nevaluators:\n  - {evaluator}\ncases:\n  - {{id: a, vars: {{}}}}\n")
    cfg = load_config(tmp_path)
    ev = load_evalset(path, tmp_path)
    fp = fpr.fingerprint(cfg, WorktreeSource(tmp_path), ev, [], set(), uses_default_models=False)
    assert ("llmctl.yaml: judge" in fp) is graded
    assert ("grader" in fpr.model_names(ev, ["demo"], cfg)) is graded


def test_image_files_of_a_sourced_evalset_are_streamed_not_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The image files a prompt's `type: image` input reads are found by streaming the cases
    (Evalset.iter_cases), never by loading every case at once (Evalset.cases)."""
    from llmctl import fingerprint
    from llmctl.config import load_config
    from llmctl.evalset import Evalset, load_evalset
    from llmctl.prompt import parse_prompt
    from llmctl.sources import WorktreeSource
    from tests.test_images import png

    (tmp_path / "llmctl.yaml").write_text("default_models: [demo]\nmodels:\n  demo: {model: echo}\n", encoding="utf-8")
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "look.yaml").write_text(
        "inputs:\n  photo: {type: image}\nmessages:\n  - role: user\n    content: describe\n", encoding="utf-8"
    )
    images = tmp_path / "evalsets" / "images"
    images.mkdir(parents=True)
    for name in ("a.png", "b.png", "c.png"):
        (images / name).write_bytes(png())
    rows = ["id,photo"] + [f"r{i},images/{'abc'[i % 3]}.png" for i in range(7000)]  # more than one chunk
    (tmp_path / "evalsets" / "rows.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (tmp_path / "evalsets" / "look.yaml").write_text(
        "prompt: look\nsource: {path: rows.csv}\nevaluators:\n  - {type: contains, value: x}\n"
        "cases:\n  - {id: inline, vars: {photo: images/a.png}}\n",
        encoding="utf-8",
    )
    cfg = load_config(tmp_path)
    ev = load_evalset(tmp_path / "evalsets" / "look.yaml", tmp_path)
    prompt = parse_prompt(WorktreeSource(tmp_path), "prompts/look.yaml")

    def held(self: Evalset) -> None:
        raise AssertionError("every case loaded at once")

    monkeypatch.setattr(Evalset, "cases", held)
    assert fingerprint._image_files(cfg, ev, [prompt]) == [f"evalsets/images/{n}" for n in ("a.png", "b.png", "c.png")]

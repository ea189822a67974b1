"""Untrusted content: hostile model outputs, garbage judge verdicts, malicious prompts, bad store files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pytest

from llmctl.store import Store
from llmctl.testing.server import FakeOpenAIServer
from tests.e2e.project import config, evalset, git, init_repo, llmctl, prompt, write
from tests.reliability.helpers import STORE, make_project, run_cli, store

PAYLOAD = (
    "<script>alert('xss')</script> </textarea><img src=x onerror=alert(2)> "
    "[click](javascript:alert(1)) **bold** \x1b[2J\x1b]0;pwned\x07 done\n"
    "```\n<script>alert('fence')</script>\n~~~~\n<iframe src=javascript:alert(3)></iframe> @everyone"
)


def _outside_fences(md: str) -> str:
    """The Markdown text outside fenced code blocks (CommonMark: a fence closes with a run at least as long)."""
    kept, fence = [], None
    for line in md.splitlines():
        stripped = line.lstrip(" ")
        run = len(stripped) - len(stripped.lstrip(stripped[:1])) if stripped[:1] in ("`", "~") else 0
        if fence is None:
            if run >= 3 and len(line) - len(stripped) <= 3:
                fence = (stripped[0], run)
                continue
            kept.append(line)
        elif stripped[:1] == fence[0] and run >= fence[1] and not stripped[run:].strip():
            fence = None
    return "\n".join(kept)


def test_hostile_model_output_is_escaped_everywhere(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    init_repo(tmp_path)
    with FakeOpenAIServer(responses={"v2": PAYLOAD, "question": "yes"}) as srv:
        make_project(tmp_path, srv.base_url, 3)
        git(tmp_path, "add", "-A")
        git(tmp_path, "commit", "-qm", "v1")
        write(tmp_path, {"prompts/qa.yaml": prompt("Answer briefly.", "v2 {{ question }}")})
        outputs = ["--output", "r.md", "--output", "r.html", "--output", "r.xml", "--output", "r.json"]
        code, out = llmctl(tmp_path, "eval", "--baseline", "HEAD", *outputs, capsys=capsys)
        assert code == 1, out  # every case flipped pass -> fail
        run = store(tmp_path).list_runs()[0]
        assert any("javascript" in (o.output or "") for o in store(tmp_path).outcomes(run.id))  # stored as sent
        code, shown = llmctl(tmp_path, "runs", "show", run.id, capsys=capsys)
        assert code == 0, shown
        code, reported = llmctl(tmp_path, "report", run.id, "--output", "again.md", capsys=capsys)
        assert code == 0, reported
    # terminal: the outputs are shown (flipped cases) but cannot drive the terminal
    terminal = out + shown + reported
    assert "flipped pass -> fail" in out and "alert" in out
    for ch in ("\x1b", "\x07", "\x9b"):
        assert ch not in terminal
    # HTML: no live markup from the output; the report's own single <script> only
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    # the output is in the report, as inert text (the escaped form of its script tag)
    assert any(f"&lt;script&gt;alert({q}xss{q})&lt;/script&gt;" in html for q in ("&#x27;", "&#39;", "'")), html[-3000:]
    for bad in ("<script>alert", "</textarea><img", "<img src=x", "<iframe"):
        assert bad not in html, bad
    assert "\x1b" not in html and "\x07" not in html
    assert html.lower().count("<script") == 1
    assert 'href="javascript' not in html.lower()
    # Markdown: no raw HTML, no live link, no escapes
    for name in ("r.md", "again.md"):
        md = (tmp_path / name).read_text(encoding="utf-8")
        assert "alert" in md  # the output is there...
        outside = _outside_fences(md)  # ...and whatever is not inert code text has no markup
        for bad in ("<script", "</textarea", "<img", "<iframe", "](javascript:", "@everyone"):
            assert bad not in outside, (bad, outside)
        assert "\x1b" not in md and "\x07" not in md
    # XML (JUnit) must stay well-formed
    import xml.etree.ElementTree as ET

    ET.parse(tmp_path / "r.xml")
    assert "\x1b" not in (tmp_path / "r.xml").read_text(encoding="utf-8")


GARBAGE = [
    "garbage",
    "PASS",
    'Sure! {"score": 1, "pass": true, "reason": "ok"}',
    '{"score": 1.0, "pass": true}',
    '{"score": 2, "pass": true, "reason": "too high"}',
    '{"score": 0.9, "pass": "yes", "reason": "string pass"}',
    '{"score": "1", "pass": true, "reason": "string score"}',
    "",
]


def test_garbage_judge_verdicts_never_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    n = len(GARBAGE) + 1  # the last case gets a valid verdict: the pipeline itself works
    answers = {f"question number {i}": f"answer-{i}" for i in range(n)}
    verdicts = {f"answer-{i}": g for i, g in enumerate(GARBAGE)}
    verdicts[f"answer-{n - 1}"] = '{"score": 1, "pass": true, "reason": "fine"}'
    with (
        FakeOpenAIServer(responses=answers) as cand,
        FakeOpenAIServer(responses=verdicts, default="no rule matched") as judge,
    ):
        cfg = config(cand.base_url)
        cfg["models"]["judge"] = {
            "model": "openai/judge-model",
            "api_base": judge.base_url,
            "api_key_env": "FAKE_API_KEY",
        }
        ev = evalset("qa", n)
        ev["evaluators"] = [{"type": "judge", "rubric": "Is the answer right?", "model": "judge"}]
        ev["gate"] = {"quality": {"min_pass_rate": 0.5}}
        write(tmp_path, {"llmctl.yaml": cfg, "prompts/qa.yaml": prompt("Answer."), "evalsets/qa.yaml": ev})
        code, out = llmctl(tmp_path, "eval", capsys=capsys)
        assert judge.requests == n
    assert code == 1, out  # the gate fails: judge errors are failures, not infrastructure errors
    outcomes = {o.case_id: o for o in store(tmp_path).outcomes("latest")}
    for i in range(len(GARBAGE)):
        o = outcomes[f"case-{i:03d}"]
        assert o.error is None
        assert not o.passed, (GARBAGE[i], o)
        (reason,) = o.reasons.values()
        assert "judge" in reason or "verdict" in reason, reason
    assert outcomes[f"case-{n - 1:03d}"].passed


MALICIOUS = {
    "subclasses": "{{ ().__class__.__base__.__subclasses__() }}",
    "globals": "{{ cycler.__init__.__globals__.os.system('touch PWNED') }}",
    "lipsum": "{{ lipsum.__globals__['os'].popen('touch PWNED').read() }}",
    "format": "{{ '{0.__class__.__init__.__globals__}'.format(question) }}",
    "include-parent": "{% include '../secret.txt' %}",
    "include-absolute": "{% include '/etc/hostname' %}",
    "var-attr": "{{ question.__class__.__mro__ }}",
    "import": "{% import '../secret.txt' as s %}{{ s }}",
}


@pytest.mark.parametrize("template", list(MALICIOUS.values()), ids=list(MALICIOUS))
def test_malicious_prompt_cannot_run_code_or_read_files(
    tmp_path: Path, template: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeOpenAIServer(responses={"question": "yes"}) as srv:
        make_project(tmp_path, srv.base_url, 3, user=template)
        write(tmp_path, {"secret.txt": "TOPSECRET-42"})
        code, out = llmctl(tmp_path, "eval", capsys=capsys)
        assert srv.requests == 0
    assert code == 2, out
    assert "Traceback" not in out
    assert "TOPSECRET-42" not in out
    assert not (tmp_path / "PWNED").exists()
    db = tmp_path / STORE
    assert not db.exists() or Store(db).list_runs() == []


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _newer_store(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    store_ = Store(path)
    store_.list_runs()
    Store(path).create_run(evalset="x", config={}, git_commit=None, git_branch=None)  # creates the file
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO schema_migrations VALUES (999, now())")
    con.close()


@pytest.mark.parametrize("kind", ["not-duckdb", "text", "empty-dir-file", "newer-schema", "foreign-duckdb"])
def test_bad_store_file_is_refused_and_left_alone(tmp_path: Path, kind: str) -> None:
    with FakeOpenAIServer(responses={"question": "yes"}) as srv:
        make_project(tmp_path, srv.base_url, 3)
        db = tmp_path / STORE
        db.parent.mkdir(parents=True, exist_ok=True)
        if kind == "not-duckdb":
            db.write_bytes(bytes(range(256)) * 64)
        elif kind == "text":
            db.write_text("this is a SQLite format 3 file? no, just notes\n" * 100)
        elif kind == "empty-dir-file":
            db.write_bytes(b"")
        elif kind == "newer-schema":
            _newer_store(db)
        else:
            con = duckdb.connect(str(db))
            con.execute("CREATE TABLE customers (id INTEGER, name TEXT)")
            con.execute("INSERT INTO customers VALUES (1, 'a')")
            con.close()
        before = _sha(db)
        siblings = sorted(p.name for p in db.parent.iterdir())
        for argv in (("eval",), ("runs", "list")):
            proc = run_cli(tmp_path, *argv)
            assert proc.returncode == 2, (argv, proc.stdout, proc.stderr)
            assert "Traceback" not in proc.stderr + proc.stdout
            errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
            assert len(errors) == 1, proc.stderr
            assert str(db.name) in errors[0], errors[0]
            assert _sha(db) == before, "the store file was changed"
            assert sorted(p.name for p in db.parent.iterdir()) == siblings, "files were added next to the store"
        assert srv.requests == 0

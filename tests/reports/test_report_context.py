"""The HTML report says which baseline it compares (ref, run, version hashes) and shows each
case's vars and expected value, with short outputs inline."""

from __future__ import annotations

import re
from pathlib import Path

from llmctl.store import Store
from tests.cli.clirun import run as cli
from tests.gitrepo import git_env, prompt_yaml
from tests.labelled_project import make


def test_html_report_shows_the_baseline_and_case_context(tmp_path: Path, capsys, monkeypatch) -> None:
    git_env(monkeypatch)
    monkeypatch.delenv("LLMCTL_DB", raising=False)
    root = tmp_path / "proj"
    repo = make(root)
    (root / "evalsets" / "support.yaml").write_text(
        (root / "evalsets" / "support.yaml")
        .read_text()
        .replace("    vars: {ticket: '3'}", "    vars: {ticket: '3'}\n    expected: refund")
    )
    repo.commit({"prompts/summarize.yaml": prompt_yaml("You summarize tickets briefly.", include=False)}, "shorter")
    monkeypatch.chdir(root)
    code, out, err = cli(["eval", "support", "--baseline", "HEAD~1", "--output", "report.html"], capsys, monkeypatch)
    assert code in (0, 1), out + err
    store = Store(root / ".llmctl" / "llmctl.duckdb")
    runs = {r.config.get("role"): r for r in store.list_runs()}
    cand, base = runs["candidate"], runs["baseline"]
    page = (root / "report.html").read_text()
    context = re.search(r'<table id="context">(.*?)</table>', page, re.DOTALL).group(1)
    assert "baseline ref</th><td>HEAD~1" in context
    assert base.id in context
    cand_hash = store.query("SELECT DISTINCT version_hash FROM results WHERE run_id = ?", [cand.id])[0][0]
    base_hash = store.query("SELECT DISTINCT version_hash FROM results WHERE run_id = ?", [base.id])[0][0]
    assert cand_hash != base_hash and cand_hash in context and base_hash in context
    # vars and expected next to the case; a short output inline (not hidden in a <details>)
    assert "vars: <code>{&quot;ticket&quot;: &quot;3&quot;}</code>" in page
    assert "expected: <code>refund</code>" in page
    assert '<pre class="short">answer ok</pre>' in page
    # the same context from `llmctl report`
    code, _out, err = cli(["report", cand.id, "-o", "again.html"], capsys, monkeypatch)
    assert code == 0, err
    assert "baseline ref</th><td>HEAD~1" in (root / "again.html").read_text()

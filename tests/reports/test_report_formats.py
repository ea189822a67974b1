"""Markdown, JUnit, JSON and HTML reports: structure, counts and escaping of hostile outputs."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest
from markdown_it import MarkdownIt
from report_fixtures import HOSTILE, outcome

from llmctl.errors import InputError
from llmctl.reports import (
    append_step_summary,
    content_security_policy,
    md_code_block,
    md_inline,
    read_json_report,
    render_report,
    terminal_safe,
    write_report,
)
from llmctl.reports._data import ReportData
from llmctl.summary import summarize


def test_junit_counts_and_well_formed(tmp_path, hostile_run):
    run, outcomes, verdict = hostile_run
    path = write_report(tmp_path / "report.xml", run, outcomes, verdict)
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    group = suites["support/triage × openai/gpt-4o-mini"]
    assert group.get("tests") == str(len(outcomes)) == "26"
    assert group.get("failures") == str(len(HOSTILE)) == "6"
    assert group.get("errors") == "1"
    assert len(group.findall("testcase")) == 26
    assert len(group.findall("testcase/failure")) == 6
    err = group.find("testcase/error")
    assert err is not None and "RateLimitError" in err.get("message") and "\x1b" not in err.get("message")
    xml_case = next(c for c in group.findall("testcase") if c.get("name") == "case-xml")
    failure_text = xml_case.find("failure").text
    assert "]]>" in failure_text and "\x00" not in failure_text and "\ufffe" not in failure_text
    gate = suites["llmctl gate"]
    assert int(gate.get("failures")) == len(verdict.failures) >= 2
    assert root.get("tests") == str(26 + int(gate.get("tests")))
    assert root.get("failures") == str(6 + int(gate.get("failures")))


def test_junit_repeats_name_each_sample(tmp_path):
    outs = [outcome("c1", r != 1, "x", repeat_index=r) for r in range(3)]
    root = ET.fromstring(render_report(".xml", ReportData({}, outs)).split("\n", 1)[1])
    names = [c.get("name") for c in root.iter("testcase")]
    assert names == ["c1#0", "c1#1", "c1#2"]
    assert root.get("failures") == "1"


def _render_md(text: str) -> str:
    # commonmark preset has raw HTML enabled, like GitHub before its sanitizer runs
    return MarkdownIt("commonmark").enable("table").render(text)


def test_markdown_neutralises_hostile_outputs(hostile_run):
    run, outcomes, verdict = hostile_run
    md = render_report(".md", ReportData(run, outcomes, verdict))
    assert md.startswith("## ❌ llmctl: FAIL")
    assert "\x1b" not in md and "\x07" not in md and "\x00" not in md
    html = _render_md(md)
    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
    assert "<a " not in html.lower()  # no link from an output, raw or Markdown
    assert "<textarea" not in html.lower()
    assert "&lt;script&gt;" in html  # shown, as text
    # every <details> opened is closed: the output's </details> did not end one early
    assert html.count("<details>") == html.count("</details>") == len(verdict.flipped)
    # Outside code blocks (which GitHub renders literally), mentions and bare URLs are
    # broken with a zero-width space so nobody is notified and nothing is linked.
    prose = re.sub(r"<pre>.*?</pre>", "", html, flags=re.DOTALL)
    assert not re.search(r"@octocat|@github/", prose)
    assert "@\u200boctocat" in prose
    assert "https://evil" not in prose and "www.evil" not in prose
    # verdict table and summary are there
    assert "| support/triage × openai/gpt\\-4o\\-mini | pass\\_rate |" in md
    assert "❌ **FAIL**" in md and "### Summary" in md and "### Flipped cases (6 case(s) pass → fail" in md


def test_md_helpers():
    assert md_inline("a|b\nc") == "a\\|b c"
    assert md_inline("[x](javascript:alert(1))") == "\\[x\\]\\(javascript:alert\\(1\\)\\)"
    assert md_inline("<b>&") == "&lt;b&gt;&amp;"
    block = md_code_block("text with ```` four ticks")
    assert block.startswith("`````text\n") and block.endswith("\n`````")
    html = _render_md(md_code_block("```\n<script>x</script>\n```"))
    assert "<script>" not in html and html.count("<pre>") == 1


def test_md_inline_defuses_references_and_mentions():
    """GitHub must not link `#123`, `o/r#3`, `GH-2` or notify `@team` from untrusted text (issue 10 item 7)."""
    import re

    from llmctl.reports.markdown import _md_html

    text = "fixes #123, see octo/repo#3 and GH-2, gh-7; cc @org/team and a@b.c"
    for rendered in (md_inline(text), _md_html(text)):
        plain = rendered.replace("\\", "")
        assert not re.search(r"#\d", plain), rendered
        assert not re.search(r"(?i)\bGH-\d", plain), rendered
        assert not re.search(r"@[A-Za-z]", plain), rendered
        assert "123" in plain and "octo/repo" in plain  # the text is still there
    assert md_inline("issue #1") == "issue \\#\u200b1"


def test_markdown_without_verdict_and_truncation():
    outs = [outcome(f"c{i}", i % 2 == 0, "y" * 10) for i in range(4)]
    md = render_report("md", ReportData({"evalset": "x"}, outs))
    assert "llmctl: NO GATE" in md and "### Gate" not in md and "| support/triage" in md


def test_json_round_trip(tmp_path, hostile_run):
    run, outcomes, verdict = hostile_run
    path = write_report(tmp_path / "out" / "report.json", run, outcomes, verdict)
    doc = json.loads(path.read_text())
    assert doc["format"] == "llmctl-report" and doc["status"] == "FAIL"
    back = read_json_report(path)
    assert back.outcomes == outcomes
    assert back.verdict.to_dict() == verdict.to_dict()
    assert back.groups == summarize(outcomes).groups and back.spend == summarize(outcomes).spend
    assert back.run == run
    assert render_report(".json", back) == path.read_text()


def test_html_escapes_everything_and_has_strict_csp(tmp_path, hostile_run):
    run, outcomes, verdict = hostile_run
    page = write_report(tmp_path / "report.html", run, outcomes, verdict).read_text()
    assert "<script>document" not in page
    assert "<img" not in page and "</textarea>" not in page
    assert "&lt;script&gt;document.title=&#x27;PWNED&#x27;" in page
    assert "onerror=&quot;" in page
    assert "\x1b" not in page and "\x07" not in page
    assert page.count("<script>") == 1  # our own
    csp = content_security_policy()
    assert "default-src 'none'" in csp and "script-src 'sha256-" in csp and "unsafe-inline" not in csp
    head = page.split("<title>")[0]
    assert 'http-equiv="Content-Security-Policy"' in head
    assert "http://" not in page.replace("http-equiv", "") and "https://evil" not in page.split("<main>")[0]
    assert 'id="only-failures"' in page and "llmctl: FAIL" in page


def test_write_report_rejects_unknown_extensions(tmp_path):
    with pytest.raises(InputError) as exc:
        write_report(tmp_path / "r.csv", {}, [])
    assert "llmctl eval" in exc.value.located()
    with pytest.raises(InputError):
        write_report(tmp_path / "r.pdf", {}, [])


def test_step_summary(tmp_path):
    target = tmp_path / "summary.md"
    assert append_step_summary("# one", env={"GITHUB_STEP_SUMMARY": str(target)})
    assert append_step_summary("# two\n", env={"GITHUB_STEP_SUMMARY": str(target)})
    assert target.read_text() == "# one\n# two\n"
    assert not append_step_summary("x", env={})


def test_terminal_safe():
    assert terminal_safe(HOSTILE["ansi"]) == "red  bell  cleared"
    assert terminal_safe("a\r\nb\tc\x00\x9b31m") == "a\nb\tc"
    assert terminal_safe("left\u202eright") == "leftright"
    assert terminal_safe(None) == ""


def test_tool_calls_show_in_html_and_junit_escaped(tmp_path):
    from llmctl.config import GateConfig
    from llmctl.gate import compare
    from llmctl.models._response import tool_call

    hostile = '{"q": "<script>alert(1)</script>"}'
    calls = [tool_call("get_order", '{"order_id": "ORD-1"}', "c1"), tool_call("search", hostile, "c2")]
    rows = [outcome("tools", False, "", tool_calls=calls)] + [outcome(f"ok-{i}", True, "fine") for i in range(3)]
    assert rows[0].shown_output == '-> get_order({"order_id": "ORD-1"})\n-> search(' + hostile + ")"
    verdict = compare(rows, rows, GateConfig(min_pass_rate=0.5))
    run = {"id": "run-7", "evalset": "agent"}
    page = write_report(tmp_path / "report.html", run, rows, verdict).read_text()
    assert "-&gt; get_order({&quot;order_id&quot;: &quot;ORD-1&quot;})" in page and "<script>alert" not in page
    junit = ET.parse(write_report(tmp_path / "report.xml", run, rows, verdict)).getroot()
    failure = next(tc for tc in junit.iter("testcase") if "tools" in tc.get("name", "")).find("failure")
    assert failure is not None and "-> search(" in (failure.text or "")


def test_markdown_names_failing_cases_without_a_baseline():
    """No baseline, nothing flipped: the comment still names the failing cases with their reasons,
    the first 20, "and M more", and the command that lists them all (issue 23 item 3)."""
    from llmctl.config import GateConfig
    from llmctl.gate import compare

    outcomes = [outcome(f"bad-{i:02d}", False, "no", reason=f"reason {i}") for i in range(25)]
    outcomes += [outcome(f"ok-{i}", True, "refund") for i in range(5)]
    verdict = compare(None, outcomes, GateConfig(min_pass_rate=0.9))
    md = render_report(".md", ReportData({"id": "r-1", "evalset": "triage"}, outcomes, verdict))
    assert "### Failing cases (25)" in md
    assert "| bad\\-00 | support/triage × openai/gpt\\-4o\\-mini | 1/1 | contains: reason 0 |" in md
    assert "bad\\-19" in md and "bad\\-20" not in md
    assert "… and 5 more. All of them: `llmctl runs show r-1 --failed" in md
    assert "/runs/r-1?filter=failed" in md


def test_markdown_flips_count_cases_not_samples():
    """repeat 5: 2 cases flip in every sample: "2 case(s) (10 samples)", never "10 case(s)" (item 5)."""
    from llmctl.config import GateConfig
    from llmctl.gate import compare

    def run(bad: set[str]) -> list:
        return [outcome(c, c not in bad, "x", repeat_index=r) for c in ("a", "b", "c", "d") for r in range(5)]

    verdict = compare(run(set()), run({"a", "b"}), GateConfig(max_drop=0.05))
    md = render_report(".md", ReportData({"id": "r-2"}, run({"a", "b"}), verdict))
    assert "### Flipped cases (2 case(s) (10 samples) pass → fail, 0 case(s) fail → pass)" in md


def test_json_results_keep_the_token_counts_flat(tmp_path) -> None:
    """A result's tokens are one `Usage` in llmctl; the JSON report keeps its five flat keys, in
    their place, and reads them (and those of older reports) back into `usage`."""
    from llmctl.types import TOKEN_FIELDS, CaseOutcome, Usage

    o = CaseOutcome("p", "m", "c1", passed=True, usage=Usage(12, 3, cached_tokens=4), tool_calls=None)
    doc = json.loads(render_report("json", ReportData({"evalset": "x"}, [o])))
    (row,) = doc["results"]
    keys = list(row)
    assert "usage" not in row and keys[keys.index("tool_calls") + 1 : keys.index("judge_calls")] == list(TOKEN_FIELDS)
    assert [row[k] for k in TOKEN_FIELDS] == [12, 3, 4, None, None]
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert read_json_report(path).outcomes == [o]

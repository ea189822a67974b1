"""Open the HTML report in a real headless browser: the verdict shows, hostile outputs do not run."""

from __future__ import annotations

import re
import subprocess

from llmctl.reports import write_report
from tests.browser import CHROMIUM, needs_chromium

pytestmark = needs_chromium


def dump_dom(page, tmp_path) -> str:
    profile = tmp_path / "profile"
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-extensions",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=3000",
        "--dump-dom",
        page.resolve().as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_report_in_headless_chromium(tmp_path, hostile_run):
    run, outcomes, verdict = hostile_run
    page = write_report(tmp_path / "report.html", run, outcomes, verdict)
    dom = dump_dom(page, tmp_path)
    # the verdict is at the top, and our own (CSP-hashed) script ran
    assert "llmctl: FAIL" in dom
    assert re.search(r'<body[^>]*data-report-ready="1"', dom), "the report's own script did not run"
    # the hostile outputs are shown as text and did nothing
    title = re.search(r"<title>(.*?)</title>", dom, re.DOTALL).group(1)
    assert title == "llmctl report: FAIL"
    assert "data-pwned" not in re.search(r"<body[^>]*>", dom).group(0)
    assert "PWNED" in dom  # as escaped text, inside <pre>
    assert "<img" not in dom and "<textarea" not in dom
    assert dom.count("<script") == 1


def test_csp_blocks_an_injected_script(tmp_path, hostile_run):
    """Defence in depth: even markup that escaped escaping could not run under the report's CSP."""
    run, outcomes, verdict = hostile_run
    page = write_report(tmp_path / "report.html", run, outcomes, verdict)
    text = page.read_text().replace(
        "</main>", "</main><script>document.body.setAttribute('data-pwned','csp')</script>", 1
    )
    page.write_text(text)
    dom = dump_dom(page, tmp_path)
    body = re.search(r"<body[^>]*>", dom).group(0)
    assert "data-pwned" not in body
    assert 'data-report-ready="1"' in body

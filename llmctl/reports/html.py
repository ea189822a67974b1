"""Self-contained HTML report: inline CSS and JS only, no network, strict CSP.

Every piece of text is escaped with `html.escape(quote=True)` (after stripping
escape sequences). The Content-Security-Policy allows no sources at all except
this file's own <style> and <script>, admitted by their SHA-256 hashes, so even
markup that slipped through could not run script, load images or submit forms.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from llmctl import fmt
from llmctl.reports._data import ReportData
from llmctl.reports._format import SUMMARY_COLUMNS, fmt_case_rate, metric_cells, summary_cells
from llmctl.reports._sanitize import html_text as esc
from llmctl.spend import spend_line, tokens_line
from llmctl.summary import unlabelled_line
from llmctl.types import CaseOutcome
from llmctl.verdict import REPORT_ONLY, FlippedCase, flip_phrase

MAX_ROWS = 20_000
MAX_OUTPUT_CHARS = 20_000


def _theme() -> str:
    from importlib import resources

    return resources.files("llmctl.reports").joinpath("theme.css").read_text(encoding="utf-8")


# the shared sheet (the viewer serves the same one), then what only the report has
CSS = (
    _theme()
    + """
.notes li{margin:2px 0}
body.only-failures tr.result.pass{display:none}
label.filter{display:inline-block;margin:8px 0;font-weight:600}
"""
)

JS = """
(function () {
  var box = document.getElementById("only-failures");
  function update() { document.body.classList.toggle("only-failures", !!(box && box.checked)); }
  if (box) { box.addEventListener("change", update); }
  update();
  document.body.setAttribute("data-report-ready", "1");
})();
"""


def _hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode() + "'"


def content_security_policy() -> str:
    """The report's CSP: nothing but its own inline style and script (by hash)."""
    return (
        f"default-src 'none'; style-src {_hash(CSS)}; script-src {_hash(JS)}; img-src 'none'; "
        "font-src 'none'; connect-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'"
    )


def render_html(data: ReportData, *, max_rows: int = MAX_ROWS, max_output_chars: int = MAX_OUTPUT_CHARS) -> str:
    """The report as one self-contained HTML page."""
    status = data.status_word
    klass = {"PASS": "pass", "FAIL": "fail"}.get(status, "none")
    v = data.verdict
    parts: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{esc(content_security_policy())}">',
        '<meta name="referrer" content="no-referrer">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(f'llmctl report: {status}')}</title>",
        f"<style>{CSS}</style>",
        "</head><body>",
        f'<header class="verdict {klass}" id="verdict"><h1>llmctl: {esc(status)}</h1>',
    ]
    if v is not None:
        parts.append(f"<p>{esc(v.summary_line())}</p>")
    else:
        parts.append("<p>No gate was applied to this run.</p>")
    meta = " · ".join(f"{esc(k)}: {esc(v)}" for k, v in data.meta())
    if meta:
        parts.append(f"<p>{meta}</p>")
    parts.append("</header><main>")
    parts += _context_section(data)
    if v is not None:
        if v.notes:
            parts.append('<ul class="notes">' + "".join(f"<li>{esc(n)}</li>" for n in v.notes) + "</ul>")
        parts += _gate_table(data)
        parts += _flipped_section(v.flipped, max_output_chars)
        if v.flaky:
            parts.append(
                f"<h2>Flaky cases ({len(v.flaky)})</h2><table><tr><th>run</th><th>group</th>"
                f"<th>case</th><th>passes</th><th>pass rate ({fmt.level(v.confidence)} interval)</th></tr>"
            )
            for f in v.flaky:
                parts.append(
                    f"<tr><td>{esc(f.run)}</td><td>{esc(f.prompt)} × {esc(f.model)}</td>"
                    f"<td>{esc(f.case_id)}</td><td class=num>{f.passes}/{f.samples}</td>"
                    f"<td class=num>{esc(fmt_case_rate(f))}</td></tr>"
                )
            parts.append("</table>")
    parts += _summary_section(data)
    parts += _results_section(data, max_rows, max_output_chars)
    parts.append("</main>")
    parts.append(f"<script>{JS}</script>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _context_section(data: ReportData) -> list[str]:
    """What this run is compared with: baseline ref and run, and the version hashes of both sides."""
    ctx = data.run.get("context") or {}
    if not ctx:
        return []
    out = ['<h2>Context</h2><table id="context">']
    ref = ctx.get("baseline_ref")
    out.append(f"<tr><th>baseline ref</th><td>{esc(ref) if ref else 'none (absolute floors only)'}</td></tr>")
    if ctx.get("baseline_run"):
        out.append(f"<tr><th>baseline run</th><td><code>{esc(ctx['baseline_run'])}</code></td></tr>")
    for label, key in (("candidate versions", "versions"), ("baseline versions", "baseline_versions")):
        versions = ctx.get(key) or {}
        if versions:
            cells = "<br>".join(
                f"{esc(p)}: " + ", ".join(f"<code>{esc(h)}</code>" for h in hashes) for p, hashes in versions.items()
            )
            out.append(f"<tr><th>{label}</th><td>{cells}</td></tr>")
    out.append("</table>")
    return out


def _case_context(data: ReportData, case_id: str) -> str:
    case = ((data.run.get("context") or {}).get("cases") or {}).get(case_id)
    if not case:
        return ""
    parts = []
    if case.get("vars"):
        parts.append(f"<div class=muted>vars: <code>{esc(_clip(_json_text(case['vars']), 300))}</code></div>")
    if case.get("expected") is not None:
        parts.append(f"<div class=muted>expected: <code>{esc(_clip(_json_text(case['expected']), 300))}</code></div>")
    return "".join(parts)


def _gate_table(data: ReportData) -> list[str]:
    assert data.verdict is not None
    v = data.verdict
    level = fmt.level(v.confidence)
    out = [
        f"<h2>Gate ({esc(level)} confidence)</h2>",
        "<table><tr><th>group</th><th>metric</th>"
        "<th>baseline</th><th>candidate</th><th>Δ</th>"
        f"<th>{esc(level)} interval</th><th>p</th><th>threshold</th><th>result</th><th>note</th></tr>",
    ]
    for m in v.metrics:
        c = metric_cells(m)
        result = "—" if m.threshold == REPORT_ONLY else c["result"]
        out.append(
            f"<tr><td>{esc(c['group'])}</td><td>{esc(c['metric'])}</td><td class=num>{esc(c['baseline'])}</td>"
            f"<td class=num>{esc(c['candidate'])}</td><td class=num>{esc(c['delta'])}</td>"
            f"<td class=num>{esc(c['interval'])}</td><td class=num>{esc(c['p_value'])}</td>"
            f'<td>{esc(c["threshold"])}</td><td class="{esc(result)}">{esc(result)}</td>'
            f"<td class=muted>{esc(c['note'])}</td></tr>"
        )
    out.append("</table>")
    return out


SHORT_OUTPUT = 160


def _output_cell(output: str | None, limit: int) -> str:
    """A short output inline; a long one shows its start, the whole in a <details>."""
    if output is not None and len(output) <= SHORT_OUTPUT and "\n" not in output.strip():
        return f'<pre class="short">{esc(output)}</pre>'
    head = esc(_clip((output or "").strip().split("\n", 1)[0], 80)) if output else "(no output)"
    return f"<details><summary>{head}</summary><pre>{esc(_clip(output, limit))}</pre></details>"


def _clip(text: str | None, limit: int) -> str:
    if text is None:
        return "(no output)"
    return text if len(text) <= limit else text[:limit] + f"\n… ({len(text) - limit} more characters)"


def _flipped_section(flipped: list[FlippedCase], limit: int) -> list[str]:
    if not flipped:
        return []
    down, up = flip_phrase(flipped, "pass->fail"), flip_phrase(flipped, "fail->pass")
    out = [f"<h2>Flipped cases ({esc(down)} pass → fail, {esc(up)} fail → pass)</h2>"]
    for f in flipped:
        word = "FAIL" if f.direction == "pass->fail" else "PASS"
        rep = f" #{f.repeat_index}" if f.repeat_index else ""
        out.append(
            f'<details class="flip" open><summary><span class="{word}">{esc(f.direction)}</span> '
            f"<code>{esc(f.case_id)}{rep}</code> <span class=muted>{esc(f.prompt)} × {esc(f.model)}</span>"
            "</summary><div class=sides>"
        )
        for label, output, reasons in (
            ("baseline", f.baseline_output, f.baseline_reasons),
            ("candidate", f.candidate_output, f.candidate_reasons),
        ):
            items = "".join(f"<li>{esc(k)}: {esc(r)}</li>" for k, r in reasons.items())
            out.append(
                f"<div><strong>{label}</strong>"
                + (f"<ul>{items}</ul>" if items else "")
                + f"<pre>{esc(_clip(output, limit))}</pre></div>"
            )
        out.append("</div></details>")
    return out


def _summary_section(data: ReportData) -> list[str]:
    by_evalset = any(g.evalset for g in data.groups)
    head = [*(["evalset"] if by_evalset else []), "prompt", "model", *SUMMARY_COLUMNS]
    out = ["<h2>Summary</h2>", '<table id="summary"><tr>' + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr>"]
    for g in data.groups:
        names = [*([g.evalset or ""] if by_evalset else []), g.prompt, g.model]
        out.append(
            "<tr>"
            + "".join(f"<td>{esc(n)}</td>" for n in names)
            + "".join(f"<td class=num>{esc(c)}</td>" for c in summary_cells(g))
            + "</tr>"
        )
    out.append("</table>")
    unlabelled = unlabelled_line(data.run_summary)
    if unlabelled:
        out.append(f'<p class="unlabelled">{esc(unlabelled)}</p>')
    spend = data.spend
    out.append(f'<p class="spend"><b>{esc(spend_line(spend))}</b><br>{esc(tokens_line(spend))}</p>')
    return out


def _cost_cell(o: CaseOutcome) -> str:
    """A result's model cost (a cached one's is saved, not spent) and its judge calls' cost."""
    text = fmt.usd(o.cost_usd) + (" saved (cached)" if o.cached else "")
    if o.judge_cost_usd or o.judge_saved_usd:
        text += f" + judge {fmt.usd(o.judge_cost_usd)}"
    return text


def _results_section(data: ReportData, max_rows: int, limit: int) -> list[str]:
    rows = sorted(
        data.outcomes,
        key=lambda o: ((o.passed or o.unscored) and o.error is None, o.prompt, o.model, o.case_id, o.repeat_index),
    )
    shown = rows[:max_rows]
    out = [
        f"<h2>Results ({len(rows)})</h2>",
        '<label class="filter"><input type="checkbox" id="only-failures"> Show only failures and errors</label>',
    ]
    if len(rows) > len(shown):
        out.append(f"<p class=muted>Showing {len(shown)} of {len(rows)} results (failures first).</p>")
    out.append(
        '<table id="results"><tr><th>status</th><th>prompt</th><th>model</th><th>case</th><th>#</th>'
        "<th>reasons</th><th>output</th><th>cost</th><th>latency</th></tr>"
    )
    for o in shown:
        status = "ERROR" if o.error is not None else ("UNSCORED" if o.unscored else ("PASS" if o.passed else "FAIL"))
        klass = "pass" if status in ("PASS", "UNSCORED") else "fail"  # not yet labelled is no failure
        if o.error is not None:
            reasons = esc(o.error)
        elif o.unscored:
            reasons = "not yet labelled (human)"
        else:
            reasons = "<br>".join(
                f"{esc(k)}: {esc(o.reasons.get(k, ''))}" for k, ok in o.evaluator_passed.items() if not ok
            )
        out.append(
            f'<tr class="result {klass}"><td class="{status}">{status}{" (cached)" if o.cached else ""}</td>'
            f"<td>{esc(o.prompt)}</td><td>{esc(o.model)}</td><td>{esc(o.case_id)}{_case_context(data, o.case_id)}</td>"
            f"<td class=num>{o.repeat_index}</td><td>{reasons}</td>"
            f"<td>{_output_cell(o.shown_output, limit)}</td>"
            f"<td class=num>{esc(_cost_cell(o))}</td><td class=num>{esc(fmt.ms(o.latency_ms))}</td></tr>"
        )
    out.append("</table>")
    return out

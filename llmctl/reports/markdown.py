"""GitHub-flavoured Markdown report: the PR comment and the job summary.

All untrusted text goes through `md_inline` (table cells, headings) or
`md_code_block` (outputs); text inside raw HTML (`<summary>`) through `_md_html`.
"""

from __future__ import annotations

from llmctl import fmt
from llmctl.reports._data import ReportData
from llmctl.reports._format import SUMMARY_COLUMNS, fmt_case_rate, metric_cells, summary_cells
from llmctl.safetext import _ZWSP, defuse_refs, html_text, md_code_block, md_inline
from llmctl.spend import spend_line, tokens_line
from llmctl.summary import failing_cases, see_all_failing, unlabelled_line
from llmctl.verdict import flip_phrase

MAX_FLIPPED = 50
MAX_FAILING = 20
MAX_OUTPUT_CHARS = 3000


def _md_html(text: object, max_len: int = 200) -> str:
    """Untrusted text inside a raw HTML element of a Markdown document."""
    s = " ".join(str(text or "").split())
    if len(s) > max_len:
        s = s[: max_len - 1] + "…"
    s = defuse_refs(html_text(s))
    return s.replace("://", ":" + _ZWSP + "//").replace("`", "&#96;")


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def render_markdown(
    data: ReportData, *, max_flipped: int = MAX_FLIPPED, max_output_chars: int = MAX_OUTPUT_CHARS
) -> str:
    """The report as GitHub-flavoured Markdown."""
    v = data.verdict
    lines: list[str] = []
    icon = {"PASS": "✅", "FAIL": "❌"}.get(data.status_word, "ℹ️")
    lines.append(f"## {icon} llmctl: {data.status_word}")
    lines.append("")
    meta = []
    for key, value in data.meta():
        meta.append(f"**{key}** {md_inline(value, max_len=80)}")
    if meta:
        lines += [" · ".join(meta), ""]
    if v is not None:
        if v.notes:
            lines += [f"> {md_inline(n)}" for n in v.notes] + [""]
        failures = v.failures
        if failures:
            lines.append(
                f"**{len(failures)} check(s) failed:** "
                + "; ".join(f"{md_inline(m.group)}: {md_inline(m.metric)}" for m in failures)
            )
            lines.append("")
        lines += _verdict_table(data)
        lines += _flipped(data, max_flipped, max_output_chars)
    lines += _failing(data, MAX_FAILING)
    if v is not None:
        if v.flaky:
            lines.append(f"### Flaky cases ({len(v.flaky)})")
            lines.append("")
            lines.append(_row(["run", "group", "case", "passes", f"pass rate ({fmt.level(v.confidence)} interval)"]))
            lines.append(_row(["---"] * 5))
            for f in v.flaky[:max_flipped]:
                cells = [f.run, md_inline(f"{f.prompt} × {f.model}"), md_inline(f.case_id), f"{f.passes}/{f.samples}"]
                lines.append(_row([*cells, fmt_case_rate(f)]))
            if len(v.flaky) > max_flipped:
                lines.append(f"\n… and {len(v.flaky) - max_flipped} more.")
            lines.append("")
    lines += _summary(data)
    return "\n".join(lines).rstrip() + "\n"


def _verdict_table(data: ReportData) -> list[str]:
    assert data.verdict is not None
    v = data.verdict
    level = fmt.level(v.confidence)
    out = [f"### Gate ({level} confidence)", ""]
    if not v.metrics:
        return [*out, "No metrics were checked.", ""]
    out.append(_row(["group", "metric", "baseline", "candidate", "Δ", f"{level} interval", "p", "threshold", "result"]))
    out.append(_row(["---", "---", "---:", "---:", "---:", "---", "---:", "---", "---"]))
    for m in v.metrics:
        c = metric_cells(m)
        result = {"PASS": "✅ PASS", "FAIL": "❌ **FAIL**"}.get(c["result"], c["result"])
        if m.threshold == "report only":
            result = "—"
        out.append(
            _row(
                [
                    md_inline(c["group"]),
                    md_inline(c["metric"]),
                    c["baseline"],
                    c["candidate"],
                    c["delta"],
                    c["interval"],
                    c["p_value"],
                    md_inline(c["threshold"]),
                    result,
                ]
            )
        )
    out.append("")
    out.append(
        "<sub>Pass rates: one-sided mid-p McNemar test (sign test over cases with repeats); cost and latency: "
        "relative change; intervals: paired bootstrap over cases (Wilson without a baseline); the checks of a "
        "group share the error rate by weighted Holm.</sub>"
    )
    out.append("")
    return out


def _flipped(data: ReportData, max_flipped: int, max_chars: int) -> list[str]:
    assert data.verdict is not None
    flipped = data.verdict.flipped
    if not flipped:
        return []
    down, up = flip_phrase(flipped, "pass->fail"), flip_phrase(flipped, "fail->pass")
    out = [f"### Flipped cases ({down} pass → fail, {up} fail → pass)", ""]
    for f in flipped[:max_flipped]:
        arrow = "❌ pass → fail" if f.direction == "pass->fail" else "✅ fail → pass"
        rep = f" (repeat {f.repeat_index})" if f.repeat_index else ""  # not `#N`: GitHub would link it
        out.append(
            f"<details><summary>{arrow}: <code>{_md_html(f.case_id)}{rep}</code> "
            f"({_md_html(f.prompt)} × {_md_html(f.model)})</summary>"
        )
        out.append("")
        for label, output, reasons in (
            ("Baseline", f.baseline_output, f.baseline_reasons),
            ("Candidate", f.candidate_output, f.candidate_reasons),
        ):
            out.append(f"**{label}**")
            out.append("")
            for name, reason in reasons.items():
                out.append(f"- {md_inline(name)}: {md_inline(reason, max_len=300)}")
            if reasons:
                out.append("")
            out.append(md_code_block(output if output is not None else "(no output)", max_len=max_chars))
            out.append("")
        out.append("</details>")
        out.append("")
    if len(flipped) > max_flipped:
        out += [f"… and {len(flipped) - max_flipped} more flipped case(s) (see the full report).", ""]
    return out


def _run_ids(data: ReportData) -> list[str]:
    runs = data.run.get("runs")
    if isinstance(runs, list) and runs:
        return [str(r.get("id")) for r in runs if isinstance(r, dict) and r.get("id")]
    return [str(data.run["id"])] if data.run.get("id") else []


def _failing(data: ReportData, limit: int) -> list[str]:
    """The failing cases by name (with a baseline or without), first `limit`, and how to see them all."""
    failing = failing_cases(data.outcomes)
    if not failing:
        return []
    samples = sum(f.samples for f in failing)
    head = f"### Failing cases ({len(failing)}"
    head += f"; {sum(f.failed for f in failing)} of their {samples} samples)" if samples > len(failing) else ")"
    out = [head, "", _row(["case", "group", "failed", "why"]), _row(["---", "---", "---:", "---"])]
    for f in failing[:limit]:
        why = "; ".join(f"{name}: {reason}" for name, reason in f.reasons.items()) or "failed"
        cells = [md_inline(f.case_id), md_inline(f"{f.prompt} × {f.model}"), f"{f.failed}/{f.samples}"]
        out.append(_row([*cells, md_inline(why, max_len=300)]))
    out.append("")
    more = len(failing) - limit
    see = see_all_failing(_run_ids(data))
    out += [(f"… and {more} more. " if more > 0 else "") + f"All of them: `{see.replace('`', '')}`", ""]
    return out


def _summary(data: ReportData) -> list[str]:
    out = ["### Summary", ""]
    if not data.groups:
        return [*out, "No results.", ""]
    by_evalset = any(g.evalset for g in data.groups)
    head = [*(["evalset"] if by_evalset else []), "prompt", "model", *SUMMARY_COLUMNS]
    out.append(_row(head))
    out.append(_row([*(["---"] * (len(head) - len(SUMMARY_COLUMNS))), "---:", "---:", "---:", "---", *["---:"] * 6]))
    for g in data.groups:
        names = [*([md_inline(g.evalset or "")] if by_evalset else []), md_inline(g.prompt), md_inline(g.model)]
        out.append(_row([*names, *summary_cells(g)]))
    out.append("")
    unlabelled = unlabelled_line(data.run_summary)
    if unlabelled:
        out += [md_inline(unlabelled), ""]
    spend = data.spend
    out += [f"**{md_inline(spend_line(spend))}**", "", md_inline(tokens_line(spend)), ""]
    return out

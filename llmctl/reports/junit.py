"""JUnit XML: one testcase per case x model (x repeat), built with xml.etree (always well-formed).

Layout: one <testsuite> per prompt x model, named "prompt × model"; each result is a
<testcase classname="prompt.model" name="case_id[#repeat]">. A failed case has a
<failure> with the failing evaluators' reasons and the output; a result with an
error has an <error>. When a verdict is given, a last <testsuite name="llmctl gate">
holds one testcase per checked metric (report-only metrics are left out), so CI
test viewers show gate failures too.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict

from llmctl.reports._data import ReportData
from llmctl.reports._format import metric_cells
from llmctl.reports._sanitize import xml_safe
from llmctl.types import CaseOutcome
from llmctl.verdict import REPORT_ONLY, group_name

MAX_TEXT = 20_000
GATE_SUITE = "llmctl gate"


def _text(value: object, limit: int = MAX_TEXT) -> str:
    s = xml_safe(value)
    return s if len(s) <= limit else s[:limit] + f"\n… ({len(s) - limit} more characters)"


def _seconds(value: float) -> str:
    """JUnit's `time` attribute: seconds, machine-read (not a display format)."""
    return str(round(value, 3))


def _failure_message(o: CaseOutcome) -> str:
    failed = [name for name, ok in o.evaluator_passed.items() if not ok]
    parts = [f"{name}: {o.reasons.get(name, 'failed')}" for name in failed]
    return "; ".join(parts) or "failed"


def render_junit(data: ReportData) -> str:
    """The report as a JUnit XML document (a string, with an XML declaration)."""
    root = ET.Element("testsuites", name=_text(data.title or "llmctl"))
    by_group: dict[tuple[str, str], list[CaseOutcome]] = defaultdict(list)
    for o in data.outcomes:
        by_group[(o.prompt, o.model)].append(o)
    totals = {"tests": 0, "failures": 0, "errors": 0}
    total_time = 0.0
    for (prompt, model), items in sorted(by_group.items()):
        repeats = len({o.repeat_index for o in items}) > 1
        suite = ET.SubElement(root, "testsuite", name=_text(group_name(prompt, model)))
        failures = errors = skipped = 0
        time_s = 0.0
        for o in sorted(items, key=lambda x: (x.case_id, x.repeat_index)):
            name = f"{o.case_id}#{o.repeat_index}" if repeats else o.case_id
            seconds = max(0.0, o.latency_ms) / 1000.0
            time_s += seconds
            case = ET.SubElement(
                suite,
                "testcase",
                classname=_text(f"{prompt}.{model}"),
                name=_text(name),
                time=_seconds(seconds),
            )
            if o.error is not None:
                errors += 1
                err = ET.SubElement(case, "error", message=_text(o.error, 1000), type="ProviderError")
                err.text = _text(o.error)
            elif o.unscored:  # no verdict yet: an unlabelled `human` alone
                skipped += 1
                ET.SubElement(case, "skipped", message="not yet labelled (human evaluator)")
            elif not o.passed:
                failures += 1
                message = _failure_message(o)
                fail = ET.SubElement(case, "failure", message=_text(message, 1000), type="EvalFailure")
                fail.text = _text(f"{message}\n\noutput:\n{o.shown_output if o.output is not None else ''}")
            if o.output is not None and o.error is None:
                ET.SubElement(case, "system-out").text = _text(o.shown_output or "")
            props = ET.SubElement(case, "properties")
            for key, value in (
                ("cost_usd", o.cost_usd),
                ("latency_ms", o.latency_ms),
                ("cached", o.cached),
                ("version", o.version_hash),
            ):
                ET.SubElement(props, "property", name=key, value=_text(value))
            for ev, score in o.scores.items():
                ET.SubElement(props, "property", name=_text(f"score.{ev}"), value=f"{score:g}")
        _set_counts(suite, len(items), failures, errors, time_s, skipped)
        totals["tests"] += len(items)
        totals["failures"] += failures
        totals["errors"] += errors
        total_time += time_s
    if data.verdict is not None:
        checked = [m for m in data.verdict.metrics if m.threshold != REPORT_ONLY]
        suite = ET.SubElement(root, "testsuite", name=GATE_SUITE)
        failures = 0
        for m in checked:
            c = metric_cells(m)
            case = ET.SubElement(
                suite, "testcase", classname=_text(f"gate.{m.group}"), name=_text(m.metric), time="0.000"
            )
            if not m.passed:
                failures += 1
                message = (
                    f"{m.metric}: baseline {c['baseline']}, candidate {c['candidate']}, "
                    f"delta {c['delta']} {c['interval']}, p={c['p_value']}; threshold {m.threshold}"
                )
                fail = ET.SubElement(case, "failure", message=_text(message, 1000), type="GateFailed")
                fail.text = _text(f"{message}\n{m.note}")
        _set_counts(suite, len(checked), failures, 0, 0.0)
        totals["tests"] += len(checked)
        totals["failures"] += failures
    _set_counts(root, totals["tests"], totals["failures"], totals["errors"], total_time)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _set_counts(el: ET.Element, tests: int, failures: int, errors: int, time_s: float, skipped: int = 0) -> None:
    el.set("tests", str(tests))
    el.set("failures", str(failures))
    el.set("errors", str(errors))
    el.set("skipped", str(skipped))
    el.set("time", _seconds(time_s))

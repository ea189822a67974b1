"""Reports of a run: Markdown (PR comment, job summary), JUnit XML, JSON and self-contained HTML.

    from llmctl.reports import write_report
    write_report("report.md", run_meta, outcomes, verdict)

Model outputs are untrusted: every writer escapes them for its format, and
`terminal_safe` does the same for the CLI.
"""

from llmctl.reports._data import ReportData
from llmctl.reports._sanitize import md_code_block, md_inline, strip_escapes, terminal_safe, xml_safe
from llmctl.reports._write import WRITERS, append_step_summary, register_report_format, render_report, write_report
from llmctl.reports.html import content_security_policy, render_html
from llmctl.reports.json_report import read_json_report, render_json, report_dict, report_from_dict
from llmctl.reports.junit import render_junit
from llmctl.reports.markdown import render_markdown

__all__ = [
    "WRITERS",
    "ReportData",
    "append_step_summary",
    "content_security_policy",
    "md_code_block",
    "md_inline",
    "read_json_report",
    "register_report_format",
    "render_html",
    "render_json",
    "render_junit",
    "render_markdown",
    "render_report",
    "report_dict",
    "report_from_dict",
    "strip_escapes",
    "terminal_safe",
    "write_report",
    "xml_safe",
]

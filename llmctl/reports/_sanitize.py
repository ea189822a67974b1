"""Re-exports of `llmctl.safetext` (kept outside this package so the CLI can use it cheaply)."""

from llmctl.safetext import html_text, md_code_block, md_inline, strip_escapes, terminal_safe, xml_safe

__all__ = ["html_text", "md_code_block", "md_inline", "strip_escapes", "terminal_safe", "xml_safe"]

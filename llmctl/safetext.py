"""Making untrusted text (model outputs, reasons, case ids) safe for each report format.

Model outputs are attacker-controlled: a prompt-injected model can return HTML,
Markdown links, `@mentions`, terminal escape sequences or bytes that are not
legal XML. Every writer passes such text through one of these helpers.
"""

from __future__ import annotations

import re

# ANSI/VT escape sequences: CSI (ESC [ ... final), OSC (ESC ] ... BEL or ESC \), other
# string controls (DCS, SOS, PM, APC) and two-byte escapes; plus their 8-bit C1 forms.
_ANSI = re.compile(
    r"""
    (?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]                       # CSI
  | (?:\x1b\]|\x9d).*?(?:\x07|\x1b\\|\x9c|$)                # OSC, to BEL/ST (or end)
  | (?:\x1b[PX^_]|[\x90\x98\x9e\x9f]).*?(?:\x1b\\|\x9c|$)   # DCS/SOS/PM/APC
  | \x1b[ -/]*[0-~]?                                        # other escapes (and a lone ESC)
    """,
    re.VERBOSE | re.DOTALL,
)
# C0 controls except TAB and LF, DEL, C1 controls; CR is dropped too (it can overwrite a line).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Unicode bidi overrides and isolates (Trojan Source style reordering).
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
# Characters XML 1.0 does not allow at all.
_XML_ILLEGAL = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ZWSP = "\u200b"


def strip_escapes(text: str) -> str:
    """Remove terminal escape sequences, control characters (keeping \\n and \\t) and bidi overrides."""
    if not text:
        return text
    text = text.replace("\r\n", "\n")
    text = _ANSI.sub("", text)
    text = _CONTROL.sub("", text)
    return _BIDI.sub("", text)


def terminal_safe(text: object) -> str:
    """Text that cannot drive the terminal: no escape sequences, no control characters.

    For printing model outputs (and anything else untrusted) in the CLI.
    """
    return strip_escapes("" if text is None else str(text))


def xml_safe(text: object) -> str:
    """Text XML 1.0 accepts: escapes and controls stripped, illegal code points removed."""
    return _XML_ILLEGAL.sub("", strip_escapes("" if text is None else str(text)))


# ASCII punctuation that can start Markdown syntax inline; CommonMark lets any of it be
# backslash-escaped. `<` `>` `&` become entities so no HTML (or entity trick) survives.
_MD_PUNCT = re.compile(r"([\\`*_{}\[\]()#+!|~$-])")


# GitHub autolinks issue and pull references (`#123`, `owner/repo#123`, `GH-123`) and
# notifies `@user`/`@org/team`; a zero-width space after `#`, `GH-` and `@` stops both.
_REF = re.compile(r"(#|\bGH-)(?=\d)", re.IGNORECASE)


def defuse_refs(text: str) -> str:
    """`#123`, `o/r#3`, `GH-2` and `@mention` as plain text on GitHub (a zero-width space inside)."""
    return _REF.sub(lambda m: m.group(1) + _ZWSP, text).replace("@", "@" + _ZWSP)


def md_inline(text: object, *, max_len: int | None = None) -> str:
    """One line of untrusted text for a Markdown paragraph or table cell.

    Newlines become spaces; HTML is entity-escaped; Markdown punctuation (links,
    images, emphasis, code, tables, fences) is backslash-escaped; `@mentions`,
    `#123`/`owner/repo#123`/`GH-123` references, bare URLs and emails get a
    zero-width space so GitHub does not link or notify.
    """
    s = strip_escapes("" if text is None else str(text))
    s = " ".join(s.split())
    if max_len is not None and len(s) > max_len:
        s = s[: max_len - 1] + "…"
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = defuse_refs(s)  # no issue/PR references, no mentions, no email autolinks
    s = _MD_PUNCT.sub(r"\\\1", s)
    s = s.replace("://", ":" + _ZWSP + "//")  # no bare-URL autolinks
    s = re.sub(r"(?i)\b(www)\.", r"\1" + _ZWSP + ".", s)  # no www. autolinks
    return s


def md_code_block(text: object, *, max_len: int | None = None) -> str:
    """Untrusted multi-line text as a fenced code block that nothing inside can close.

    Inside a fence GitHub renders text literally: no HTML, no links, no mentions.
    The fence is one backtick longer than the longest backtick run in the text.
    """
    s = strip_escapes("" if text is None else str(text))
    if max_len is not None and len(s) > max_len:
        s = s[:max_len] + f"\n… ({len(s) - max_len} more characters)"
    longest = max((len(m) for m in re.findall(r"`+", s)), default=0)
    fence = "`" * max(3, longest + 1)
    # A line of only whitespace and backticks/tildes cannot close a longer fence, and
    # a leading newline keeps the fence on its own line.
    return f"{fence}text\n{s}\n{fence}"


def html_text(text: object) -> str:
    """Untrusted text for HTML element content or attribute values (quotes escaped)."""
    import html

    return html.escape(strip_escapes("" if text is None else str(text)), quote=True)

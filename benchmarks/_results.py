"""Write one section of benchmarks/RESULTS.md in place: the `--write` of every benchmark script.

A section runs from its `## ` heading to the next `## ` heading. Writing it again replaces it
where it stands (so the file keeps one copy of each result, the latest), or appends it when the
file has no such heading yet.
"""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def replace_section(body: str, text: str) -> str:
    """`body` with the section headed by `text`'s first line replaced by `text` (or `text` appended)."""
    text = text.strip("\n") + "\n"
    heading = text.split("\n", 1)[0]
    if not heading.startswith("## "):
        raise ValueError(f"a section starts with a '## ' heading, not {heading!r}")
    lines = body.split("\n")
    try:
        start = lines.index(heading)
    except ValueError:
        return body.rstrip("\n") + "\n\n" + text
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    after = "\n".join(lines[end:])
    return "\n".join(lines[:start]) + ("\n" if start else "") + text + ("\n" + after if after else "")


def write_section(text: str, path: Path = RESULTS) -> None:
    """Replace (or append) `text`'s section in RESULTS.md."""
    path.write_text(replace_section(path.read_text(encoding="utf-8"), text), encoding="utf-8")

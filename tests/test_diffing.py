"""Canonical text and template diffs (no git needed)."""

from __future__ import annotations

from llmctl.diffing import Version, canonical_text, template_diff


def test_canonical_text_orders_keys_and_appends_includes() -> None:
    data = {"messages": [{"content": "a\nb\n", "role": "user"}], "model": "m", "zeta": 1, "description": "d"}
    text = "".join(canonical_text(data, {"prompts/p.jinja": "inc"}))
    assert text.index("description") < text.index("model") < text.index("messages") < text.index("zeta")
    assert "- role: user\n  content: |\n    a\n    b\n" in text
    assert text.endswith("# --- included: prompts/p.jinja\ninc\n")


def test_template_diff_names_versions() -> None:
    a = Version("p", "sha256:" + "a" * 64, "p@v1", {"model": "x"}, {})
    b = Version("p", "sha256:" + "b" * 64, "p@v2", {"model": "y"}, {})
    lines = template_diff(a, b)
    assert lines[0].startswith("--- p@v1 (sha256:aaaa")
    assert "-model: x\n" in lines and "+model: y\n" in lines
    assert template_diff(a, a) == []


def test_missing_content_is_shown() -> None:
    a = Version("p", "sha256:1", "p@run")
    assert canonical_text(a.data, a.includes) == ["# (content of this version not found)\n"]

"""Prompt files: parsing, names, inputs, includes, the sandbox and the content hash."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmctl.errors import InputError, RenderError
from llmctl.hashing import content_hash
from llmctl.prompt import Prompt, PromptLibrary, parse_prompt
from llmctl.sources import WorktreeSource


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def load(root: Path, relpath: str) -> Prompt:
    return parse_prompt(WorktreeSource(root), relpath)


def lib(root: Path) -> PromptLibrary:
    return PromptLibrary(WorktreeSource(root))


SUMMARIZE = """\
name: summarize
description: One-paragraph ticket summary
model: openai/gpt-4o-mini
params: {temperature: 0, max_tokens: 200}
inputs:
  ticket: {type: string}
  tone:   {type: string, default: neutral}
messages:
  - role: system
    content: You summarize support tickets in a {{ tone }} tone.
  - role: user
    content: |
      {% include "partials/ticket.jinja" %}
output:
  json_schema: {type: object, required: [summary]}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write(
        tmp_path,
        {
            "prompts/summarize.yaml": SUMMARIZE,
            "prompts/partials/ticket.jinja": "Ticket:\n{{ ticket }}\n",
        },
    )
    return tmp_path


# --- parsing ---------------------------------------------------------------------------------


def test_yaml_messages(project: Path) -> None:
    prompt = load(project, "prompts/summarize.yaml")
    assert prompt.name == "summarize"
    assert prompt.model == "openai/gpt-4o-mini"
    assert prompt.params == {"temperature": 0, "max_tokens": 200}
    assert prompt.output_schema == {"type": "object", "required": ["summary"]}
    assert prompt.hash.startswith("sha256:") and len(prompt.hash) == len("sha256:") + 64
    messages = prompt.render(ticket="Broken blender")
    assert messages == [
        {"role": "system", "content": "You summarize support tickets in a neutral tone."},
        {"role": "user", "content": "Ticket:\nBroken blender"},
    ]
    assert prompt.includes == {"prompts/partials/ticket.jinja": "Ticket:\n{{ ticket }}\n"}


def test_yaml_template(tmp_path: Path) -> None:
    write(tmp_path, {"prompts/t.yaml": "inputs: {who: {type: string}}\ntemplate: Hello {{ who }}!\n"})
    prompt = load(tmp_path, "prompts/t.yaml")
    assert prompt.is_template
    assert prompt.render(who="Ana") == [{"role": "user", "content": "Hello Ana!"}]


def test_jinja_front_matter(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "prompts/classify.jinja": (
                "---\ndescription: Route a ticket\nmodel: echo\ninputs:\n  ticket: {type: string}\n"
                "  labels: {type: array, default: [a, b]}\n---\n"
                'Classify into {{ labels | join(", ") }}.\n\n{{ ticket }}\n'
            )
        },
    )
    prompt = load(tmp_path, "prompts/classify.jinja")
    assert prompt.name == "classify"
    assert prompt.description == "Route a ticket"
    assert prompt.render(ticket="T") == [{"role": "user", "content": "Classify into a, b.\n\nT"}]


def test_jinja_syntax_error_line_counts_front_matter(tmp_path: Path) -> None:
    write(tmp_path, {"prompts/c.jinja": "---\ndescription: x\n---\nline 4\nline 5 {{ oops\n"})
    with pytest.raises(InputError) as info:
        load(tmp_path, "prompts/c.jinja")
    assert (info.value.file, info.value.line) == ("prompts/c.jinja", 5)


def test_namespaced_names_and_name_override(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "prompts/support/triage.yaml": "template: triage\n",
            "prompts/other/x.yaml": "name: renamed\ntemplate: renamed\n",
        },
    )
    library = lib(tmp_path)
    assert library.get("support/triage").name == "support/triage"
    assert library.get("renamed").path == "prompts/other/x.yaml"
    with pytest.raises(InputError, match="unknown prompt 'other/x'"):
        library.get("other/x")
    with pytest.raises(InputError, match="unknown prompt 'nope'") as info:
        library.get("nope")
    assert "support/triage" in (info.value.hint or "")


def test_partials_are_not_prompts(project: Path) -> None:
    assert lib(project).files() == ["prompts/summarize.yaml"]


# --- inputs ----------------------------------------------------------------------------------


def test_defaults_enum_and_types(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "prompts/p.yaml": (
                "inputs:\n"
                "  tone: {type: string, default: neutral, enum: [neutral, formal]}\n"
                "  n: {type: integer, default: 1}\n"
                "  ratio: {type: number, required: false}\n"
                "  flag: {type: boolean, default: false}\n"
                "  items: {type: array, default: []}\n"
                "  meta: object\n"
                "template: '{{ tone }} {{ n }} {{ ratio }} {{ flag }} {{ items|length }} {{ meta.k }}'\n"
            )
        },
    )
    prompt = load(tmp_path, "prompts/p.yaml")
    assert prompt.render(meta={"k": "v"})[0]["content"] == "neutral 1 None False 0 v"
    assert prompt.render(meta={"k": 1}, n=3, ratio=0.5, tone="formal")[0]["content"] == "formal 3 0.5 False 0 1"
    with pytest.raises(RenderError, match="must be one of"):
        prompt.render(meta={}, tone="angry")
    with pytest.raises(RenderError, match="'n' must be of type integer, got str"):
        prompt.render(meta={}, n="3")
    with pytest.raises(RenderError, match="must be of type integer, got bool"):
        prompt.render(meta={}, n=True)
    with pytest.raises(RenderError, match="must be of type number"):
        prompt.render(meta={}, ratio="x")
    with pytest.raises(RenderError, match="must be of type object"):
        prompt.render(meta=[1])
    with pytest.raises(RenderError, match="missing required variable 'meta'") as info:
        prompt.render()
    assert info.value.file == "prompts/p.yaml" and info.value.line == 7
    assert "--var meta=" in (info.value.hint or "")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("{type: integer, default: lots}", "default 'lots' is not of type integer"),
        ("{type: string, enum: a}", "'enum' must be a non-empty list"),
        ("{type: string, default: c, enum: [a, b]}", "is not one of"),
        ("{type: string, required: 'no'}", "'required' must be true or false"),
        ("{type: str}", "unknown type 'str'"),
        ("[string]", "must be a mapping"),
    ],
)
def test_bad_input_declarations(tmp_path: Path, spec: str, message: str) -> None:
    write(tmp_path, {"prompts/p.yaml": f"template: hi\ninputs:\n  x: {spec}\n"})
    with pytest.raises(InputError, match=message) as info:
        load(tmp_path, "prompts/p.yaml")
    assert info.value.line == 3


@pytest.mark.parametrize("key", ["on", "~", "1"])
def test_yaml_11_oddities_in_input_names(tmp_path: Path, key: str) -> None:
    """`on:` stays "on" (not True); `~` and `1` are not identifiers."""
    write(tmp_path, {"prompts/p.yaml": f"template: hi\ninputs:\n  {key}: {{type: string}}\n"})
    if key == "on":
        assert list(load(tmp_path, "prompts/p.yaml").inputs) == ["on"]
    else:
        with pytest.raises(InputError, match="not a valid identifier"):
            load(tmp_path, "prompts/p.yaml")


# --- includes and imports ---------------------------------------------------------------------


def test_includes_and_macro_imports(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "prompts/macros/fmt.jinja": "{% macro bullet(x) %}- {{ x }}{% endmacro %}",
            "prompts/partials/a.jinja": "A{% include 'partials/b.jinja' %}",
            "prompts/partials/b.jinja": "B",
            "prompts/p.yaml": (
                "inputs: {items: {type: array}}\n"
                "template: |\n"
                "  {% from 'macros/fmt.jinja' import bullet %}\n"
                "  {% import 'macros/fmt.jinja' as fmt %}\n"
                "  {% for i in items %}{{ bullet(i) }}\n"
                "  {% endfor %}{{ fmt.bullet('z') }} {% include 'partials/a.jinja' %}\n"
            ),
        },
    )
    prompt = load(tmp_path, "prompts/p.yaml")
    assert prompt.render(items=["x", "y"])[0]["content"] == "- x\n- y\n- z AB"
    assert sorted(prompt.includes) == [
        "prompts/macros/fmt.jinja",
        "prompts/partials/a.jinja",
        "prompts/partials/b.jinja",
    ]


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("../secrets.txt", "escapes prompts/"),
        ("partials/../../secrets.txt", "escapes prompts/"),
        ("/etc/passwd", "must be relative"),
        ("C:/x.jinja", "must be relative"),
    ],
)
def test_include_outside_prompts_is_refused(tmp_path: Path, ref: str, message: str) -> None:
    write(
        tmp_path, {"secrets.txt": "KEY", "prompts/p.yaml": f"description: x\ntemplate: \"{{% include '{ref}' %}}\"\n"}
    )
    with pytest.raises(InputError, match=message) as info:
        load(tmp_path, "prompts/p.yaml")
    assert (info.value.file, info.value.line) == ("prompts/p.yaml", 2)


def test_include_inside_prompts_with_dotdot_is_fine(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"prompts/partials/x.jinja": "X", "prompts/p.yaml": "template: \"{% include 'sub/../partials/x.jinja' %}\"\n"},
    )
    assert load(tmp_path, "prompts/p.yaml").render()[0]["content"] == "X"


# --- sandbox ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expr",
    [
        "''.__class__.__mro__",
        "cycler.__init__.__globals__",
        "self.__init__.__globals__",
        "lipsum.__globals__",
        "joiner",
        "config",
        "request",
        "'{0.__class__}'.format(x)",
        "'{0.__class__.__init__.__globals__}'.format(x)",
        "'%s'|format(x.__class__)",
        "x|attr('__class__')",
        "range.__globals__",
        "namespace.__init__.__globals__",
        "x.append(1)",
    ],
)
def test_sandbox_blocks_escapes(tmp_path: Path, expr: str) -> None:
    write(tmp_path, {"prompts/p.yaml": f'inputs: {{x: {{type: any, default: [1]}}}}\ntemplate: "{{{{ {expr} }}}}"\n'})
    with pytest.raises(RenderError) as info:
        load(tmp_path, "prompts/p.yaml").render()
    assert info.value.file == "prompts/p.yaml" and info.value.line == 2


# --- content hash ----------------------------------------------------------------------------


def test_hash_ignores_key_order_comments_and_whitespace(tmp_path: Path) -> None:
    a = "description: d\ninputs: {x: {type: string}}\ntemplate: 'hi {{ x }}'\n"
    b = "# a comment\ntemplate:    'hi {{ x }}'   # trailing\n\ninputs:\n  x:\n    type: string\ndescription: d\n"
    write(tmp_path, {"prompts/a.yaml": a, "prompts/b.yaml": b})
    assert load(tmp_path, "prompts/a.yaml").hash == load(tmp_path, "prompts/b.yaml").hash


def test_hash_changes_with_content_and_included_partial(project: Path) -> None:
    before = load(project, "prompts/summarize.yaml").hash
    assert load(project, "prompts/summarize.yaml").hash == before  # deterministic
    (project / "prompts/partials/ticket.jinja").write_text("Ticket!\n{{ ticket }}\n")
    after_partial = load(project, "prompts/summarize.yaml").hash
    assert after_partial != before
    (project / "prompts/summarize.yaml").write_text(SUMMARIZE.replace("temperature: 0", "temperature: 1"))
    assert load(project, "prompts/summarize.yaml").hash not in (before, after_partial)


def test_same_content_in_two_folders_same_hash(tmp_path: Path) -> None:
    text = "template: \"{% include 'partials/p.jinja' %}\"\n"
    write(tmp_path, {"prompts/a/x.yaml": text, "prompts/b/y.yaml": text, "prompts/partials/p.jinja": "P"})
    write(tmp_path / "other", {"prompts/x.yaml": text, "prompts/partials/p.jinja": "P"})
    h1 = load(tmp_path, "prompts/a/x.yaml").hash
    assert h1 == load(tmp_path, "prompts/b/y.yaml").hash == load(tmp_path / "other", "prompts/x.yaml").hash


def test_content_hash_is_canonical() -> None:
    assert content_hash({"b": 1, "a": [1, "é"]}) == content_hash({"a": [1, "é"], "b": 1})
    assert content_hash({"a": 1}) != content_hash({"a": "1"})

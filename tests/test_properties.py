"""Property-based tests of the parser and the renderer (hypothesis)."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmctl.errors import InputError
from llmctl.hashing import content_hash
from llmctl.prompt import parse_prompt
from llmctl.yamlio import load_yaml_text

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class MemorySource:
    """An in-memory Source: {relpath: bytes}."""

    label = "WORKTREE"

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files

    def read(self, relpath: str, within: str | None = None) -> bytes | None:
        return self.files.get(relpath)

    def list_files(self, folder: str) -> list[str]:
        return sorted(p for p in self.files if p.startswith(folder + "/"))


YAMLISH = st.lists(
    st.sampled_from([*"ab:-[]{}#&*!|>'\" \t\n\\%@`,?~0x.", "{{", "}}", "{%", "%}", "---\n", "\x00", "\ufeff"]),
    max_size=60,
).map("".join)
ANY_TEXT = st.one_of(st.text(), YAMLISH)


@FAST
@given(text=ANY_TEXT, suffix=st.sampled_from([".yaml", ".jinja"]))
def test_arbitrary_text_never_crashes_the_parser(text: str, suffix: str) -> None:
    source = MemorySource({f"prompts/p{suffix}": text.encode("utf-8", "surrogatepass")})
    try:
        parse_prompt(source, f"prompts/p{suffix}")
    except InputError as exc:
        assert exc.file and exc.file.startswith("prompts/")


@FAST
@given(data=st.binary(max_size=200))
def test_arbitrary_bytes_never_crash_the_parser(data: bytes) -> None:
    try:
        parse_prompt(MemorySource({"prompts/p.yaml": data}), "prompts/p.yaml")
    except InputError:
        pass


@FAST
@given(text=ANY_TEXT)
def test_arbitrary_text_never_crashes_yaml_loading(text: str) -> None:
    try:
        load_yaml_text(text, "f.yaml")
    except InputError as exc:
        assert exc.file == "f.yaml"


VALUES = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"]),  # any code point, control characters included
)
JINJA_ISH = st.builds(
    "".join,
    st.lists(
        st.sampled_from(["{{", "}}", "{%", "%}", "{#", "#}", "x", " ", "''.__class__", "include", "\n", "é", "\x00"])
    ),
)


@FAST
@given(value=st.one_of(VALUES, JINJA_ISH))
def test_variables_render_verbatim(value: str) -> None:
    source = MemorySource(
        {
            "prompts/p.yaml": (
                b"inputs: {x: {type: string}}\n"
                b"messages:\n  - role: system\n    content: 'S'\n  - role: user\n    content: '[{{ x }}]'\n"
            )
        }
    )
    prompt = parse_prompt(source, "prompts/p.yaml")
    assert prompt.render(x=value) == [{"role": "system", "content": "S"}, {"role": "user", "content": f"[{value}]"}]


# PyYAML itself does not round-trip line separators (U+0085, U+2028, U+2029) or control characters.
YAML_SAFE = st.characters(blacklist_categories=["Cc", "Cs", "Zl", "Zp"], blacklist_characters="\x85")
NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
SCALARS = st.one_of(
    st.text(YAML_SAFE, max_size=20), st.integers(), st.booleans(), st.none(), st.floats(allow_nan=False)
)
PARAMS = st.dictionaries(NAMES, SCALARS, max_size=4)
INPUTS = st.dictionaries(
    NAMES,
    st.one_of(
        st.fixed_dictionaries({"type": st.just("string")}),
        st.fixed_dictionaries({"type": st.just("string"), "default": st.text(YAML_SAFE, max_size=10)}),
        st.fixed_dictionaries({"type": st.just("integer"), "default": st.integers()}),
    ),
    max_size=4,
)
PROMPTS = st.fixed_dictionaries(
    {
        "description": st.text(YAML_SAFE, max_size=30),
        "params": PARAMS,
        "inputs": INPUTS,
        "messages": st.lists(
            st.fixed_dictionaries(
                {"role": st.sampled_from(["system", "user", "assistant"]), "content": st.text(YAML_SAFE, max_size=40)}
            ),
            min_size=1,
            max_size=3,
        ),
    },
    optional={"model": NAMES, "metadata": st.dictionaries(NAMES, SCALARS, max_size=3)},
)


def _dump(data: dict[str, Any], flow: bool, reverse: bool) -> bytes:
    items = list(data.items())
    if reverse:
        items.reverse()
    return yaml.safe_dump(dict(items), default_flow_style=flow, sort_keys=False, allow_unicode=True).encode()


@FAST
@given(data=PROMPTS, flow=st.booleans())
def test_generated_prompts_round_trip_and_hash_is_layout_independent(data: dict[str, Any], flow: bool) -> None:
    # Contents must not be templates here; braces are escaped away.
    for msg in data["messages"]:
        msg["content"] = msg["content"].replace("{", "(").replace("}", ")")
    a = parse_prompt(MemorySource({"prompts/p.yaml": _dump(data, flow, False)}), "prompts/p.yaml")
    b = parse_prompt(MemorySource({"prompts/q.yaml": _dump(data, not flow, True)}), "prompts/q.yaml")
    assert a.data == data
    assert a.hash == b.hash == content_hash({"prompt": data, "includes": {}})
    assert [m.content for m in a.messages] == [m["content"] for m in data["messages"]]
    assert set(a.inputs) == set(data["inputs"])
    assert a.hash.startswith("sha256:")


@FAST
@given(value=st.recursive(SCALARS, lambda c: st.one_of(st.lists(c), st.dictionaries(st.text(), c)), max_leaves=20))
def test_content_hash_is_deterministic(value: Any) -> None:
    assert content_hash(value) == content_hash(value)
    assert content_hash(value) == content_hash(yaml.safe_load(yaml.safe_dump(value)))

"""Prompt files: inputs of `type: image` and how the rendered messages carry them (content parts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmctl.errors import InputError, RenderError
from llmctl.prompt import parse_prompt
from llmctl.sources import WorktreeSource
from tests.test_images import png

LOOK = """\
inputs:
  question: {type: string}
  photo: {type: image, default: null}
  detail: {type: image, default: null}
messages:
  - role: system
    content: You describe photos.
  - role: user
    content: "{{ question }}{% if photo %} (photo: {{ photo }}){% endif %}"
"""


def load(tmp_path: Path, text: str = LOOK):  # type: ignore[no-untyped-def]
    (tmp_path / "prompts").mkdir(exist_ok=True)
    (tmp_path / "prompts" / "look.yaml").write_text(text, encoding="utf-8")
    return parse_prompt(WorktreeSource(tmp_path), "prompts/look.yaml")


def test_image_inputs_become_content_parts_of_the_last_user_message(tmp_path: Path) -> None:
    prompt = load(tmp_path)
    assert prompt.image_inputs() == ["photo", "detail"]
    seen: list[tuple[str, str]] = []

    def loader(name: str, value: str) -> str:
        seen.append((name, value))
        return f"https://img.test/{value}"

    messages = prompt.render({"question": "What is it?", "photo": "a.png", "detail": "b.png"}, image_loader=loader)
    assert seen == [("photo", "a.png"), ("detail", "b.png")]
    assert messages[0] == {"role": "system", "content": "You describe photos."}
    assert messages[1] == {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is it? (photo: a.png)"},  # the template sees the value as written
            {"type": "image_url", "image_url": {"url": "https://img.test/a.png"}},
            {"type": "image_url", "image_url": {"url": "https://img.test/b.png"}},
        ],
    }


def test_an_optional_image_left_out_leaves_plain_text(tmp_path: Path) -> None:
    messages = load(tmp_path).render({"question": "Hi"})
    assert messages[-1] == {"role": "user", "content": "Hi"}


def test_without_a_loader_a_file_is_read_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prompt = load(tmp_path)
    (tmp_path / "red.png").write_bytes(png())
    monkeypatch.chdir(tmp_path)
    url = prompt.render({"question": "Hi", "photo": "red.png"})[-1]["content"][1]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    with pytest.raises(InputError, match=r"image file not found: missing\.png") as info:
        prompt.render({"question": "Hi", "photo": "missing.png"})
    assert (info.value.file, info.value.line) == ("prompts/look.yaml", 3)


def test_an_image_value_must_be_a_string(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="variable 'photo' must be of type image, got int"):
        load(tmp_path).render({"question": "Hi", "photo": 3})


def test_an_image_input_is_part_of_the_prompts_identity(tmp_path: Path) -> None:
    with_image = load(tmp_path).hash
    without = load(tmp_path, LOOK.replace("  detail: {type: image, default: null}\n", "")).hash
    assert with_image != without


def test_an_image_default_must_be_a_string(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="default 3 is not of type image") as info:
        load(tmp_path, LOOK.replace("photo: {type: image, default: null}", "photo: {type: image, default: 3}"))
    assert info.value.line == 3

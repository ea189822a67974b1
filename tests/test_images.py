"""Image inputs (llmctl.images): resolving a value to the URL sent, containment, caps, placeholders."""

from __future__ import annotations

import base64
import hashlib
import struct
import zlib
from pathlib import Path

import pytest

from llmctl.errors import InputError
from llmctl.images import (
    ImageLoader,
    attach,
    content_text,
    describe,
    evalset_loader,
    image_part,
    redact,
)


def png(rgb: tuple[int, int, int] = (255, 0, 0)) -> bytes:
    """A valid 1x1 PNG of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" + bytes(rgb)))
        + chunk(b"IEND", b"")
    )


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "evalsets" / "images").mkdir(parents=True)
    (root / "evalsets" / "images" / "red.png").write_bytes(png())
    (root / "evalsets" / "e.yaml").write_text("prompt: p\ncases: []\n")
    return root


def loader(root: Path) -> ImageLoader:
    return evalset_loader(root, "evalsets/e.yaml", "evalsets", line=7, lines={"photo": 9})


def test_a_file_is_sent_as_a_base64_data_url_of_its_bytes(project: Path) -> None:
    url = loader(project)("photo", "images/red.png")
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == png()


def test_urls_and_data_urls_are_sent_as_written(project: Path) -> None:
    data_url = "data:image/png;base64," + base64.b64encode(png()).decode()
    assert loader(project)("photo", data_url) == data_url
    assert loader(project)("photo", "https://example.com/cat.png?size=2") == "https://example.com/cat.png?size=2"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("../../secret.png", "leads outside evalsets/"),
        ("images/../../llmctl.yaml", "leads outside evalsets/"),
        ("/etc/passwd", "must be relative to the evalset"),
        ("images/missing.png", "image file not found"),
        ("file:///etc/passwd", "unsupported URL"),
        ("ftp://example.com/x.png", "unsupported URL"),
        ("https://", "malformed URL"),
        ("data:text/plain;base64,aGk=", "is not one of image/png"),
        ("data:image/png,rawtext", "must be data:<image type>;base64,"),
        ("data:image/png;base64,!!!not base64", "malformed or empty"),
        ("", "must be a file path"),
    ],
)
def test_bad_values_are_input_errors_at_the_variables_line(project: Path, value: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        loader(project)("photo", value)
    assert message in info.value.message
    assert info.value.message.startswith("image input 'photo': ")
    assert (info.value.file, info.value.line) == ("evalsets/e.yaml", 9)


def test_a_variable_without_a_known_line_is_reported_at_the_case(project: Path) -> None:
    with pytest.raises(InputError) as info:
        loader(project)("other", "images/missing.png")
    assert info.value.line == 7


def test_a_symbolic_link_out_of_evalsets_is_refused(project: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.png"
    secret.write_bytes(png())
    (project / "evalsets" / "images" / "cat.png").symlink_to(secret)
    with pytest.raises(InputError, match="leads outside evalsets/"):
        loader(project)("photo", "images/cat.png")
    # a link that stays inside is followed
    (project / "evalsets" / "images" / "same.png").symlink_to("red.png")
    assert loader(project)("photo", "images/same.png").startswith("data:image/png;base64,")


def test_a_file_that_is_not_an_image_or_too_large_is_refused(project: Path) -> None:
    (project / "evalsets" / "notes.txt").write_text("hello")
    with pytest.raises(InputError, match="is not a PNG, JPEG, GIF or WebP"):
        loader(project)("photo", "notes.txt")
    (project / "evalsets" / "empty.png").write_bytes(b"")
    with pytest.raises(InputError, match="is empty"):
        loader(project)("photo", "empty.png")
    small = ImageLoader(base=project / "evalsets", root=project, within="evalsets", max_bytes=10)
    with pytest.raises(InputError, match="the image is 69 B; the limit is 10 B"):
        small("photo", "images/red.png")
    data_url = "data:image/png;base64," + base64.b64encode(png()).decode()
    with pytest.raises(InputError, match="the limit is 10 B"):
        small("photo", data_url)


def test_without_a_root_any_file_is_read_relative_to_base(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"\xff\xd8\xff\xe0fake")
    assert ImageLoader(base=tmp_path)("photo", "a.jpg").startswith("data:image/jpeg;base64,")


def test_placeholders_name_type_size_and_sha256_never_the_bytes() -> None:
    data = png()
    b64 = base64.b64encode(data).decode()
    text = describe(f"data:image/png;base64,{b64}")
    assert text == f"[image image/png 69 B sha256:{hashlib.sha256(data).hexdigest()}]"
    assert b64 not in text
    long_url = "https://example.com/" + "a" * 500
    assert len(describe(long_url)) < 140
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "hi"}, image_part(f"data:image/png;base64,{b64}")]}
    ]
    redacted = redact(messages)
    assert b64 not in str(redacted) and "sha256:" in str(redacted)
    assert messages[0]["content"][1]["image_url"]["url"].endswith(b64)  # the original is untouched
    assert redact({"photo": f"data:image/png;base64,{b64}", "n": 3}) == {"photo": text, "n": 3}
    assert content_text(messages[0]["content"]) == f"hi {text}"


def test_images_attach_to_the_last_user_message() -> None:
    messages = [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "a"},
        {"role": "user", "content": "second"},
    ]
    out = attach(messages, ["https://x.test/1.png", "https://x.test/2.png"])
    assert out[1]["content"] == "first"
    assert out[3]["content"] == [
        {"type": "text", "text": "second"},
        image_part("https://x.test/1.png"),
        image_part("https://x.test/2.png"),
    ]
    only_system = attach([{"role": "system", "content": "s"}], ["https://x.test/1.png"])
    assert only_system[-1] == {"role": "user", "content": [image_part("https://x.test/1.png")]}
    assert attach([{"role": "user", "content": "t"}], []) == [{"role": "user", "content": "t"}]

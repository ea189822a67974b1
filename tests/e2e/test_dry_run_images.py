"""`eval --dry-run` counts image inputs: litellm's image token estimate (OpenAI's tile formula
for gpt-4o from the image's dimensions), added to the text estimate and priced; said to be an estimate."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

from llmctl import fmt
from llmctl.models import price_for
from llmctl.types import ModelSpec
from tests.e2e.project import config, llmctl, write

LOOK = {
    "inputs": {"question": {"type": "string"}, "photo": {"type": "image", "default": None}},
    "messages": [{"role": "user", "content": "{{ question }}"}],
}


def png(width: int, height: int) -> bytes:
    """A valid black PNG of this size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = (b"\x00" + b"\x00\x00\x00" * width) * height
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    monkeypatch.delenv("LLMCTL_DB", raising=False)


def _project(root: Path, photos: dict[str, str | None]) -> None:
    cfg = config()
    cfg["models"]["vision"] = {"model": "openai/gpt-4o", "api_base": "http://127.0.0.1:9/v1"}
    cases = [
        {"id": cid, "vars": {"question": "two words", **({"photo": photo} if photo else {})}}
        for cid, photo in photos.items()
    ]
    write(
        root,
        {
            "llmctl.yaml": cfg,
            "prompts/look.yaml": LOOK,
            "evalsets/look.yaml": {"prompt": "look", "models": ["vision"], "cases": cases},
        },
    )
    (root / "evalsets" / "images").mkdir(parents=True, exist_ok=True)
    (root / "evalsets" / "images" / "big.png").write_bytes(png(1024, 1024))
    (root / "evalsets" / "images" / "small.png").write_bytes(png(16, 16))


def _tokens(out: str) -> int:
    return int(out.split("about ")[1].split(" prompt token")[0].replace(",", ""))


def test_dry_run_counts_image_tokens(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _project(tmp_path, {"none": None})
    code, out = llmctl(tmp_path, "eval", "--dry-run", capsys=capsys)
    assert code == 0, out
    text_only = _tokens(out)
    assert "image(s)" not in out and "an estimate" in out

    _project(tmp_path, {"big": "images/big.png", "small": "images/small.png"})
    code, out = llmctl(tmp_path, "eval", "--dry-run", capsys=capsys)
    assert code == 0, out
    # gpt-4o, high detail: 85 + 170 a 512 px tile; 1024x1024 is scaled to 768x768 (4 tiles), 16x16 is 1 tile
    images = (85 + 4 * 170) + (85 + 170)
    assert f"(of them {images:,} for 2 image(s))" in out, out
    assert _tokens(out) == 2 * text_only + images
    price = price_for(ModelSpec(name="vision", litellm_id="openai/gpt-4o")).input
    assert f"about {fmt.usd((2 * text_only + images) * price)} of prompt tokens" in out
    assert "no model was called" in out

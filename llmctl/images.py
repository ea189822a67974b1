"""Image inputs: a prompt input of `type: image` is a file path, an http(s) URL or a data URL.

The rendered prompt carries each image as an OpenAI content part,
`{"type": "image_url", "image_url": {"url": ...}}`, after the text of its last user
message. A file is read and sent as a base64 data URL, so the request (and with it the
response cache key) covers the image's bytes: a changed file is a different request.
A URL is sent as written (the model's provider fetches it; its content is not covered).

A file path is relative to the evalset's folder and, after symbolic links are resolved,
must stay inside `evalsets/` (the same rule as an evalset's `source:` file); an image is
at most `MAX_IMAGE_BYTES` and one of `MEDIA_TYPES` (by its file name's extension, or the
data URL's media type). Anything else is an InputError at the case's file and line.

The store, reports and the viewer never keep or show the base64: `redact` replaces a data
URL with a short placeholder naming its media type, size and sha256.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from llmctl import fmt
from llmctl.errors import InputError
from llmctl.hashing import sha256_hex
from llmctl.sources import is_inside

MAX_IMAGE_BYTES = 20 * 1024 * 1024  # OpenAI's limit for one image
MEDIA_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_DATA_URL = re.compile(r"^data:(?P<type>[^;,]*)(?P<params>(;[^;,]*)*),", re.IGNORECASE)
_URL_SHOWN = 120  # characters of a URL a placeholder keeps

# (input name, value as written) -> the URL to send
ImageResolver = Callable[[str, str], str]


def image_part(url: str) -> dict[str, Any]:
    """The OpenAI content part of one image."""
    return {"type": "image_url", "image_url": {"url": url}}


def is_image_part(part: Any) -> bool:
    return isinstance(part, dict) and part.get("type") == "image_url" and isinstance(part.get("image_url"), dict)


def _size(n: int) -> str:
    return fmt.size(n)


def describe(url: str) -> str:
    """A short, single-line description of an image URL: `[image image/png 12.1 KB sha256:...]`
    for a data URL (its bytes are hashed, never shown), `[image https://...]` for a URL."""
    match = _DATA_URL.match(url)
    if match is not None:
        payload = url[match.end() :]
        data = _b64decode(payload) if ";base64" in match.group("params").lower() else payload.encode()
        digest = sha256_hex(data if data is not None else payload)
        media = match.group("type") or "text/plain"
        return f"[image {media} {_size(len(data if data is not None else payload))} sha256:{digest}]"
    shown = " ".join(url.split())
    if len(shown) > _URL_SHOWN:
        shown = shown[: _URL_SHOWN - 1] + "…"
    return f"[image {shown}]"


def _b64decode(payload: str) -> bytes | None:
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return None


def content_text(content: Any) -> str:
    """A message's content as text: text parts joined, each image as its `describe` placeholder."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        pieces = []
        for part in content:
            if is_image_part(part):
                pieces.append(describe(str(part["image_url"].get("url", ""))))
            elif isinstance(part, dict):
                pieces.append(str(part.get("text", "")))
        return " ".join(p for p in pieces if p)
    return "" if content is None else str(content)


def redact(value: Any, _seen: frozenset[int] = frozenset()) -> Any:
    """`value` (messages, vars: any JSON) with every data URL replaced by its placeholder.
    A container that holds itself is left as it is (the store's writer refuses it)."""
    if isinstance(value, str):
        return describe(value) if _DATA_URL.match(value) else value
    if isinstance(value, list | dict):
        if id(value) in _seen:
            return value
        seen = _seen | {id(value)}
        if isinstance(value, list):
            return [redact(v, seen) for v in value]
        return {k: redact(v, seen) for k, v in value.items()}
    return value


def attach(messages: list[dict[str, Any]], urls: list[str]) -> list[dict[str, Any]]:
    """`messages` with the images as content parts after the text of the last user message
    (a user message of its own when there is none)."""
    if not urls:
        return messages
    parts = [image_part(u) for u in urls]
    for message in reversed(messages):
        if message.get("role") == "user":
            text = message.get("content")
            head = [{"type": "text", "text": text}] if isinstance(text, str) and text else []
            message["content"] = head + parts
            return messages
    messages.append({"role": "user", "content": parts})
    return messages


@dataclass
class ImageLoader:
    """Resolves image inputs for one case: files relative to `base`, kept inside `root`/`within`
    after links are resolved (llmctl.sources.is_inside: the rule of an evalset's `source:`).

    `root` None allows any file (a library caller's own paths); errors name `file`:`line`
    (`lines` gives the line of each variable where it is known).
    """

    base: Path
    root: Path | None = None
    within: str | None = None  # folder of `root` files must stay in (None: the whole project)
    file: str | None = None
    line: int | None = None
    lines: dict[str, int] | None = None
    max_bytes: int = MAX_IMAGE_BYTES

    def __call__(self, name: str, value: str) -> str:
        return self.resolve(name, value)

    def _error(self, name: str, message: str) -> InputError:
        line = (self.lines or {}).get(name, self.line)
        return InputError(f"image input {name!r}: {message}", file=self.file, line=line)

    def resolve(self, name: str, value: str) -> str:
        """The URL to send for `value` (a data URL for a file)."""
        if not isinstance(value, str) or not value.strip():
            raise self._error(name, "must be a file path, an http(s) URL or a data URL")
        text = value.strip()
        if text[:5].lower() == "data:":
            return self._data_url(name, text)
        if text[:7].lower() == "http://" or text[:8].lower() == "https://":
            return self._url(name, text)
        if _SCHEME.match(text) and not re.match(r"^[A-Za-z]:[\\/]", text):
            raise self._error(
                name, f"unsupported URL {describe(text)[7:-1]!r} (use a file path, an http(s) URL or a data URL)"
            )
        return self._file(name, text)

    def file_of(self, value: Any) -> Path | None:
        """The file a value names (links resolved, unchecked); None for a URL, a data URL or no path."""
        if not isinstance(value, str) or not value.strip():
            return None
        text = value.strip()
        if _SCHEME.match(text) and not re.match(r"^[A-Za-z]:[\\/]", text):
            return None
        return (self.base / text).resolve()

    def _url(self, name: str, text: str) -> str:
        parts = urlsplit(text)
        if not parts.netloc or any(c.isspace() or ord(c) < 32 for c in text):
            raise self._error(name, f"malformed URL {describe(text)[7:-1]!r}")
        return text

    def _data_url(self, name: str, text: str) -> str:
        match = _DATA_URL.match(text)
        if match is None or ";base64" not in match.group("params").lower():
            raise self._error(name, "a data URL must be data:<image type>;base64,<data>")
        media = match.group("type").lower()
        if media not in MEDIA_TYPES:
            raise self._error(name, f"data URL type {media or '(none)'!r} is not one of {', '.join(MEDIA_TYPES)}")
        data = _b64decode(text[match.end() :])
        if data is None or not data:
            raise self._error(name, "the data URL's base64 data is malformed or empty")
        self._check_size(name, len(data))
        return text

    def _file(self, name: str, text: str) -> str:
        raw = Path(text)
        if raw.is_absolute() and self.root is not None:
            raise self._error(name, f"path {text!r} must be relative to the evalset")
        path = (self.base / raw).resolve()
        if self.root is not None and not is_inside(path, self.root, self.within):
            where = f"{self.within.strip('/')}/" if self.within else "the project"
            raise self._error(name, f"path {text!r} leads outside {where} (through '..' or a symbolic link)")
        if not path.is_file():
            raise self._error(name, f"image file not found: {text}")
        media = mimetypes.guess_type(path.name)[0]
        if media not in MEDIA_TYPES:
            raise self._error(name, f"{text!r} is not a PNG, JPEG, GIF or WebP file (by its extension)")
        try:
            size = path.stat().st_size
            self._check_size(name, size)
            data = path.read_bytes()
        except OSError as exc:
            raise self._error(name, f"cannot read {text!r}: {exc.strerror or exc}") from None
        if not data:
            raise self._error(name, f"image file {text!r} is empty")
        self._check_size(name, len(data))
        return f"data:{media};base64,{base64.b64encode(data).decode('ascii')}"

    def _check_size(self, name: str, size: int) -> None:
        if size > self.max_bytes:
            raise self._error(name, f"the image is {_size(size)}; the limit is {_size(self.max_bytes)}")


def evalset_loader(
    root: Path, evalset_path: str, scope: str | None, *, line: int | None, lines: dict[str, int] | None = None
) -> ImageLoader:
    """The loader for a case of the evalset at `evalset_path` (project-relative): files are
    relative to the evalset's folder and stay inside `scope` (the evalsets folder; None: the project)."""
    top = root.resolve()
    return ImageLoader(
        base=(top / evalset_path).parent,
        root=top,
        within=scope,
        file=evalset_path,
        line=line,
        lines=lines,
    )

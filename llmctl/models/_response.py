"""What a provider sent, turned into one completion or one per-case error.

Every transport (native, litellm, a streaming body) hands its decoded payload to
`parse_completion`; nothing a server sends may escape as anything but a
`Completion` or an `AttemptError` (which the client stores as that case's error):

    completion = parse_completion(payload, provider="openai")   # or AttemptError
    completion.output, completion.usage, completion.warnings

- `choices[0].message.content`: a string is the output; `null` is ""; a list of
  content parts is the text of its text parts, joined (`parts` keeps the list as
  sent); a lone part object is its text; a number, a boolean or any other
  object is its JSON text (with a warning). `choices[0].text` is read too.
- `usage`: each of `prompt_tokens` / `completion_tokens` must be a JSON integer in
  0..MAX_TOKENS; anything else (negative, huge, fractional, a string, a usage
  that is not an object) is stored as unknown (NULL), with a warning.
- `choices[0].message.tool_calls` (or the legacy `function_call`): each call as
  `{"id", "name", "arguments", "raw_arguments"}` (`arguments`: the parsed JSON
  object, or None when the model's argument text is not JSON); streamed calls are
  assembled from their `index`ed deltas. `finish_reason` is kept as sent (a string).
- Lone UTF-16 surrogates (`"\\ud800"`) in any text are replaced with U+FFFD.
- A body that is not JSON is retried (a truncated body usually is a network fault);
  JSON that is not a completion (no choices, an `error` object) is one clean error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmctl.models._errors import AttemptError
from llmctl.types import Usage as Usage  # its home is llmctl.types (one Usage for calls and sums)

if TYPE_CHECKING:
    from llmctl.models._cost import Price

MAX_TOKENS = 10**12  # no call has used a trillion tokens; larger counts are not counts
# Tool-call arguments nested deeper than this are refused as the case's error: every later step
# (evaluators, JSON columns of the store, the request sent back in an agent loop) recurses over them.
MAX_ARGUMENT_DEPTH = 64
_SURROGATE = re.compile("[\ud800-\udfff]")
_TEXT_PART_TYPES = frozenset({"text", "output_text", "input_text"})

_orjson_loads: Callable[[bytes | str], Any] | None
try:  # the fastest codec available; the stdlib one when orjson refuses (lone surrogates)
    import orjson

    _orjson_loads = orjson.loads
except ImportError:  # pragma: no cover - depends on the environment
    _orjson_loads = None


@dataclass
class Completion:
    """One successful answer. `usage` is None when the provider sent none (the client estimates)."""

    output: str
    usage: Usage | None = None
    ttft_ms: float | None = None
    parts: list[Any] | None = None  # the content parts as sent, when content was not a plain string
    warnings: list[str] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] | None = None  # {id, name, arguments, raw_arguments}; None: no calls
    finish_reason: str | None = None
    price: Price | None = None  # the price of the model that served it, when not its route's (a Router fallback)


def clean_text(text: str) -> str:
    """`text` with lone surrogates replaced by U+FFFD (they cannot be stored as UTF-8)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


def decode_json(raw: bytes | str) -> Any:
    """A JSON body (orjson, or the stdlib where orjson refuses lone surrogates); ValueError."""
    if _orjson_loads is not None:
        try:
            return _orjson_loads(raw)
        except ValueError:
            pass
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    return json.loads(raw)


def snippet(raw: bytes | str, limit: int = 120) -> str:
    """The start of a body, for an error message (one line, printable)."""
    text = raw[:limit].decode("utf-8", "replace") if isinstance(raw, bytes) else raw[:limit]
    return repr(clean_text(text))


def parse_body(raw: bytes | str, provider: str) -> Completion:
    """A 200 body: its JSON parsed as a completion. Not JSON: a retryable AttemptError."""
    try:
        payload = decode_json(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise AttemptError(f"malformed response from {provider}: {snippet(raw)}", retryable=True) from None
    return parse_completion(payload, provider=provider)


def parse_completion(payload: object, *, provider: str = "the provider") -> Completion:
    """A decoded chat-completion payload (anything) as a Completion, or AttemptError."""
    if not isinstance(payload, dict):
        raise AttemptError(
            f"malformed response from {provider}: expected a JSON object, got {_kind(payload)}", retryable=True
        )
    choices = payload.get("choices")
    if not isinstance(choices, list) or not choices:
        error = payload.get("error")
        if error:
            raise AttemptError(f"error from {provider}: {error_message(error)}", retryable=True)
        raise AttemptError(
            f"malformed response from {provider}: `choices` is {_kind(choices)}, not a non-empty list", retryable=True
        )
    choice = choices[0]
    message = choice.get("message") if isinstance(choice, dict) else None
    if message is None and isinstance(choice, dict) and isinstance(choice.get("text"), str):
        message = {"content": choice["text"]}  # a text-completion shaped answer
    if not isinstance(message, dict):
        raise AttemptError(
            f"malformed response from {provider}: `choices[0].message` is {_kind(message)}, not an object",
            retryable=True,
        )
    warnings: list[str] = []
    content = message.get("content")
    output = content_text(content, warnings)
    parts = content if isinstance(content, list) else None
    usage = parse_usage(payload.get("usage"), warnings) if "usage" in payload else None
    calls = message.get("tool_calls")
    if calls is None and isinstance(message.get("function_call"), dict):
        calls = [{"function": message["function_call"]}]
    tool_calls = parse_tool_calls(calls, warnings)
    finish = choice.get("finish_reason") if isinstance(choice, dict) else None
    return Completion(
        output=output,
        usage=usage,
        parts=parts,
        warnings=warnings,
        tool_calls=tool_calls,
        finish_reason=clean_text(finish)[:100] if isinstance(finish, str) else None,
    )


def tool_call(name: str, raw_arguments: str, call_id: str | None = None) -> dict[str, Any]:
    """One stored tool call: `arguments` is `raw_arguments` parsed (None when it is not JSON).
    Arguments nested deeper than MAX_ARGUMENT_DEPTH are an AttemptError (the case's error)."""
    depth = json_depth(raw_arguments)
    if depth > MAX_ARGUMENT_DEPTH:
        raise AttemptError(
            f"tool call {snippet(name, 60)}: its arguments are nested deeper than {MAX_ARGUMENT_DEPTH} levels "
            f"({depth}); not stored",
            retryable=False,
        )
    try:
        arguments = decode_json(raw_arguments) if raw_arguments.strip() else {}
    except (ValueError, UnicodeDecodeError, RecursionError):
        arguments = None
    return {"id": call_id, "name": name, "arguments": arguments, "raw_arguments": raw_arguments}


_BRACKETS = re.compile(r'[\[\]{}"\\]')


def json_depth(text: str) -> int:
    """The deepest nesting of `[`/`{` in JSON text (brackets inside strings do not count), in one
    pass without recursion; for text that is not JSON, a best effort."""
    if "[" not in text and "{" not in text:
        return 0
    depth = deepest = 0
    in_string = False
    escaped_at = -1  # the position of the character a backslash escapes
    for m in _BRACKETS.finditer(text):
        c, at = m.group(), m.start()
        if in_string:
            if at == escaped_at:
                continue
            if c == "\\":
                escaped_at = at + 1
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth = max(0, depth - 1)
    return deepest


def parse_tool_calls(calls: object, warnings: list[str] | None = None) -> list[dict[str, Any]] | None:
    """A message's `tool_calls` (any shape) as stored calls; None when there are none."""
    if calls is None or calls == []:
        return None
    if not isinstance(calls, list):
        if warnings is not None:
            warnings.append(f"tool_calls was {_kind(calls)}, not a list; ignored")
        return None
    out: list[dict[str, Any]] = []
    for call in calls:
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            if warnings is not None:
                warnings.append("a tool call without a function name was ignored")
            continue
        raw = fn.get("arguments")
        if raw is None:
            raw = ""
        elif not isinstance(raw, str):  # some servers send the object itself
            raw = _json_text(raw)
        call_id = call.get("id")
        out.append(
            tool_call(
                clean_text(fn["name"]), clean_text(raw), clean_text(call_id) if isinstance(call_id, str) else None
            )
        )
    return out or None


def content_text(content: object, warnings: list[str] | None = None) -> str:
    """The output text of a message's (or a stream delta's) `content`, whatever its shape."""
    if isinstance(content, str):
        return clean_text(content)
    if content is None:
        return ""
    if isinstance(content, list):
        return "".join(_part_text(part) for part in content)
    if isinstance(content, dict):
        text = content.get("text")
        if isinstance(text, str):
            return clean_text(text)
    if warnings is not None:
        warnings.append(f"the answer's content was {_kind(content)}; stored as its JSON text")
    return _json_text(content)


class StreamReader:
    """Server-sent chunks (decoded JSON, any shape) gathered into one Completion."""

    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.usage: Any = None
        self.ttft_ms: float | None = None
        self.warnings: list[str] = []
        self.calls: dict[int, dict[str, str]] = {}  # index -> {id, name, arguments} so far
        self.finish_reason: str | None = None

    def add(self, chunk: object) -> bool:
        """Take one chunk; True when it carried answer text. AttemptError for an error chunk."""
        if not isinstance(chunk, dict):
            raise AttemptError(f"malformed stream: a chunk is {_kind(chunk)}, not an object", retryable=True)
        if chunk.get("error"):
            raise AttemptError(f"stream error: {error_message(chunk['error'])}", retryable=True)
        text = False
        choices = chunk.get("choices")
        for choice in choices if isinstance(choices, list) else ():
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if isinstance(delta, dict) and delta.get("content") is not None:
                piece = content_text(delta["content"], self.warnings)
                if piece:
                    self.pieces.append(piece)
                    text = True
            if isinstance(delta, dict) and isinstance(delta.get("tool_calls"), list):
                for part in delta["tool_calls"]:
                    text = self._add_call(part) or text
            finish = choice.get("finish_reason") if isinstance(choice, dict) else None
            if isinstance(finish, str):
                self.finish_reason = clean_text(finish)[:100]
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        return text

    def _add_call(self, part: Any) -> bool:
        if not isinstance(part, dict):
            return False
        index = part.get("index", len(self.calls))
        if type(index) is not int:
            return False
        call = self.calls.setdefault(index, {"id": "", "name": "", "arguments": ""})
        if isinstance(part.get("id"), str):
            call["id"] = part["id"]
        fn = part.get("function")
        if isinstance(fn, dict):
            if isinstance(fn.get("name"), str):
                call["name"] += fn["name"]
            if isinstance(fn.get("arguments"), str):
                call["arguments"] += fn["arguments"]
        return True

    @property
    def has_data(self) -> bool:
        """Whether any answer text or tool call arrived."""
        return bool(self.pieces or self.calls)

    def result(self) -> Completion:
        warnings = self.warnings
        usage = parse_usage(self.usage, warnings)
        calls = [
            {"id": c["id"] or None, "function": {"name": c["name"], "arguments": c["arguments"]}}
            for _, c in sorted(self.calls.items())
        ]
        return Completion(
            output="".join(self.pieces),
            usage=usage,
            ttft_ms=self.ttft_ms,
            warnings=warnings,
            tool_calls=parse_tool_calls(calls, warnings),
            finish_reason=self.finish_reason,
        )


def _part_text(part: Any) -> str:
    if isinstance(part, str):
        return clean_text(part)
    if isinstance(part, dict) and str(part.get("type", "text")) in _TEXT_PART_TYPES:
        text = part.get("text")
        if isinstance(text, str):
            return clean_text(text)
        if isinstance(text, dict) and isinstance(text.get("value"), str):  # {"text": {"value": ...}}
            return clean_text(text["value"])
    return ""  # images, audio, reasoning and refusal parts are not the answer's text


def parse_usage(usage: object, warnings: list[str] | None = None) -> Usage | None:
    """Token counts from a `usage` object; None when there is none to read (null, {})."""
    if usage is None or usage == {}:
        return None
    if not isinstance(usage, dict):
        if warnings is not None:
            warnings.append(f"usage was {_kind(usage)}, not an object; token counts stored as unknown")
        return Usage(None, None)
    if usage.get("prompt_tokens") is None and usage.get("completion_tokens") is None:
        return None  # nothing to read (e.g. only total_tokens): the client estimates
    return Usage(
        _token_count(usage, "prompt_tokens", warnings),
        _token_count(usage, "completion_tokens", warnings),
        _detail_count(usage, "prompt_tokens_details", "cached_tokens", warnings),
        _detail_count(usage, "completion_tokens_details", "reasoning_tokens", warnings),
        _cache_write_count(usage, warnings),
    )


def _cache_write_count(usage: dict[str, Any], warnings: list[str] | None) -> int | None:
    """Prompt tokens written to the provider's prompt cache, wherever the provider put them."""
    if usage.get("cache_creation_input_tokens") is not None:
        return _token_count(usage, "cache_creation_input_tokens", warnings)
    for name in ("cache_creation_tokens", "cache_write_tokens"):
        value = _detail_count(usage, "prompt_tokens_details", name, warnings)
        if value is not None:
            return value
    return None


def _detail_count(usage: dict[str, Any], member: str, name: str, warnings: list[str] | None) -> int | None:
    """`usage[member][name]` as a token count; None when absent (or, with a warning, not a count)."""
    details = usage.get(member)
    if not isinstance(details, dict):
        return None
    return _token_count(details, name, warnings, f"{member}.{name}")


def _token_count(usage: dict[str, Any], name: str, warnings: list[str] | None, label: str = "") -> int | None:
    if name not in usage or usage[name] is None:
        return None
    value = usage[name]
    if type(value) is int and 0 <= value <= MAX_TOKENS:
        return value
    if warnings is not None:
        shown = repr(value) if isinstance(value, (int, float)) else _kind(value)
        if len(shown) > 40:
            shown = shown[:37] + "..."
        warnings.append(f"usage.{label or name} was {shown}, not a token count; stored as unknown")
    return None


def error_message(error: object) -> str:
    """The message of an `error` member (an object with `message`, or a string), one line."""
    if isinstance(error, dict) and error.get("message"):
        error = error["message"]
    text = error if isinstance(error, str) else _json_text(error)
    return " ".join(clean_text(text).split())[:500] or "(no message)"


def _json_text(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (ValueError, RecursionError):
        text = str(value)
    return clean_text(text)


def _kind(value: Any) -> str:
    """A short description of a JSON value for messages ("a list", "null", "the number 42")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        text = repr(value)
        return f"the number {text if len(text) <= 20 else text[:17] + '...'}"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"

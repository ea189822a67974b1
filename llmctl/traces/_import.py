"""Readers of production trace files: OTLP/JSON spans, OpenAI exchange JSONL, litellm StandardLoggingPayload JSONL.

Each reader streams its file line by line (constant memory: one line, one batch of rows) and
yields `TraceBatch`es for `llmctl.store.import_traces`. A malformed line raises an InputError
naming the file and line; the store rolls the whole file back.

OTLP spans are LLM calls when they carry `gen_ai.*` or `llm.*` attributes. Read, in this order
of preference (current GenAI semantic conventions first, then the deprecated names that
OpenLLMetry and others still emit):

- model: `gen_ai.response.model`, `gen_ai.request.model`, `llm.response.model`, `llm.request.model`
- tokens: `gen_ai.usage.input_tokens` / `output_tokens`, `gen_ai.usage.prompt_tokens` /
  `completion_tokens`, `llm.usage.prompt_tokens` / `completion_tokens`
- cost: `gen_ai.usage.cost`, `llm.usage.cost`, `llmctl.cost_usd`; else litellm's cost map
- input: `gen_ai.input.messages` (+ `gen_ai.system_instructions`), `gen_ai.prompt.N.role/content`,
  `llm.prompts.N.role/content`, the events `gen_ai.{system,user,assistant,tool}.message`,
  `gen_ai.content.prompt`
- output: `gen_ai.output.messages`, `gen_ai.completion.N.content` (+ `.tool_calls.M.name/arguments`,
  `.finish_reason`), `llm.completions.N.content`, the events `gen_ai.choice`,
  `gen_ai.content.completion`, and streamed chunks (events named `*.chunk`, joined in order)
- prompt: `gen_ai.prompt.name` or `llmctl.prompt`, version `llmctl.prompt.version`, variables
  `llmctl.prompt.vars` (JSON), on the LLM span or on a span enclosing it in the same trace
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson

from llmctl.errors import InputError

FORMATS = ("auto", "otlp", "openai", "litellm")
BATCH_ROWS = 20_000
BATCH_BYTES = 32 * 1024 * 1024  # a batch also ends after this much of the file: large spans, bounded memory
CHUNK_BYTES = 16 * 1024 * 1024
PARALLEL_MIN_BYTES = 48 * 1024 * 1024  # smaller files: starting the workers costs more than it saves
MAX_LINE_BYTES = 256 * 1024 * 1024  # a line longer than this is refused, not read into memory

_TOOL_KEY = re.compile(r"^tool_calls\.(\d+)\.(name|arguments|id)$")
_NUM_KEY = re.compile(r"^(gen_ai\.prompt|gen_ai\.completion|llm\.prompts|llm\.completions)\.(\d+)\.(.+)$")
_CONTENT_KEYS = {"gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions", "llmctl.prompt.vars"}


class TraceFormatError(InputError):
    """A trace file line that cannot be read."""


@dataclass
class _Pricing:
    """Per-token prices from litellm's cost map, looked up once per (provider, model)."""

    cache: dict[tuple[str, str], Any] = field(default_factory=dict)

    def cost(self, provider: str | None, model: str | None, prompt: int | None, completion: int | None) -> float | None:
        if not model or (prompt is None and completion is None):
            return None
        key = (provider or "", model)
        price = self.cache.get(key)
        if price is None:
            from llmctl.models._cost import _lookup

            candidates = [model]
            if provider and not model.startswith(f"{provider}/"):
                candidates.insert(0, f"{provider}/{model}")
            price = None
            for litellm_id in candidates:
                prov, _, name = litellm_id.partition("/")
                found = _lookup(litellm_id, prov, name or litellm_id)
                if found.input or found.output:
                    price = found
                    break
            self.cache[key] = price if price is not None else False
        if not price:
            return None
        return float(price.input * (prompt or 0) + price.output * (completion or 0))


# -- row building --------------------------------------------------------------------------


class _Rows:
    """Column lists of one batch (faster than a list of dicts into Arrow)."""

    def __init__(self, file: str, imported_at: datetime | None, fields: tuple[str, ...] | None = None) -> None:
        if fields is None:
            from llmctl.store import TRACE_FIELDS

            fields = TRACE_FIELDS
        self.fields = fields
        self.file = file
        self.imported_at = imported_at
        self.reset()

    def reset(self) -> None:
        self.cols: dict[str, list[Any]] = {name: [] for name in self.fields}
        self._pairs = [(name, self.cols[name].append) for name in self.fields if name not in ("file", "imported_at")]
        self.ids: set[str] = set()
        self.attributions: list[tuple[str, str | None, str | None, str | None]] = []

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, row: dict[str, Any]) -> None:
        ids = self.ids
        if row["id"] in ids:  # the same span twice in one batch
            return
        ids.add(row["id"])
        get = row.get
        for name, append in self._pairs:
            append(get(name))

    def extend(self, cols: dict[str, list[Any]], attributions: list[Any]) -> None:
        """Another reader's rows (a worker's chunk of the file), skipping ids this batch has already."""
        self.attributions.extend(attributions)
        ids = self.ids
        new = [i for i, row_id in enumerate(cols["id"]) if row_id not in ids]
        ids.update(cols["id"][i] for i in new)
        everything = len(new) == len(cols["id"])
        for name, _ in self._pairs:
            column = cols[name]
            self.cols[name].extend(column if everything else [column[i] for i in new])

    def batch(self) -> Any:
        import pyarrow as pa

        from llmctl.store import TRACE_SCHEMA, TraceBatch

        n = len(self.ids)
        self.cols["file"] = [self.file] * n
        self.cols["imported_at"] = [self.imported_at] * n
        # `ts` holds datetimes or microseconds since the epoch (OTLP: no datetime object per span)
        table = pa.Table.from_arrays([pa.array(self.cols[f.name], f.type) for f in TRACE_SCHEMA], schema=TRACE_SCHEMA)
        out = TraceBatch(table, self.attributions)
        self.reset()
        return out


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _json(value: Any) -> str | None:
    if value is None or value == [] or value == {}:
        return None
    return orjson.dumps(value, default=str).decode()


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, int) and 0 <= value < 1 << 62 else None


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        out = float(value)
    except ValueError:
        return None
    return out if out == out and out not in (float("inf"), float("-inf")) and out >= 0 else None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # content parts
        parts = [p.get("text") or p.get("content") if isinstance(p, dict) else p for p in value]
        return "".join(str(p) for p in parts if isinstance(p, str))
    return orjson.dumps(value, default=str).decode()


def _sha(value: Any) -> str:
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=str)).hexdigest()[:32]


def _ts_from_iso(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return parsed


def _ts_from_epoch(seconds: Any) -> datetime | None:
    value = _float(seconds)
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(value, timezone.utc).replace(tzinfo=None)
    except (OverflowError, OSError, ValueError):
        return None


def _tool_call(name: Any, arguments: Any, call_id: Any = None) -> dict[str, Any]:
    parsed = arguments
    if isinstance(arguments, str):
        try:
            parsed = orjson.loads(arguments)
        except orjson.JSONDecodeError:
            parsed = None
    return {
        "id": call_id if isinstance(call_id, str) else None,
        "name": str(name) if name is not None else None,
        "arguments": parsed if isinstance(parsed, dict) else None,
        "raw_arguments": arguments if isinstance(arguments, str) else _json(arguments),
    }


def _openai_tool_calls(calls: Any) -> list[dict[str, Any]]:
    out = []
    for c in calls if isinstance(calls, list) else []:
        if isinstance(c, dict):
            fn = _obj(c.get("function")) or c
            out.append(_tool_call(fn.get("name"), fn.get("arguments"), c.get("id")))
    return out


def _clean_messages(messages: Any) -> list[dict[str, Any]]:
    out = []
    for m in messages if isinstance(messages, list) else []:
        if not isinstance(m, dict):
            continue
        msg: dict[str, Any] = {"role": str(m.get("role") or "user")}
        content = m.get("content")
        msg["content"] = content if isinstance(content, (str, list)) or content is None else _text(content)
        if m.get("tool_calls"):
            msg["tool_calls"] = m["tool_calls"]
        if m.get("tool_call_id"):
            msg["tool_call_id"] = m["tool_call_id"]
        if m.get("name"):
            msg["name"] = m["name"]
        out.append(msg)
    return out


# -- OTLP/JSON -----------------------------------------------------------------------------


def _value(v: Any) -> Any:
    if not isinstance(v, dict):
        return None
    if "stringValue" in v:
        return v["stringValue"]
    if "intValue" in v:
        return _int_any(v["intValue"])
    if "doubleValue" in v:
        d = v["doubleValue"]
        return float(d) if isinstance(d, (int, float, str)) and not isinstance(d, bool) else None
    if "boolValue" in v:
        return bool(v["boolValue"])
    if "arrayValue" in v:
        values = (v["arrayValue"] or {}).get("values") or []
        return [_value(x) for x in values]
    if "kvlistValue" in v:
        return _attrs((v["kvlistValue"] or {}).get("values"))
    if "bytesValue" in v:
        return v["bytesValue"]
    return None


def _int_any(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _attrs(items: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if type(items) is list:
        for kv in items:
            if type(kv) is dict:
                key = kv.get("key")
                if type(key) is str:
                    v = kv.get("value")
                    if type(v) is dict:
                        s = v.get("stringValue", _ABSENT)
                        out[key] = s if s is not _ABSENT else _value(v)
                    else:
                        out[key] = None
    return out


_ABSENT = object()


_HEX = re.compile(r"[0-9a-fA-F]+")


def _hex_id(value: Any, size: int) -> str | None:
    """A trace or span id as lowercase hex: OTLP/JSON writes hex, protobuf's JSON mapping base64."""
    if not isinstance(value, str) or not value:
        return None
    if len(value) == size * 2 and _HEX.fullmatch(value):
        return value.lower()
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.hex() if len(raw) == size else None


# Any of these makes a span an LLM call (a span naming only its prompt is an app span).
_LLM_MARKERS = (
    "gen_ai.system",
    "gen_ai.provider.name",
    "gen_ai.operation.name",
    "gen_ai.request.model",
    "gen_ai.response.model",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.prompt_tokens",
    "llm.request.type",
    "llm.request.model",
    "llm.response.model",
    "llm.vendor",
)
_INDEXED_PREFIXES = ("gen_ai.prompt.", "gen_ai.completion.", "llm.prompts.", "llm.completions.")


_LLM_MARKER_SET = frozenset(_LLM_MARKERS)


def _is_llm(attrs: dict[str, Any]) -> bool:
    return not _LLM_MARKER_SET.isdisjoint(attrs)


def _first(attrs: dict[str, Any], *keys: str) -> Any:
    for k in keys:
        v = attrs.get(k)
        if v is not None:
            return v
    return None


def _split_indexed(attrs: dict[str, Any]) -> dict[str, dict[int, dict[str, Any]]]:
    """The indexed attributes, read once per span: `gen_ai.prompt.0.role` ... as
    {"gen_ai.prompt": {0: {"role": ...}}} (nested keys kept dotted), keyed by prefix."""
    return _split_kept(attrs)[0]


def _split_kept(attrs: dict[str, Any]) -> tuple[dict[str, dict[int, dict[str, Any]]], dict[str, Any]]:
    """`_split_indexed` and, in the same pass, the attributes a row keeps (all but the indexed
    messages, the content attributes and `llmctl.prompt*`)."""
    out: dict[str, dict[int, dict[str, Any]]] = {}
    kept: dict[str, Any] = {}
    kinds = _KEY_KINDS
    for key, value in attrs.items():
        kind = kinds.get(key)
        if kind is None:
            kind = _key_kind(key)
        if kind is True:
            kept[key] = value
        elif kind is not False:
            out.setdefault(kind[0], {}).setdefault(kind[1], {})[kind[2]] = value
    return out, kept


# attribute name -> True (kept), False (dropped) or (prefix, N, rest) of an indexed message
# attribute: the names repeat from span to span, so each is classified once per process
_KEY_KINDS: dict[str, Any] = {}
_KEY_KINDS_MAX = 100_000  # past this many distinct names (ids in names?), classify without keeping


def _key_kind(key: str) -> Any:
    kind: Any = None
    if key.startswith(_INDEXED_PREFIXES):
        m = _NUM_KEY.match(key)
        if m:
            kind = (m.group(1), int(m.group(2)), m.group(3))
    if kind is None:
        kind = key not in _CONTENT_KEYS and not key.startswith("llmctl.prompt")
    if len(_KEY_KINDS) < _KEY_KINDS_MAX:
        _KEY_KINDS[key] = kind
    return kind


def _indexed(split: dict[str, dict[int, dict[str, Any]]], prefixes: tuple[str, ...]) -> dict[int, dict[str, Any]]:
    """The messages under `prefixes` of `_split_indexed`'s result (the first prefix present)."""
    out: dict[int, dict[str, Any]] = {}
    for prefix in prefixes:
        for n, fields in split.get(prefix, {}).items():
            out.setdefault(n, {}).update(fields)
    return out


def _semconv_messages(value: Any) -> list[dict[str, Any]]:
    """`gen_ai.input.messages` / `gen_ai.output.messages`: [{role, parts: [{type, content|...}]}]."""
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return [{"role": "user", "content": value}]
    out = []
    for m in value if isinstance(value, list) else []:
        if not isinstance(m, dict):
            continue
        if "parts" not in m:
            out.extend(_clean_messages([m]))
            continue
        texts, calls = [], []
        for p in m.get("parts") or []:
            if not isinstance(p, dict):
                continue
            kind = p.get("type")
            if kind == "text":
                texts.append(str(p.get("content") or ""))
            elif kind == "tool_call":
                calls.append(_tool_call(p.get("name"), p.get("arguments"), p.get("id")))
            elif kind == "tool_call_response":
                texts.append(_text(p.get("response") or p.get("result")) or "")
        msg: dict[str, Any] = {"role": str(m.get("role") or "user"), "content": "".join(texts)}
        if calls:
            msg["tool_calls"] = calls
        if m.get("finish_reason"):
            msg["finish_reason"] = m["finish_reason"]
        out.append(msg)
    return out


def _span_io(
    attrs: dict[str, Any], events: list[dict[str, Any]], split: dict[str, dict[int, dict[str, Any]]] | None = None
) -> tuple[list[dict[str, Any]], str | None, list[dict[str, Any]], str | None]:
    """(input messages, output text, tool calls, finish reason) of an LLM span."""
    messages: list[dict[str, Any]] = []
    output: str | None = None
    calls: list[dict[str, Any]] = []
    finish: str | None = None
    if split is None:
        split = _split_indexed(attrs)
    if attrs.get("gen_ai.system_instructions") is not None:
        sys_msgs = _semconv_messages(attrs["gen_ai.system_instructions"])
        messages += [{"role": "system", "content": m.get("content")} for m in sys_msgs]
    if attrs.get("gen_ai.input.messages") is not None:
        messages += _semconv_messages(attrs["gen_ai.input.messages"])
    if not messages:
        for _, m in sorted(_indexed(split, ("gen_ai.prompt", "llm.prompts")).items()):
            msg = {"role": str(m.get("role") or "user"), "content": m.get("content")}
            if m.get("tool_call_id"):
                msg["tool_call_id"] = m["tool_call_id"]
            messages.append(msg)
    if attrs.get("gen_ai.output.messages") is not None:
        outs = _semconv_messages(attrs["gen_ai.output.messages"])
        if outs:
            output = "".join(str(m.get("content") or "") for m in outs) or None
            calls = [c for m in outs for c in m.get("tool_calls") or []]
            finish = next((str(m["finish_reason"]) for m in outs if m.get("finish_reason")), None)
    if output is None and not calls:
        completions = _indexed(split, ("gen_ai.completion", "llm.completions"))
        if completions:
            first = completions[min(completions)]
            output = _text(first.get("content"))
            finish = first.get("finish_reason")
            found: dict[int, dict[str, Any]] = {}
            for key, value in first.items():
                hit = _TOOL_KEY.match(key)
                if hit:
                    found.setdefault(int(hit.group(1)), {})[hit.group(2)] = value
            calls = [_tool_call(c.get("name"), c.get("arguments"), c.get("id")) for _, c in sorted(found.items())]
    chunks: list[str] = []
    event_messages: list[dict[str, Any]] = []
    for ev in events:
        name = ev.get("name") or ""
        ea = _attrs(ev.get("attributes"))
        if name in ("gen_ai.system.message", "gen_ai.user.message", "gen_ai.assistant.message", "gen_ai.tool.message"):
            event_messages.append({"role": name.split(".")[1], "content": _text(ea.get("content"))})
        elif name == "gen_ai.content.prompt" and not messages:
            prompt = ea.get("gen_ai.prompt")
            parsed = _semconv_messages(prompt) if isinstance(prompt, str) and prompt.startswith("[") else []
            messages += parsed or [{"role": "user", "content": _text(prompt)}]
        elif name == "gen_ai.choice" and output is None:
            choice_msg: Any = ea.get("message")
            if isinstance(choice_msg, str):
                try:
                    choice_msg = orjson.loads(choice_msg)
                except orjson.JSONDecodeError:
                    choice_msg = {"content": choice_msg}
            if isinstance(choice_msg, dict):
                output = _text(choice_msg.get("content"))
                calls = calls or _openai_tool_calls(choice_msg.get("tool_calls"))
            finish = finish or ea.get("finish_reason")
        elif name == "gen_ai.content.completion" and output is None:
            output = _text(ea.get("gen_ai.completion"))
        elif name.endswith(".chunk"):
            piece = _first(ea, "content", "gen_ai.completion.chunk", "delta", "text")
            if piece is not None:
                chunks.append(str(piece))
    if output is None and chunks:
        output = "".join(chunks)
    if not messages:
        messages = event_messages
    return messages, output, calls, str(finish) if finish is not None else None


_MAX_NS = 253402300799 * 10**9  # 9999-12-31: what a TIMESTAMP holds


def _ns(value: Any) -> int | None:
    return _int_any(value) if value not in (None, "", 0, "0") else None


def _otlp_line(doc: Any, rows: _Rows, pricing: _Pricing) -> None:
    if not isinstance(doc, dict) or not isinstance(doc.get("resourceSpans", []), list):
        raise ValueError("not an OTLP ExportTraceServiceRequest (no resourceSpans list)")
    llm: list[tuple[dict[str, Any], str, str | None]] = []
    names: dict[str, tuple[str | None, str | None, str | None]] = {}  # span id -> (prompt, version, vars)
    parents: dict[str, str | None] = {}
    naming: dict[str, str] = {}  # span id -> trace id of spans that name a prompt and are no LLM call
    for rs in doc.get("resourceSpans") or []:
        if not isinstance(rs, dict):
            raise ValueError("resourceSpans holds a non-object")
        resource = _attrs((rs.get("resource") or {}).get("attributes"))
        for ss in rs.get("scopeSpans") or rs.get("instrumentationLibrarySpans") or []:
            if not isinstance(ss, dict):
                raise ValueError("scopeSpans holds a non-object")
            for span in ss.get("spans") or []:
                if not isinstance(span, dict):
                    raise ValueError("spans holds a non-object")
                trace_id = _hex_id(span.get("traceId"), 16)
                span_id = _hex_id(span.get("spanId"), 8)
                if trace_id is None or span_id is None:
                    raise ValueError(f"span {str(span.get('name'))[:60]!r} has no valid traceId/spanId")
                parent = _hex_id(span.get("parentSpanId"), 8)
                parents[span_id] = parent
                attrs = _attrs(span.get("attributes"))
                prompt = _first(attrs, "gen_ai.prompt.name", "llmctl.prompt")
                if prompt is not None:
                    names[span_id] = (
                        str(prompt),
                        _str_or_none(attrs.get("llmctl.prompt.version")),
                        _vars_json(attrs.get("llmctl.prompt.vars")),
                    )
                if _is_llm(attrs):
                    llm.append(({"span": span, "attrs": attrs, "resource": resource}, trace_id, span_id))
                elif prompt is not None:
                    naming[span_id] = trace_id
    for item, trace_id, span_id in llm:
        row = _otlp_row(item["span"], item["attrs"], item["resource"], trace_id, span_id or "", pricing)
        if row["prompt"] is None:  # the nearest enclosing span of this request that names a prompt
            hop, seen = parents.get(span_id or ""), 0
            while hop is not None and seen < 64:
                if hop in names:
                    naming.pop(hop, None)
                    row["prompt"], version, vars_ = names[hop]
                    row["version"] = row["version"] or version
                    row["vars"] = row["vars"] or vars_
                    break
                hop, seen = parents.get(hop), seen + 1
        rows.add(row)
    # app spans no LLM span of this request resolved to: their calls are in other lines of the file
    rows.attributions.extend((trace_id, *names[span_id]) for span_id, trace_id in naming.items())


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _vars_json(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            return None
        return _json(parsed) if isinstance(parsed, dict) else None
    return _json(value) if isinstance(value, dict) else None


def _otlp_row(
    span: dict[str, Any],
    attrs: dict[str, Any],
    resource: dict[str, Any],
    trace_id: str,
    span_id: str,
    pricing: _Pricing,
) -> dict[str, Any]:
    events = [e for e in span.get("events") or [] if isinstance(e, dict)]
    split, kept = _split_kept(attrs)
    messages, output, calls, finish = _span_io(attrs, events, split)
    start, end = _ns(span.get("startTimeUnixNano")), _ns(span.get("endTimeUnixNano"))
    status = _obj(span.get("status"))
    error = None
    if status.get("code") in (2, "2", "STATUS_CODE_ERROR", "ERROR"):
        exc = next(
            (_attrs(e.get("attributes")) for e in events if e.get("name") == "exception"),
            {},
        )
        error = (
            status.get("message")
            or exc.get("exception.message")
            or attrs.get("error.type")
            or exc.get("exception.type")
            or "error"
        )
    model = _first(attrs, "gen_ai.response.model", "gen_ai.request.model", "llm.response.model", "llm.request.model")
    prompt_tokens = _int(
        _first(attrs, "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.usage.prompt_tokens")
    )
    completion_tokens = _int(
        _first(attrs, "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.usage.completion_tokens")
    )
    cost = _float(_first(attrs, "gen_ai.usage.cost", "llm.usage.cost", "llmctl.cost_usd"))
    provider = _first(attrs, "gen_ai.provider.name", "gen_ai.system", "llm.vendor")
    estimated = None
    if cost is None:
        cost = pricing.cost(_str_or_none(provider), _str_or_none(model), prompt_tokens, completion_tokens)
        estimated = True if cost is not None else None
    finish = finish or _first_of_list(attrs.get("gen_ai.response.finish_reasons"))
    if resource.get("service.name") is not None:
        kept["service.name"] = resource["service.name"]
    if span.get("name"):
        kept["span.name"] = span["name"]
    return {
        "id": f"otlp:{trace_id}:{span_id}",
        "ts": start // 1000 if start and start < _MAX_NS else None,  # microseconds since the epoch
        "source": "otlp",
        "prompt": _str_or_none(_first(attrs, "gen_ai.prompt.name", "llmctl.prompt")),
        "version": _str_or_none(attrs.get("llmctl.prompt.version")),
        "model": _str_or_none(model),
        "input_messages": _json(messages),
        "output": output,
        "tool_calls": _json(calls),
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "cost_usd": cost,
        "cost_estimated": estimated,
        "latency_ms": (end - start) / 1e6 if start and end and end >= start else None,
        "error": _str_or_none(error),
        "finish_reason": finish,
        "vars": _vars_json(attrs.get("llmctl.prompt.vars")),
        "trace_id": trace_id,
        "span_id": span_id,
        "attributes": _json(kept),
    }


def _first_of_list(value: Any) -> str | None:
    if isinstance(value, list) and value:
        return _str_or_none(value[0])
    return _str_or_none(value) if isinstance(value, str) else None


# -- OpenAI exchanges ----------------------------------------------------------------------


def _merge_chunks(chunks: list[Any]) -> dict[str, Any]:
    """A streamed response (a list of `chat.completion.chunk` objects) as one completion."""
    text: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    finish = None
    usage = None
    model = None
    rid = None
    for ch in chunks:
        if not isinstance(ch, dict):
            continue
        model = model or ch.get("model")
        rid = rid or ch.get("id")
        if isinstance(ch.get("usage"), dict):
            usage = ch["usage"]
        for choice in ch.get("choices") or []:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = _obj(choice.get("delta"))
            if isinstance(delta.get("content"), str):
                text.append(delta["content"])
            for tc in delta.get("tool_calls") or []:
                if not isinstance(tc, dict):
                    continue
                slot = calls.setdefault(int(tc.get("index") or 0), {"id": None, "name": "", "arguments": ""})
                fn = _obj(tc.get("function"))
                slot["id"] = slot["id"] or tc.get("id")
                slot["name"] += str(fn.get("name") or "")
                slot["arguments"] += str(fn.get("arguments") or "")
            finish = choice.get("finish_reason") or finish
    message: dict[str, Any] = {"role": "assistant", "content": "".join(text) if text else None}
    if calls:
        message["tool_calls"] = [
            {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
            for _, c in sorted(calls.items())
        ]
    return {
        "id": rid,
        "model": model,
        "choices": [{"message": message, "finish_reason": finish}],
        "usage": usage,
    }


def _openai_line(doc: Any, rows: _Rows, pricing: _Pricing) -> None:
    if not isinstance(doc, dict) or not isinstance(doc.get("request"), dict):
        raise ValueError('not an OpenAI exchange (expected {"request": {...}, "response": {...}, ...})')
    request = doc["request"]
    response = doc.get("response")
    if isinstance(response, list):
        response = _merge_chunks(response)
    if response is not None and not isinstance(response, dict):
        raise ValueError("'response' must be an object (or a list of stream chunks)")
    response = response or {}
    metadata = _obj(doc.get("metadata"))
    choices = response.get("choices") if isinstance(response.get("choices"), list) else []
    choice = choices[0] if choices and isinstance(choices[0], dict) else {}
    message = _obj(choice.get("message"))
    usage = _obj(response.get("usage"))
    error = doc.get("error") or response.get("error")
    if isinstance(error, dict):
        error = error.get("message") or _json(error)
    model = response.get("model") or request.get("model")
    prompt_tokens = _int(usage.get("prompt_tokens", usage.get("input_tokens")))
    completion_tokens = _int(usage.get("completion_tokens", usage.get("output_tokens")))
    cost = _float(doc.get("cost_usd"))
    estimated = None
    if cost is None:
        cost = pricing.cost(None, _str_or_none(model), prompt_tokens, completion_tokens)
        estimated = True if cost is not None else None
    ts = _ts_from_iso(doc.get("timestamp"))
    if doc.get("timestamp") is not None and ts is None:
        raise ValueError(f"'timestamp' is not ISO-8601: {str(doc.get('timestamp'))[:40]!r}")
    vars_ = metadata.get("llmctl_vars")
    attrs = {k: v for k, v in metadata.items() if not str(k).startswith("llmctl_")}
    for key in ("temperature", "max_tokens", "top_p"):
        if key in request:
            attrs[f"gen_ai.request.{key}"] = request[key]
    return rows.add(
        {
            "id": "openai:" + _sha(doc),
            "ts": ts,
            "source": "openai",
            "prompt": _str_or_none(metadata.get("llmctl_prompt")),
            "version": _str_or_none(metadata.get("llmctl_version")),
            "model": _str_or_none(model),
            "input_messages": _json(_clean_messages(request.get("messages"))),
            "output": _text(message.get("content")),
            "tool_calls": _json(_openai_tool_calls(message.get("tool_calls"))),
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "cost_usd": cost,
            "cost_estimated": estimated,
            "latency_ms": _float(doc.get("latency_ms")),
            "error": _str_or_none(error) if error else None,
            "finish_reason": _str_or_none(choice.get("finish_reason")),
            "vars": _vars_json(vars_),
            "trace_id": None,
            "span_id": _str_or_none(response.get("id")),
            "attributes": _json(attrs),
        }
    )


# -- litellm StandardLoggingPayload --------------------------------------------------------


def _litellm_line(doc: Any, rows: _Rows, pricing: _Pricing) -> None:
    if not isinstance(doc, dict) or not ("call_type" in doc or "response_cost" in doc or "startTime" in doc):
        raise ValueError("not a litellm StandardLoggingPayload (no call_type/response_cost/startTime)")
    metadata = _obj(doc.get("metadata"))
    requester = _obj(metadata.get("requester_metadata"))
    spend = _obj(metadata.get("spend_logs_metadata"))
    named = {**spend, **requester, **{k: v for k, v in metadata.items() if str(k).startswith("llmctl_")}}
    for tag in doc.get("request_tags") or []:  # litellm's SDK keeps `metadata.tags`: "llmctl_prompt:NAME"
        key, sep, value = str(tag).partition(":")
        if sep and key in ("llmctl_prompt", "llmctl_version"):
            named.setdefault(key, value)
    response = doc.get("response")
    if isinstance(response, str):
        try:
            response = orjson.loads(response)
        except orjson.JSONDecodeError:
            response = {"choices": [{"message": {"content": response}}]}
    response = _obj(response)
    choices = response.get("choices") if isinstance(response.get("choices"), list) else []
    choice = choices[0] if choices and isinstance(choices[0], dict) else {}
    message = _obj(choice.get("message"))
    error = None
    if doc.get("status") == "failure" or doc.get("error_str"):
        info = _obj(doc.get("error_information"))
        error = doc.get("error_str") or info.get("error_message") or info.get("error_class") or "error"
    start, end = _float(doc.get("startTime")), _float(doc.get("endTime"))
    model = doc.get("model") or response.get("model")
    provider = doc.get("custom_llm_provider")
    prompt_tokens = _int(doc.get("prompt_tokens"))
    completion_tokens = _int(doc.get("completion_tokens"))
    cost = _float(doc.get("response_cost"))
    estimated = None
    if cost is None or (cost == 0 and not error and (prompt_tokens or completion_tokens)):
        priced = pricing.cost(_str_or_none(provider), _str_or_none(model), prompt_tokens, completion_tokens)
        if priced is not None:
            cost, estimated = priced, True
    attrs: dict[str, Any] = {"call_type": doc.get("call_type"), "custom_llm_provider": provider}
    for key in ("model_group", "api_base", "cache_hit", "stream"):
        if doc.get(key) is not None:
            attrs[key] = doc[key]
    attrs = {k: v for k, v in attrs.items() if v is not None}
    messages = doc.get("messages")
    return rows.add(
        {
            "id": "litellm:" + (str(doc["id"]) if isinstance(doc.get("id"), str) and doc["id"] else _sha(doc)),
            "ts": _ts_from_epoch(start),
            "source": "litellm",
            "prompt": _str_or_none(named.get("llmctl_prompt")),
            "version": _str_or_none(named.get("llmctl_version")),
            "model": _str_or_none(model),
            "input_messages": _json(_clean_messages(messages if isinstance(messages, list) else [])),
            "output": _text(message.get("content")),
            "tool_calls": _json(_openai_tool_calls(message.get("tool_calls"))),
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "cost_usd": cost,
            "cost_estimated": estimated,
            "latency_ms": (end - start) * 1000 if start is not None and end is not None and end >= start else None,
            "error": _str_or_none(error),
            "finish_reason": _str_or_none(choice.get("finish_reason")),
            "vars": _vars_json(named.get("llmctl_vars")),
            "trace_id": _str_or_none(doc.get("trace_id")),
            "span_id": _str_or_none(response.get("id")),
            "attributes": _json(attrs),
        }
    )


_READERS = {"otlp": _otlp_line, "openai": _openai_line, "litellm": _litellm_line}


def detect_format(doc: Any) -> str | None:
    """The format of a file from its first record."""
    if not isinstance(doc, dict):
        return None
    if "resourceSpans" in doc:
        return "otlp"
    if isinstance(doc.get("request"), dict):
        return "openai"
    if "call_type" in doc or "response_cost" in doc or ("startTime" in doc and "messages" in doc):
        return "litellm"
    return None


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if len(raw) > MAX_LINE_BYTES:
                raise TraceFormatError(f"line longer than {MAX_LINE_BYTES} bytes", file=str(path), line=number)
            if raw.strip():
                yield number, raw


def read_file(
    path: Path,
    fmt: str = "auto",
    *,
    display: str | None = None,
    batch_rows: int = BATCH_ROWS,
    workers: int | None = None,
    parallel_min_bytes: int = PARALLEL_MIN_BYTES,
) -> Iterator[Any]:
    """`TraceBatch`es of one trace file, streamed. InputError (file:line) on the first bad line.

    A file of `parallel_min_bytes` or more is parsed by `workers` processes (default: one per
    core, at most 8); the batches are the same as the serial reader's."""
    name = display or str(path)
    if fmt not in FORMATS:
        raise InputError(f"unknown trace format {fmt!r} (known: {', '.join(FORMATS)})")
    if not path.is_file():
        raise InputError("no such trace file", file=name)
    if workers is None:
        workers = _cores() if path.stat().st_size >= parallel_min_bytes else 1
    if workers > 1:
        detected = fmt if fmt != "auto" else _peek_format(path)
        if detected is not None:
            return _read_parallel(path, detected, name, batch_rows, workers)
    return _read_serial(path, fmt, name, batch_rows)


def _read_serial(path: Path, fmt: str, name: str, batch_rows: int) -> Iterator[Any]:
    from llmctl.models._credentials import scrubber
    from llmctl.store._schema import utcnow

    rows = _Rows(name, utcnow())
    pricing = _Pricing()
    scrub = scrubber()
    reader: Callable[..., None] | None = None if fmt == "auto" else _READERS[fmt]
    read = 0  # bytes of the file in the current batch
    for current, raw in _lines(path):
        reader = _parse_line(raw, current, name, reader, rows, pricing)
        read += len(raw)
        if len(rows) >= batch_rows or (read >= BATCH_BYTES and len(rows)):
            yield _scrubbed(rows.batch(), scrub)
            read = 0
    if len(rows) or rows.attributions:
        yield _scrubbed(rows.batch(), scrub)


def _parse_line(
    raw: bytes, current: int, name: str, reader: Callable[..., None] | None, rows: _Rows, pricing: _Pricing
) -> Callable[..., None]:
    """One line into `rows`; returns the reader (detected from the first record when `reader` is None)."""
    try:
        doc = orjson.loads(raw)  # bytes: orjson checks the UTF-8 itself (no decoded copy of the line)
    except orjson.JSONDecodeError as exc:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as bad:
            raise TraceFormatError(
                f"not UTF-8 (byte {bad.start + 1} of the line): JSON trace files must be UTF-8",
                file=name,
                line=current,
                hint="re-encode the file (iconv -f latin1 -t utf-8) and import it again",
            ) from None
        raise TraceFormatError(f"invalid JSON: {exc}", file=name, line=current) from None
    if reader is None:
        detected = detect_format(doc)
        if detected is None:
            raise TraceFormatError(
                "cannot tell the trace format from the first record",
                file=name,
                line=current,
                hint="pass --format otlp|openai|litellm",
            )
        reader = _READERS[detected]
    try:
        reader(doc, rows, pricing)
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise TraceFormatError(str(exc), file=name, line=current) from None
    return reader


# -- parallel reading: worker processes parse chunks of the file -------------------------------
#
# The main process only finds chunk boundaries (a seek and one readline per chunk) and inserts;
# each worker reads its chunk (`CHUNK_BYTES` of whole lines) itself and sends back the column
# lists. Results are taken in file order, at most two chunks per worker in flight (memory stays
# flat), so the rows, the dedupe and the first bad line are what the serial reader gives.


def _cores() -> int:
    try:
        return max(1, min(len(os.sched_getaffinity(0)), 8))
    except AttributeError:  # not Linux
        return max(1, min(os.cpu_count() or 1, 8))


def _peek_format(path: Path) -> str | None:
    """The format of the first non-blank line, or None where it cannot be read (the serial reader
    then reports that line)."""
    with path.open("rb") as fh:
        while True:
            raw = fh.readline(MAX_LINE_BYTES + 1)
            if not raw or len(raw) > MAX_LINE_BYTES:
                return None
            if raw.strip():
                try:
                    return detect_format(orjson.loads(raw))
                except orjson.JSONDecodeError:
                    return None


def _chunk_bounds(path: Path, size: int) -> Iterator[tuple[int, int]]:
    """(offset, length) of consecutive chunks of about `size` bytes that end at a line end (or
    inside a line longer than MAX_LINE_BYTES, which the worker then reports)."""
    total = path.stat().st_size
    with path.open("rb") as fh:
        offset = 0
        while offset < total:
            fh.seek(min(offset + size, total))
            end = fh.tell() if fh.tell() >= total else fh.tell() + len(fh.readline(MAX_LINE_BYTES + 1))
            yield offset, end - offset
            offset = end


_worker_pricing = _Pricing()


def _parse_chunk(
    path: str, name: str, fmt: str, offset: int, length: int, fields: tuple[str, ...]
) -> tuple[dict[str, list[Any]], list[Any], int, tuple[str, int, str | None] | None]:
    """A worker's part: (columns, attributions, newlines in the chunk, error as (message, line in
    the chunk, hint) or None). Nothing here touches the store."""
    with open(path, "rb") as fh:
        fh.seek(offset)
        data = fh.read(length)
    rows = _Rows(name, None, fields)
    reader = _READERS[fmt]
    lines = data.split(b"\n")
    try:
        for i, raw in enumerate(lines, start=1):
            if len(raw) >= MAX_LINE_BYTES:
                raise TraceFormatError(f"line longer than {MAX_LINE_BYTES} bytes", file=name, line=i)
            if raw.strip():
                _parse_line(raw, i, name, reader, rows, _worker_pricing)
    except TraceFormatError as exc:
        return {}, [], 0, (exc.message, exc.line or 1, exc.hint)
    return rows.cols, rows.attributions, data.count(b"\n"), None


def _read_parallel(path: Path, fmt: str, name: str, batch_rows: int, workers: int) -> Iterator[Any]:
    import multiprocessing
    from collections import deque
    from concurrent.futures import Future, ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    from llmctl.errors import InfraError
    from llmctl.models._credentials import scrubber
    from llmctl.store._schema import utcnow

    rows = _Rows(name, utcnow())
    scrub = scrubber()
    line = 1  # the file's line number of the current chunk's first line
    # spawn, not fork: the importing process holds DuckDB's threads
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    pending: deque[Future[Any]] = deque()
    nxt_length: deque[int] = deque()  # bytes of each pending chunk
    read = 0  # bytes of the file in the current batch
    bounds = _chunk_bounds(path, CHUNK_BYTES)
    try:
        while True:
            while len(pending) < 2 * workers:
                nxt = next(bounds, None)
                if nxt is None:
                    break
                pending.append(pool.submit(_parse_chunk, str(path), name, fmt, nxt[0], nxt[1], rows.fields))
                nxt_length.append(nxt[1])
            if not pending:
                break
            try:
                cols, attributions, newlines, error = pending.popleft().result()
            except BrokenProcessPool:
                raise InfraError(
                    f"{name}: a trace-reading worker process died (out of memory?); nothing of the file was imported"
                ) from None
            if error is not None:
                message, at, hint = error
                raise TraceFormatError(message, file=name, line=line + at - 1, hint=hint)
            line += newlines
            rows.extend(cols, attributions)
            read += nxt_length.popleft()
            if len(rows) >= batch_rows or (read >= BATCH_BYTES and len(rows)):
                yield _scrubbed(rows.batch(), scrub)
                read = 0
        if len(rows) or rows.attributions:
            yield _scrubbed(rows.batch(), scrub)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


_SCRUBBED = ("input_messages", "output", "tool_calls", "error", "attributes", "vars")


def _scrubbed(batch: Any, scrub: Callable[[str], str]) -> Any:
    """API keys never reach the store: known key values, bearer tokens and sk-... keys become ***."""
    import pyarrow as pa

    table = batch.table
    for name in _SCRUBBED:
        col = table.column(name).to_pylist()
        changed = False
        for i, value in enumerate(col):
            if value is not None:
                clean = scrub(value)
                if clean is not value and clean != value:
                    col[i] = clean
                    changed = True
        if changed:
            table = table.set_column(table.schema.get_field_index(name), name, pa.array(col, pa.string()))
    batch.table = table
    return batch

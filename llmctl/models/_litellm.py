"""The litellm transport: `litellm.acompletion`, imported on first use only (it takes ~4 s)."""

from __future__ import annotations

import asyncio
import os
import re
import time
import warnings
from typing import Any

from llmctl.models._errors import AttemptError, parse_retry_after, retryable_status
from llmctl.models._response import Completion, StreamReader, parse_completion
from llmctl.models._routing import Route
from llmctl.types import Messages, ModelSpec

_litellm: Any = None


def import_litellm() -> Any:
    """Import litellm once, with its bundled cost map (no network fetch) and quiet logs."""
    global _litellm
    if _litellm is None:
        os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
        import litellm

        litellm.suppress_debug_info = True
        # third-party noise on first use, not actionable by llmctl users
        warnings.filterwarnings("ignore", module=r"litellm(\.|$)")
        warnings.filterwarnings("ignore", message=r".*`ReadOnly` qualifier", category=UserWarning)
        # an odd response shape (llmctl.models._response handles it) makes pydantic warn per call
        warnings.filterwarnings("ignore", message=r"Pydantic serializer warnings", category=UserWarning)
        litellm.telemetry = False
        _litellm = litellm
    return _litellm


def _retryable(litellm: Any, exc: BaseException, status: int | None) -> bool:
    if isinstance(status, int):
        return retryable_status(status)
    kinds = tuple(
        getattr(litellm, name)
        for name in (
            "Timeout",
            "APIConnectionError",
            "RateLimitError",
            "InternalServerError",
            "ServiceUnavailableError",
            "BadGatewayError",
        )
        if hasattr(litellm, name)
    )
    return isinstance(exc, kinds)


def _to_attempt_error(litellm: Any, exc: Exception, timeout: float) -> AttemptError:
    if isinstance(exc, asyncio.TimeoutError) or isinstance(exc, getattr(litellm, "Timeout", ())):
        return AttemptError(f"timeout after {timeout:g}s", retryable=True)
    status = getattr(exc, "status_code", None)
    status = status if isinstance(status, int) else None
    # litellm reports any failure inside its request path (including an unparsable
    # body or a dropped connection) as APIConnectionError/APIError with status 500.
    retryable = _retryable(litellm, exc, status)
    headers = getattr(exc, "litellm_response_headers", None)
    if headers is None:
        headers = getattr(getattr(exc, "response", None), "headers", None)
    retry_after = parse_retry_after(headers) if headers is not None else None
    message = _clean(str(exc)) or type(exc).__name__
    kind = type(exc).__name__
    prefix = f"HTTP {status} ({kind})" if status else kind
    return AttemptError(f"{prefix}: {message}", retryable=retryable, retry_after=retry_after, status=status)


_NOISE = re.compile(r"^(?:litellm\.\w+:\s*|\w+Error:\s*|\w+Exception\s*-\s*)+")
_TRACEBACK = "Traceback (most recent call last)"
_FRAME = re.compile(r'\s*File "[^"]*", line \d+.*')
_PATH = re.compile(r"(?<![\w:/.~-])(?:~|[A-Za-z]:)?[/\\](?:[\w.@+-]+[/\\])+[\w.@+-]*")
MAX_ERROR_CHARS = 500


def _clean(message: str) -> str:
    """litellm's message as one clean line: without its repeated `litellm.X: X: OpenAIException - `
    prefixes, any Python traceback it embeds, or local file paths."""
    last = ""
    if _TRACEBACK in message:
        message, _, tail = message.partition(_TRACEBACK)
        lines = [ln for ln in tail.splitlines() if ln.strip() and not ln.startswith((" ", "\t"))]
        last = lines[-1] if lines and not lines[-1].startswith("):") else ""
    message = "\n".join(ln for ln in message.splitlines() if not _FRAME.match(ln))
    message = _NOISE.sub("", " ".join(message.split())).strip() or " ".join(last.split())
    message = _PATH.sub("<path>", message)
    if len(message) > MAX_ERROR_CHARS:
        message = message[: MAX_ERROR_CHARS - 3] + "..."
    return message


async def call_litellm(
    spec: ModelSpec, route: Route, messages: Messages, params: dict[str, Any], t0: float
) -> Completion:
    """One attempt through litellm: the completion (see llmctl.models._response)."""
    litellm = import_litellm()
    kwargs: dict[str, Any] = {k: v for k, v in params.items() if k != "stream"}
    kwargs.update(model=spec.litellm_id, messages=messages, timeout=spec.timeout, max_retries=0, num_retries=0)
    if spec.api_base:
        kwargs["api_base"] = spec.api_base
    if route.api_key:
        kwargs["api_key"] = route.api_key
    elif spec.api_base:
        kwargs["api_key"] = "no-key"  # local OpenAI-compatible servers; the SDK insists on one
    if spec.headers:
        kwargs["extra_headers"] = {**spec.headers, **(kwargs.get("extra_headers") or {})}
    if spec.stream:
        kwargs["stream"] = True
        kwargs.setdefault("stream_options", {"include_usage": True})

    async def run() -> Completion:
        response = await litellm.acompletion(**kwargs)
        if not spec.stream:
            return parse_completion(_payload(response), provider=route.provider or "litellm")
        reader = StreamReader()
        async for chunk in response:
            if reader.add(_payload(chunk, "delta")) and reader.ttft_ms is None:
                reader.ttft_ms = (time.perf_counter() - t0) * 1000
        return reader.result()

    try:
        return await asyncio.wait_for(run(), spec.timeout)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        raise _to_attempt_error(litellm, exc, spec.timeout) from None


def _payload(response: Any, member: str = "message") -> Any:
    """litellm's response (or stream chunk) object as the OpenAI JSON it came from, for parse_completion."""
    if isinstance(response, dict):
        return response
    choices = getattr(response, "choices", None)
    payload: dict[str, Any] = {
        "choices": [_choice(c, member) for c in choices] if isinstance(choices, list) else choices
    }
    usage = getattr(response, "usage", None)
    if usage is not None:
        payload["usage"] = usage if isinstance(usage, (dict, list, str, int, float)) else _usage(usage)
    return payload


def _usage(usage: Any) -> dict[str, Any]:
    """litellm's Usage object as OpenAI's `usage` JSON: the counts and the cached / reasoning details."""
    out: dict[str, Any] = {name: getattr(usage, name, None) for name in ("prompt_tokens", "completion_tokens")}
    for member, name in (("prompt_tokens_details", "cached_tokens"), ("completion_tokens_details", "reasoning_tokens")):
        details = getattr(usage, member, None)
        value = details.get(name) if isinstance(details, dict) else getattr(details, name, None)
        if value is not None:
            out[member] = {name: value}
    return out


def _choice(choice: Any, member: str) -> dict[str, Any]:
    """One litellm choice as OpenAI JSON: its content, tool calls and finish reason."""
    message = getattr(choice, member, None)
    body: dict[str, Any] = {"content": getattr(message, "content", None)}
    calls = getattr(message, "tool_calls", None)
    if isinstance(calls, list) and calls:
        body["tool_calls"] = [_call(c) for c in calls]
    out: dict[str, Any] = {member: body}
    finish = getattr(choice, "finish_reason", None)
    if isinstance(finish, str):
        out["finish_reason"] = finish
    return out


def _call(call: Any) -> Any:
    if isinstance(call, dict):
        return call
    fn = getattr(call, "function", None)
    out: dict[str, Any] = {
        "id": getattr(call, "id", None),
        "function": {"name": getattr(fn, "name", None), "arguments": getattr(fn, "arguments", None)},
    }
    index = getattr(call, "index", None)
    if type(index) is int:
        out["index"] = index
    return out

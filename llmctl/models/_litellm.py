"""The litellm transport: `litellm.acompletion`, imported on first use only (it takes ~4 s)."""

from __future__ import annotations

import asyncio
import os
import re
import time
import warnings
from typing import Any

from llmctl.models._errors import AttemptError, parse_retry_after, retryable_status
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


def _clean(message: str) -> str:
    """litellm's message without its repeated `litellm.X: X: OpenAIException - ` prefixes."""
    return _NOISE.sub("", message.strip()).strip()


async def call_litellm(
    spec: ModelSpec, route: Route, messages: Messages, params: dict[str, Any], t0: float
) -> tuple[str, dict[str, Any] | None, float | None]:
    """One attempt through litellm: (output, usage or None, ttft_ms or None)."""
    litellm = import_litellm()
    kwargs: dict[str, Any] = {k: v for k, v in params.items() if k != "stream"}
    kwargs.update(model=spec.litellm_id, messages=messages, timeout=spec.timeout, max_retries=0, num_retries=0)
    if spec.api_base:
        kwargs["api_base"] = spec.api_base
    if route.api_key:
        kwargs["api_key"] = route.api_key
    elif spec.api_base:
        kwargs["api_key"] = "no-key"  # local OpenAI-compatible servers; the SDK insists on one
    if spec.stream:
        kwargs["stream"] = True
        kwargs.setdefault("stream_options", {"include_usage": True})

    async def run() -> tuple[str, dict[str, Any] | None, float | None]:
        response = await litellm.acompletion(**kwargs)
        if not spec.stream:
            usage = getattr(response, "usage", None)
            content = response.choices[0].message.content or ""
            return content, _usage_dict(usage), None
        parts: list[str] = []
        usage_out: dict[str, Any] | None = None
        ttft: float | None = None
        async for chunk in response:
            for choice in getattr(chunk, "choices", None) or ():
                piece = getattr(getattr(choice, "delta", None), "content", None)
                if piece:
                    if ttft is None:
                        ttft = (time.perf_counter() - t0) * 1000
                    parts.append(piece)
            chunk_usage = getattr(chunk, "usage", None)
            if chunk_usage:
                usage_out = _usage_dict(chunk_usage)
        return "".join(parts), usage_out, ttft

    try:
        return await asyncio.wait_for(run(), spec.timeout)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        raise _to_attempt_error(litellm, exc, spec.timeout) from None


def _usage_dict(usage: Any) -> dict[str, Any] | None:
    if usage is None:
        return None
    prompt = getattr(usage, "prompt_tokens", None)
    completion = getattr(usage, "completion_tokens", None)
    if prompt is None and completion is None:
        return None
    return {"prompt_tokens": prompt or 0, "completion_tokens": completion or 0}

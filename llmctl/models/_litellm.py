"""The litellm transport: `litellm.acompletion`, imported on first use only (it takes ~4 s).

An alias with `deployments:` or `fallbacks:` (a fleet) is called through a `litellm.Router`
built once per ModelClient (`build_router`): one model group per alias (the fleet's, then each
fallback's), the Router's "simple-shuffle" strategy picking deployments in proportion to their
`weight`. Who retries what (so nothing is retried twice over):

- the Router never retries (`num_retries=0`), and neither does the OpenAI SDK below it
  (`max_retries=0`);
- within one call, the Router fails over: a retryable failure of one deployment re-picks
  (weighted) among the fleet's other deployments (`enable_weighted_failover`), and when all have
  failed it tries the `fallbacks:` aliases in order; each deployment tried gets the alias's
  `timeout`, so one call lasts at most `timeout` times the number of deployments it may try;
- llmctl's ModelClient retries that whole call (`retries:` in llmctl.yaml, with backoff and
  Retry-After), so a fleet call is tried at most `1 + retries` times, each a new Router pick;
- the Router's cooldowns keep a failing deployment out of its picks for a while (litellm's
  defaults: after a 429, a 401/404/408, or more than half of a minute's calls failing, for
  5 s); a refused connection puts no deployment in cooldown (litellm's rule), failover still
  routes around it. When every deployment is cooling down the Router answers 429, which
  llmctl retries like any rate limit.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import TYPE_CHECKING, Any

from llmctl.models._cost import Price, price_for
from llmctl.models._credentials import deployment_key, split_credentials
from llmctl.models._errors import AttemptError, parse_retry_after, retryable_status
from llmctl.models._loader import import_litellm
from llmctl.models._response import Completion, StreamReader, parse_completion
from llmctl.models._transport import Route
from llmctl.types import Deployment, Messages, ModelSpec

if TYPE_CHECKING:
    from litellm.router import Router

__all__ = ["LitellmTransport", "build_router", "call_litellm", "import_litellm"]


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


def build_router(spec: ModelSpec) -> tuple[Router, dict[str, Price], tuple[str, ...], int]:
    """A litellm.Router for a fleet alias (see the module docstring), with each model group's
    price (a call a fallback served is priced as that alias), every key variable it reads (to
    scrub), and how many deployments one call may try."""
    litellm = import_litellm()
    logging.getLogger("LiteLLM Router").setLevel(logging.CRITICAL)  # llmctl reports the call's error itself
    model_list: list[dict[str, Any]] = []
    prices: dict[str, Price] = {}
    key_env: list[str] = []
    for group in (spec, *spec.fallbacks):
        prices[group.name] = price_for(group)
        for deployment in group.deployments or (Deployment(),):
            api_base, basic = split_credentials(deployment.api_base or group.api_base or "")
            key, names = deployment_key(group, deployment.api_key_env or group.api_key_env)
            key_env += names
            params: dict[str, Any] = {
                "model": deployment.model or group.litellm_id,
                "weight": deployment.weight,
                "timeout": group.timeout,
                "max_retries": 0,
            }
            if api_base:
                params["api_base"] = api_base
            if key:
                params["api_key"] = key
            elif api_base:
                params["api_key"] = "no-key"  # local OpenAI-compatible servers; the SDK insists on one
            if group.headers or basic:
                params["extra_headers"] = {**group.headers, **({"Authorization": basic} if basic else {})}
            model_list.append({"model_name": group.name, "litellm_params": params})
    attempts = len(model_list)
    router = litellm.Router(
        model_list=model_list,
        routing_strategy="simple-shuffle",
        num_retries=0,
        enable_weighted_failover=True,
        max_fallbacks=attempts,
        fallbacks=[{spec.name: [f.name for f in spec.fallbacks]}] if spec.fallbacks else [],
        timeout=spec.timeout,
    )
    return router, prices, tuple(dict.fromkeys(key_env)), attempts


def _served_group(response: Any) -> str | None:
    """The Router model group (alias) that answered: the fleet's own, or a fallback's."""
    hidden = getattr(response, "_hidden_params", None)
    if not isinstance(hidden, dict):
        return None
    extra = hidden.get("additional_headers")
    group = extra.get("x-litellm-model-group") if isinstance(extra, dict) else None
    return group if isinstance(group, str) else None


class LitellmTransport:
    """The litellm transport (llmctl.models._transport.Transport): each attempt through
    `litellm.acompletion`, or the Router of a fleet route."""

    def prepare(self, route: Route, timeout_s: float) -> None:
        """Nothing to keep: litellm reads the alias's own timeout."""

    async def call(
        self, route: Route, messages: Messages, params: dict[str, Any], stream: bool, t0: float
    ) -> Completion:
        if route.spec is None:
            raise AttemptError("a litellm route without its model (a bug; please report it)", retryable=False)
        return await call_litellm(route.spec, route, messages, params, t0, stream=stream)

    async def close(self) -> None:
        """litellm keeps its own clients."""


async def call_litellm(
    spec: ModelSpec,
    route: Route,
    messages: Messages,
    params: dict[str, Any],
    t0: float,
    *,
    stream: bool | None = None,
) -> Completion:
    """One attempt through litellm (or its Router, for a fleet): the completion (see
    llmctl.models._response). `stream` (default: the alias's `stream`) asks for a streamed answer."""
    stream = spec.stream if stream is None else stream
    litellm = import_litellm()
    kwargs: dict[str, Any] = {k: v for k, v in params.items() if k != "stream"}
    kwargs.update(messages=messages, timeout=spec.timeout, max_retries=0, num_retries=0)
    deadline = spec.timeout
    if route.router is not None:
        # the deployments carry their endpoint, key and the alias's headers; a call's own
        # extra_headers replace a deployment's (litellm's rule), so the alias's go with them
        kwargs["model"] = spec.name
        if "extra_headers" in kwargs:
            kwargs["extra_headers"] = {**spec.headers, **(kwargs.get("extra_headers") or {})}
        deadline = spec.timeout * max(1, route.max_attempts)
        complete = route.router.acompletion
    else:
        kwargs["model"] = spec.litellm_id
        api_base, basic = split_credentials(spec.api_base) if spec.api_base else (None, None)
        if api_base:
            kwargs["api_base"] = api_base
        if route.api_key:
            kwargs["api_key"] = route.api_key
        elif api_base:
            kwargs["api_key"] = "no-key"  # local OpenAI-compatible servers; the SDK insists on one
        if spec.headers:
            kwargs["extra_headers"] = {**spec.headers, **(kwargs.get("extra_headers") or {})}
        if basic:  # `user:pass@` in api_base: sent as a Basic Authorization header, as natively
            kwargs["extra_headers"] = {**(kwargs.get("extra_headers") or {}), "Authorization": basic}
        complete = litellm.acompletion
    if stream:
        kwargs["stream"] = True
        kwargs.setdefault("stream_options", {"include_usage": True})

    async def run() -> Completion:
        response = await complete(**kwargs)
        if not stream:
            completion = parse_completion(_payload(response), provider=route.provider or "litellm")
        else:
            reader = StreamReader()
            async for chunk in response:
                if reader.add(_payload(chunk, "delta")) and reader.ttft_ms is None:
                    reader.ttft_ms = (time.perf_counter() - t0) * 1000
            if not reader.has_data:  # e.g. plain JSON to a streaming request: not an empty answer
                raise AttemptError("stream ended without data", retryable=True)
            completion = reader.result()
        _check_size(completion, route.provider or "litellm")
        if route.router is not None:
            group = _served_group(response)
            if group is not None and group != spec.name:
                completion.price = route.group_prices.get(group)
        return completion

    try:
        return await asyncio.wait_for(run(), deadline)
    except (asyncio.CancelledError, AttemptError):
        raise
    except Exception as exc:
        raise _to_attempt_error(litellm, exc, deadline) from None


def _check_size(completion: Completion, provider: str) -> None:
    """The native transport's cap on one response (MAX_BODY), applied to what litellm read: an
    answer over it is the case's error, never stored (litellm has read it by then)."""
    from llmctl.models._native import MAX_BODY

    texts = [completion.output, *(c.get("raw_arguments") or "" for c in completion.tool_calls or ())]
    chars = sum(len(t) for t in texts)
    if chars * 4 <= MAX_BODY:
        return
    size = sum(len(t.encode("utf-8", "surrogatepass")) for t in texts)
    if size > MAX_BODY:
        raise AttemptError(f"response from {provider} larger than {MAX_BODY >> 20} MiB", retryable=False)


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
    for member, name in (
        ("prompt_tokens_details", "cached_tokens"),
        ("completion_tokens_details", "reasoning_tokens"),
        ("prompt_tokens_details", "cache_creation_tokens"),
    ):
        details = getattr(usage, member, None)
        value = details.get(name) if isinstance(details, dict) else getattr(details, name, None)
        if value is not None:
            out.setdefault(member, {})[name] = value
    written = getattr(usage, "cache_creation_input_tokens", None)  # Anthropic's, kept by litellm's Usage
    if written is not None:
        out["cache_creation_input_tokens"] = written
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

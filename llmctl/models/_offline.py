"""The offline built-in models `echo` and `scripted` (no network, no litellm).

- `echo` answers with the rendered prompt: the content of every message, in
  order, joined with newlines (system message included); an image content part
  reads as a placeholder naming its type, size and sha256 (llmctl.images.describe).
- `scripted` answers from `responses` ({substring or /regex/: answer}, first match
  in order, matched against the last user message, or the last tool result when
  the conversation ends with one), else `default`, else like `echo`. An answer is
  text, or `{content: ..., tool_calls: [{name, args}]}` to answer with tool calls
  as OpenAI does (finish_reason `tool_calls`). With `function: "module:function"`
  it calls that function with the messages instead (it may be async; it returns
  the answer text, or such a mapping).
  `latency_ms` sleeps that long first, to simulate a slow model.

Tokens are counted by whitespace; cost is always 0.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import os
import re
import sys
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from llmctl.errors import InputError
from llmctl.images import content_text
from llmctl.models._response import tool_call
from llmctl.types import CallResult, Messages, ModelSpec, Usage


def count_tokens(text: str) -> int:
    return len(text.split())


def prompt_tokens(messages: Messages) -> int:
    return sum(count_tokens(content_text(m.get("content"))) for m in messages)


def last_user_message(messages: Messages) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return content_text(message.get("content"))
    return ""


def _matched_text(messages: Messages) -> str:
    """What scripted answers match: the last tool result when the conversation ends with tool
    results (so an agent loop can move on), else the last user message."""
    if messages and messages[-1].get("role") == "tool":
        return content_text(messages[-1].get("content"))
    return last_user_message(messages)


def echo_text(messages: Messages) -> str:
    return "\n".join(content_text(m.get("content")) for m in messages)


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def scripted_answer(spec: ModelSpec, messages: Messages) -> object:
    last = _matched_text(messages)
    for key, answer in (spec.responses or {}).items():
        if len(key) >= 2 and key.startswith("/") and key.endswith("/"):
            if _regex(key[1:-1]).search(last):
                return answer
        elif key in last:
            return answer
    if spec.default is not None:
        return spec.default
    return echo_text(messages)


_FUNCTIONS: dict[str, Callable[..., Any]] = {}


def load_function(ref: str) -> Callable[..., Any]:
    """Import `module:function` (the working directory is importable); InputError if absent."""
    fn = _FUNCTIONS.get(ref)
    if fn is not None:
        return fn
    module_name, _, attr = ref.partition(":")
    try:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            if os.getcwd() in sys.path:
                raise
            sys.path.insert(0, os.getcwd())
            module = importlib.import_module(module_name)
        fn = getattr(module, attr)
    except (ImportError, AttributeError, ValueError) as exc:
        raise InputError(f"scripted model function {ref!r} cannot be loaded: {exc}") from None
    if not callable(fn):
        raise InputError(f"scripted model function {ref!r} is not callable")
    function: Callable[..., Any] = fn
    _FUNCTIONS[ref] = function
    return function


async def run_offline(spec: ModelSpec, messages: Messages) -> CallResult:
    """Answer with `echo` or `scripted`; a failing user function gives CallResult.error."""
    start = time.perf_counter()
    if spec.latency_ms:
        await asyncio.sleep(spec.latency_ms / 1000)
    if spec.litellm_id == "scripted" and spec.function:
        fn = load_function(spec.function)
        try:
            value = fn(messages)
            if inspect.isawaitable(value):
                value = await value
        except Exception as exc:
            return CallResult(output=None, error=f"scripted function {spec.function} failed: {exc!r}")
    elif spec.litellm_id == "scripted":
        value = scripted_answer(spec, messages)
    else:
        value = echo_text(messages)
    calls = None
    if isinstance(value, dict):
        calls = [
            tool_call(str(c["name"]), json.dumps(c.get("args") or {}, ensure_ascii=False), f"call_{i + 1}")
            for i, c in enumerate(value.get("tool_calls") or [])
            if isinstance(c, dict) and "name" in c
        ] or None
        value = value.get("content")
    output = "" if value is None else str(value)
    raw_args = " ".join(c["raw_arguments"] for c in calls or ())
    return CallResult(
        output=output,
        usage=Usage(prompt_tokens(messages), count_tokens(output) + count_tokens(raw_args)),
        cost_usd=0.0,
        latency_ms=(time.perf_counter() - start) * 1000,
        tool_calls=calls,
        finish_reason="tool_calls" if calls else "stop",
    )

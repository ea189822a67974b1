"""Shared fixtures. Add yours below; keep each small."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from llmctl.testing import FakeOpenAIServer


@pytest.fixture
def openai_server() -> Iterator[FakeOpenAIServer]:
    """A fresh fake OpenAI-compatible server on 127.0.0.1 (echoes the last user message).

    Change its behaviour with `openai_server.configure(latency_ms=..., rate_429=...,
    responses={...})`; read `requests`, `requests_for(prompt)`, `statuses`, `max_in_flight`.
    `openai_server.base_url` is the `api_base` to give a model.
    """
    with FakeOpenAIServer() as server:
        yield server

"""The litellm transport holds the native one's promises (issue 22): a response size cap,
a stream that is not a stream is an error, credentials in `api_base` work."""

from __future__ import annotations

import asyncio
import base64
import socket
from collections.abc import Callable

import pytest

from llmctl.models import ModelClient
from llmctl.types import CallResult, ModelSpec
from tests.models.rawserver import Answer, RawServer, Request, completion, reply

pytestmark = pytest.mark.slow  # litellm's import (~4 s)


def _call(spec: ModelSpec) -> CallResult:
    async def main() -> CallResult:
        async with ModelClient(transport="litellm", backoff_base=0.01) as client:
            assert client.route(spec).kind == "litellm"
            result: CallResult = await client.complete(spec, [{"role": "user", "content": "ping"}])
            return result

    return asyncio.run(main())


def _json_answer(body: bytes) -> Answer:
    def answer(r: Request, s: socket.socket) -> None:
        s.sendall(reply("200 OK", ["Content-Type: application/json", f"Content-Length: {len(body)}"], body))

    return answer


def test_a_body_over_32_mib_is_refused(raw: Callable[[Answer], RawServer]) -> None:
    server = raw(_json_answer(completion("x" * (33 << 20))))
    result = _call(ModelSpec(name="big", litellm_id="openai/m", api_base=server.base, timeout=60, retries=0))
    assert result.output is None and "larger than 32 MiB" in (result.error or ""), (result.error or "")[:200]


def test_a_streaming_alias_answered_with_plain_json_is_an_error_not_an_empty_success(
    raw: Callable[[Answer], RawServer],
) -> None:
    server = raw(_json_answer(completion("not a stream")))
    spec = ModelSpec(name="s", litellm_id="openai/m", api_base=server.base, timeout=5, retries=0, stream=True)
    result = _call(spec)
    assert result.error is not None and result.output is None, (result.output, result.error)


def test_url_credentials_become_an_authorization_header(raw: Callable[[Answer], RawServer]) -> None:
    server = raw(_json_answer(completion()))
    spec = ModelSpec(name="u", litellm_id="openai/m", api_base=f"http://alice:s%40cret@127.0.0.1:{server.port}/v1")
    result = _call(spec)
    assert result.output == "pong", result.error
    headers = server.requests[0].headers
    assert headers["authorization"] == "Basic " + base64.b64encode(b"alice:s@cret").decode()
    assert headers["host"] == f"127.0.0.1:{server.port}"

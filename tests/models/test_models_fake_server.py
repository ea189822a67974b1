"""The fake OpenAI-compatible server itself (llmctl.testing.server)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import httpx

from llmctl.testing import FakeOpenAIServer


def chat(server: FakeOpenAIServer, text: str, path: str = "/v1/chat/completions", **body: Any) -> httpx.Response:
    payload = {"model": "m", "messages": [{"role": "user", "content": text}], **body}
    return httpx.post(server.url + path, json=payload, timeout=5)


def test_echo_rules_default_usage(openai_server: FakeOpenAIServer) -> None:
    data = chat(openai_server, "hello there world").json()
    assert data["choices"][0]["message"]["content"] == "hello there world"
    assert data["usage"] == {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}
    assert data["model"] == "m"
    openai_server.configure(responses={"refund": "Refunded"}, default="fallback")
    assert (
        chat(openai_server, "a refund?", path="/chat/completions").json()["choices"][0]["message"]["content"]
        == "Refunded"
    )
    assert chat(openai_server, "other").json()["choices"][0]["message"]["content"] == "fallback"
    short = chat(openai_server, "x", max_tokens=1, **{}).json()["choices"][0]
    assert short["message"]["content"] == "fallback" and short["finish_reason"] == "stop"
    assert openai_server.requests == 4 and openai_server.requests_for("other") == 1
    models = httpx.get(openai_server.base_url + "/models").json()
    assert models["data"][0]["id"] == "fake-model"


def test_max_tokens_truncates(openai_server: FakeOpenAIServer) -> None:
    choice = chat(openai_server, "one two three four", max_tokens=2).json()["choices"][0]
    assert choice["message"]["content"] == "one two" and choice["finish_reason"] == "length"


def test_seeded_fault_rates_are_reproducible() -> None:
    def statuses(seed: int) -> list[int]:
        with FakeOpenAIServer(rate_429=0.3, rate_500=0.3, seed=seed) as server, httpx.Client() as client:
            body = {"model": "m", "messages": [{"role": "user", "content": "q"}]}
            return [client.post(server.base_url + "/chat/completions", json=body).status_code for _ in range(30)]

    first = statuses(7)
    assert first == statuses(7)
    assert {200, 429, 500} <= set(first)


def test_header_latency_and_streaming(openai_server: FakeOpenAIServer) -> None:
    response = httpx.post(
        openai_server.base_url + "/chat/completions",
        json={"model": "m", "stream": True, "messages": [{"role": "user", "content": "a b c"}]},
        headers={"X-Fake-Latency-Ms": "50"},
        timeout=5,
    )
    assert response.elapsed.total_seconds() >= 0.05
    events = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    text = "".join(json.loads(e)["choices"][0]["delta"].get("content", "") for e in events[:-2])
    assert text == "a b c"


def test_cli_serves_until_terminated() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "llmctl.testing.server", "--port", "0", "--default", "pong"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().split()[-1]
        response = httpx.post(
            base_url + "/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "ping"}]}
        )
        assert response.json()["choices"][0]["message"]["content"] == "pong"
    finally:
        proc.terminate()
        assert proc.wait(10) == 0

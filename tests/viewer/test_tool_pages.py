"""Tool-call answers and agent loops in the viewer: the case, compare and run pages show every
call (name, pretty-printed arguments), the finish reason and every turn, never a blank output
(issue 23 item 1). The project is this repository's support agent, run twice (the second
time the agent cancels without looking the order up, so a case flips)."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from llmctl.viewer import create_app


@pytest.fixture
def client(agent):
    root, store, first, second = agent
    return TestClient(create_app(store, root), base_url="http://127.0.0.1:8484"), first, second


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#34;", '"').replace("&quot;", '"')


def test_case_page_shows_every_turn_call_and_finish_reason(client) -> None:
    c, first, _second = client
    html = c.get(f"/runs/{first}/cases/cancel-after-checking").text
    text = _text(html)
    # three model calls of the loop, each with its finish reason
    assert "turn 1" in text and "turn 2" in text and "turn 3" in text
    assert text.count("finish reason tool_calls") == 2 and "finish reason stop" in text
    # each call by name, its arguments pretty-printed (one key a line)
    assert "get_order" in text and "cancel_order" in text
    assert '{\n  "order_id": "ORD-2002"\n}' in html.replace("&#34;", '"')
    assert "Order ORD-2002 is cancelled" in text


def test_case_page_shows_expected_tool_calls(client) -> None:
    c, first, _second = client
    text = _text(c.get(f"/runs/{first}/cases/where-is-my-order").text)
    assert "expected tool calls" in text and "get_order" in text and "ORD-1001" in text


def test_a_tool_call_only_answer_is_not_blank_on_the_compare_and_run_pages(client) -> None:
    c, first, second = client
    compare = _text(c.get(f"/compare/{first}/{second}").text)
    assert "cancel-after-checking" in compare
    assert "cancel_order" in compare and "customer asked" in compare  # the b side's call
    assert "finish reason" in compare
    run = _text(c.get(f"/runs/{second}").text)
    assert "cancel_order" in run


def test_the_blind_pairwise_review_shows_each_answers_tool_calls(client) -> None:
    """The cancel-after-checking answers differ in their calls as well as their text: both shown."""
    c, first, second = client
    text = _text(c.get(f"/compare/{first}/{second}/review").text)
    assert "cancel-after-checking" in text
    assert "get_order" in text and "customer asked" in text and "finish reason" in text

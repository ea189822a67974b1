"""`llmctl traces import`: real OpenTelemetry SDK files, litellm's own logging payloads, OpenAI exchanges,
hand-made edge cases, idempotency, and nothing half-imported on bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llmctl.store import Store
from tests.cli.clirun import run
from tests.traces.otel_files import write_otel_file


def _rows(project: Path) -> list[dict[str, Any]]:
    store = Store(project / ".llmctl" / "llmctl.duckdb")
    cols = [
        "id",
        "source",
        "prompt",
        "version",
        "model",
        "input_messages",
        "output",
        "tool_calls",
        "prompt_tokens",
        "completion_tokens",
        "cost_usd",
        "cost_estimated",
        "latency_ms",
        "error",
        "finish_reason",
        "vars",
        "attributes",
    ]
    rows = store.query(f"SELECT {', '.join(cols)} FROM traces ORDER BY ts, id")
    return [dict(zip(cols, r, strict=True)) for r in rows]


def _app_and_llm_spans(tracer: Any) -> None:
    """An app span naming the prompt (as `load_prompt` stamps it) around an LLM span per request,
    with OpenLLMetry's deprecated names on the first and the current semantic conventions on the second."""
    from opentelemetry.trace import Status, StatusCode

    with tracer.start_as_current_span("POST /summarize") as app:
        app.set_attribute("llmctl.prompt", "summarize")
        app.set_attribute("llmctl.prompt.version", "v2")
        app.set_attribute("llmctl.prompt.vars", json.dumps({"ticket": "Printer on fire"}))
        with tracer.start_as_current_span("openai.chat") as s:
            s.set_attribute("gen_ai.system", "openai")
            s.set_attribute("llm.request.type", "chat")
            s.set_attribute("gen_ai.request.model", "gpt-4o-mini")
            s.set_attribute("gen_ai.usage.prompt_tokens", 1000)
            s.set_attribute("gen_ai.usage.completion_tokens", 100)
            s.set_attribute("gen_ai.prompt.0.role", "system")
            s.set_attribute("gen_ai.prompt.0.content", "You summarize tickets.")
            s.set_attribute("gen_ai.prompt.1.role", "user")
            s.set_attribute("gen_ai.prompt.1.content", "Printer on fire")
            s.set_attribute("gen_ai.completion.0.role", "assistant")
            s.set_attribute("gen_ai.completion.0.content", "The printer is on fire.")
            s.set_attribute("gen_ai.completion.0.finish_reason", "stop")
    with tracer.start_as_current_span("chat gpt-4o") as s:
        s.set_attribute("gen_ai.operation.name", "chat")
        s.set_attribute("gen_ai.provider.name", "openai")
        s.set_attribute("gen_ai.prompt.name", "triage")
        s.set_attribute("gen_ai.request.model", "gpt-4o")
        s.set_attribute("gen_ai.response.model", "gpt-4o-2024-08-06")
        s.set_attribute("gen_ai.usage.input_tokens", 50)
        s.set_attribute("gen_ai.usage.output_tokens", 5)
        s.set_attribute("gen_ai.usage.cost", 0.25)
        s.set_attribute(
            "gen_ai.input.messages",
            json.dumps([{"role": "user", "parts": [{"type": "text", "content": "where is ORD-1?"}]}]),
        )
        s.set_attribute(
            "gen_ai.output.messages",
            json.dumps(
                [
                    {
                        "role": "assistant",
                        "finish_reason": "tool_calls",
                        "parts": [
                            {"type": "tool_call", "id": "c1", "name": "get_order", "arguments": {"order_id": "ORD-1"}}
                        ],
                    }
                ]
            ),
        )
    with tracer.start_as_current_span("chat gpt-4o-mini") as s:
        s.set_attribute("gen_ai.system", "openai")
        s.set_attribute("gen_ai.request.model", "gpt-4o-mini")
        s.add_event("gen_ai.user.message", {"content": "hello"})
        s.add_event("llm.content.completion.chunk", {"content": "Hel"})
        s.add_event("llm.content.completion.chunk", {"content": "lo!"})
        s.set_status(Status(StatusCode.ERROR, "connection reset"))


@pytest.mark.parametrize("hex_ids", [True, False], ids=["collector-hex-ids", "protobuf-base64-ids"])
def test_real_opentelemetry_sdk_file(project: Path, capsys, monkeypatch, hex_ids: bool) -> None:  # type: ignore[no-untyped-def]
    path = write_otel_file(project / "otel.jsonl", _app_and_llm_spans, hex_ids=hex_ids)
    code, out, err = run(["traces", "import", str(path)], capsys, monkeypatch)
    assert code == 0, err
    assert "3 call(s), 3 new" in out
    old, new, streamed = _rows(project)
    assert (old["prompt"], old["version"], old["model"]) == ("summarize", "v2", "gpt-4o-mini")
    assert json.loads(old["vars"]) == {"ticket": "Printer on fire"}
    assert json.loads(old["input_messages"])[1] == {"role": "user", "content": "Printer on fire"}
    assert old["output"] == "The printer is on fire." and old["finish_reason"] == "stop"
    assert (old["prompt_tokens"], old["completion_tokens"]) == (1000, 100)
    assert old["cost_estimated"] and old["cost_usd"] == pytest.approx(1000 * 0.15e-6 + 100 * 0.6e-6)  # litellm's map
    assert old["id"].startswith("otlp:") and old["latency_ms"] is not None and old["error"] is None
    assert json.loads(old["attributes"])["service.name"] == "support-app"
    assert (new["prompt"], new["model"], new["cost_usd"], new["cost_estimated"]) == (
        "triage",
        "gpt-4o-2024-08-06",
        0.25,
        None,
    )
    (call,) = json.loads(new["tool_calls"])
    assert call["name"] == "get_order" and call["arguments"] == {"order_id": "ORD-1"}
    assert new["finish_reason"] == "tool_calls"
    assert streamed["output"] == "Hello!" and streamed["error"] == "connection reset"
    assert json.loads(streamed["input_messages"]) == [{"role": "user", "content": "hello"}]
    assert streamed["prompt_tokens"] is None and streamed["cost_usd"] is None  # missing tokens: unknown, not 0
    code, out, _ = run(["traces", "import", str(path)], capsys, monkeypatch)
    assert code == 0 and "0 new, 3 already imported" in out
    assert len(_rows(project)) == 3


def test_enclosing_span_in_another_line_of_the_file(project: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The Collector writes batches: a child LLM span often ends (and is written) before its app span."""
    path = write_otel_file(project / "otel.jsonl", _app_and_llm_spans)
    doc = json.loads(path.read_text())
    spans = doc["resourceSpans"][0]["scopeSpans"][0]["spans"]
    app = next(s for s in spans if s["name"] == "POST /summarize")
    rest = [s for s in spans if s is not app]
    second = json.loads(json.dumps(doc))
    doc["resourceSpans"][0]["scopeSpans"][0]["spans"] = rest
    second["resourceSpans"][0]["scopeSpans"][0]["spans"] = [app]
    path.write_text(json.dumps(doc) + "\n" + json.dumps(second) + "\n")
    code, out, err = run(["traces", "import", str(path)], capsys, monkeypatch)
    assert code == 0, err
    assert "1 attributed from their trace" in out
    assert _rows(project)[0]["prompt"] == "summarize"


def test_litellm_standard_logging_payload_from_its_own_callback(project: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from llmctl.models._litellm import import_litellm

    litellm = import_litellm()  # offline cost map, as llmctl imports it
    from litellm.integrations.custom_logger import CustomLogger

    from llmctl.testing.server import FakeOpenAIServer

    payloads: list[Any] = []

    class Capture(CustomLogger):
        def log_success_event(self, kwargs, response_obj, start_time, end_time):  # type: ignore[no-untyped-def]
            payloads.append(kwargs["standard_logging_object"])

        def log_failure_event(self, kwargs, response_obj, start_time, end_time):  # type: ignore[no-untyped-def]
            payloads.append(kwargs["standard_logging_object"])

    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    capture = Capture()
    monkeypatch.setattr(litellm, "callbacks", [capture])
    with FakeOpenAIServer(default="The customer wants a refund.") as srv:
        for i in range(2):
            litellm.completion(
                model="openai/gpt-4o-mini",
                api_base=srv.base_url,
                api_key="sk-test-not-a-real-key-000",
                messages=[{"role": "user", "content": f"ticket {i}: refund please"}],
                # litellm's SDK keeps no free-form metadata in its payload: tags and spend_logs_metadata it keeps
                metadata={
                    "tags": ["llmctl_prompt:summarize", "llmctl_version:v1"],
                    "spend_logs_metadata": {"llmctl_vars": {"ticket": f"t{i}"}},
                },
            )
    for _ in range(50):
        if len(payloads) >= 2:
            break
        import time

        time.sleep(0.1)
    assert len(payloads) == 2
    path = project / "litellm.jsonl"
    path.write_text("".join(json.dumps(p, default=str) + "\n" for p in payloads))
    code, _out, err = run(["traces", "import", str(path)], capsys, monkeypatch)
    assert code == 0, err
    rows = _rows(project)
    assert len(rows) == 2 and all(r["id"].startswith("litellm:") for r in rows)
    r = rows[0]
    assert r["source"] == "litellm" and r["output"] == "The customer wants a refund."
    assert (
        r["prompt"] == "summarize"
        and r["version"] == "v1"
        and json.loads(r["vars"]) in ({"ticket": "t0"}, {"ticket": "t1"})
    )
    assert r["model"] and "gpt-4o-mini" in r["model"] and r["prompt_tokens"] and r["latency_ms"] is not None
    assert r["cost_usd"] is not None and r["cost_usd"] > 0
    assert "sk-test-not-a-real-key" not in json.dumps(rows, default=str)


def _write_lines(path: Path, docs: list[Any]) -> Path:
    path.write_text("".join((d if isinstance(d, str) else json.dumps(d)) + "\n" for d in docs), encoding="utf-8")
    return path


def _exchange(**extra: Any) -> dict[str, Any]:
    doc = {
        "request": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
        "response": {
            "id": "chatcmpl-1",
            "model": "gpt-4o-mini",
            "choices": [{"message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1},
        },
        "latency_ms": 120,
        "timestamp": "2026-11-01T10:00:00Z",
        "metadata": {"llmctl_prompt": "summarize"},
    }
    doc.update(extra)
    return doc


def test_openai_exchanges_edge_cases(project: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    stream = [
        {"id": "c2", "model": "gpt-4o", "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Par"}}]},
        {"id": "c2", "choices": [{"index": 0, "delta": {"content": "is"}, "finish_reason": "stop"}]},
        {"id": "c2", "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 2}},
    ]
    tools = {
        "id": "c3",
        "model": "gpt-4o",
        "choices": [
            {
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "t1",
                            "type": "function",
                            "function": {"name": "get_order", "arguments": '{"order_id": "A"}'},
                        }
                    ],
                },
            }
        ],
    }
    path = _write_lines(
        project / "ex.jsonl",
        [
            _exchange(),
            _exchange(response=stream, timestamp="2026-11-01T10:00:01Z"),
            _exchange(response=tools, timestamp="2026-11-01T10:00:02Z"),
            _exchange(response=None, error={"message": "503 upstream"}, timestamp="2026-11-01T10:00:03Z"),
            _exchange(
                response={"id": "c5", "choices": [{"message": {"content": "no usage"}}]},
                timestamp="2026-11-01T10:00:04Z",
            ),
            "",
        ],
    )
    code, _out, err = run(["traces", "import", str(path), "--format", "openai"], capsys, monkeypatch)
    assert code == 0, err
    plain, streamed, tool, failed, no_usage = _rows(project)
    assert plain["output"] == "hello" and plain["cost_estimated"] and plain["latency_ms"] == 120
    assert streamed["output"] == "Paris" and streamed["prompt_tokens"] == 9 and streamed["finish_reason"] == "stop"
    assert json.loads(tool["tool_calls"])[0]["arguments"] == {"order_id": "A"} and tool["output"] is None
    assert failed["error"] == "503 upstream" and failed["output"] is None
    assert no_usage["prompt_tokens"] is None and no_usage["cost_usd"] is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"request": {"messages": []}, "response": {}}\n{"request": \n', "ex.jsonl:2: invalid JSON"),
        (
            '{"request": {"messages": []}}\n{"request": {}, "metadata": {"x": "caf\xe9"}}\n'.encode("latin-1"),
            "ex.jsonl:2: not UTF-8",
        ),
        (b'{"request": {"messages": []}}\n[1, 2]\n', "ex.jsonl:2: not an OpenAI exchange"),
        (b'{"hello": 1}\n', "ex.jsonl:1: cannot tell the trace format"),
        (b'{"request": {}, "timestamp": "yesterday"}\n', "ex.jsonl:1: 'timestamp' is not ISO-8601"),
        (
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"name": "x", "traceId": "zz"}]}]}]}\n',
            "ex.jsonl:1: span 'x' has no valid",
        ),
    ],
    ids=["bad-json", "not-utf8", "wrong-shape", "unknown-format", "bad-timestamp", "bad-span-id"],
)
def test_bad_input_is_exit_2_with_file_line_and_nothing_imported(
    project: Path, capsys, monkeypatch, content: bytes, message: str
) -> None:  # type: ignore[no-untyped-def]
    good = _write_lines(project / "good.jsonl", [_exchange()])
    assert run(["traces", "import", str(good)], capsys, monkeypatch)[0] == 0
    (project / "ex.jsonl").write_bytes(content)
    code, _out, err = run(["traces", "import", "ex.jsonl"], capsys, monkeypatch)
    assert code == 2
    assert message in err and "Traceback" not in err
    assert len(_rows(project)) == 1  # the good file's row only: nothing of the bad file


def test_api_keys_never_reach_the_store(project: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    key = "sk-live-abcdefghijklmnop1234567890"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    doc = _exchange(metadata={"llmctl_prompt": "summarize", "auth": f"Bearer {key}"})
    doc["request"]["messages"][0]["content"] = f"my key is {key}"
    path = _write_lines(project / "ex.jsonl", [doc])
    assert run(["traces", "import", str(path)], capsys, monkeypatch)[0] == 0
    assert key not in json.dumps(_rows(project), default=str)
    assert key.encode() not in (project / ".llmctl" / "llmctl.duckdb").read_bytes()


def test_runs_export_otlp_round_trips_through_import(project: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (project / "evalsets" / "summarize.yaml").write_text(
        "prompt: summarize\nmodels: [echo]\nevaluators: [{type: contains, value: ticket}]\n"
        "cases:\n  - {id: a, vars: {ticket: 'ticket a'}}\n  - {id: b, vars: {ticket: 'ticket b'}}\n"
    )
    code, out, err = run(["eval"], capsys, monkeypatch)
    assert code == 0, out + err
    run_id = Store(project / ".llmctl" / "llmctl.duckdb").list_runs(limit=1)[0].id
    code, out, err = run(["runs", "export", run_id, "--format", "otlp", "-o", "run.otlp.jsonl"], capsys, monkeypatch)
    assert code == 0, err
    doc = json.loads((project / "run.otlp.jsonl").read_text().splitlines()[0])
    spans = doc["resourceSpans"][0]["scopeSpans"][0]["spans"]
    assert len(spans) == 2
    attrs = {a["key"]: a["value"] for a in spans[0]["attributes"]}
    assert attrs["gen_ai.request.model"] == {"stringValue": "echo"} and attrs["llmctl.case_id"] == {"stringValue": "a"}
    (event,) = spans[0]["events"]
    ev = {a["key"]: a["value"] for a in event["attributes"]}
    assert event["name"] == "gen_ai.evaluation.result" and ev["gen_ai.evaluation.score.label"] == {
        "stringValue": "pass"
    }
    assert ev["gen_ai.evaluation.name"] == {"stringValue": "contains"}
    code, out, err = run(["traces", "import", "run.otlp.jsonl"], capsys, monkeypatch)
    assert code == 0 and "2 new" in out, err
    rows = _rows(project)
    assert {r["prompt"] for r in rows} == {"summarize"} and all(r["output"] for r in rows)

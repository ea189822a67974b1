"""`load_prompt` / `render` name the prompt on the current OpenTelemetry span, and `traces import` reads it back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llmctl import api
from llmctl.store import Store
from tests.cli.clirun import run
from tests.traces.conftest import project  # noqa: F401  (fixture)
from tests.traces.otel_files import write_otel_file


def test_load_prompt_stamps_the_current_span_and_import_attributes_the_call(project: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    stamped: list[bool] = []

    def app(tracer: Any) -> None:
        with tracer.start_as_current_span("POST /summarize"):
            prompt = api.load_prompt("summarize", root=project)
            messages = prompt.render(ticket="Refund order 7")
            stamped.append(api.stamp_span(prompt, variables={"ticket": "Refund order 7"}))
            with tracer.start_as_current_span("chat gpt-4o-mini") as llm:  # what an instrumentation library adds
                llm.set_attribute("gen_ai.system", "openai")
                llm.set_attribute("gen_ai.request.model", "gpt-4o-mini")
                llm.set_attribute("gen_ai.prompt.0.content", messages[-1]["content"])
                llm.set_attribute("gen_ai.completion.0.content", "Refund issued.")

    path = write_otel_file(project / "app.jsonl", app)
    assert stamped == [True]
    spans = json.loads(path.read_text())["resourceSpans"][0]["scopeSpans"][0]["spans"]
    outer = next(s for s in spans if s["name"] == "POST /summarize")
    keys = {a["key"] for a in outer["attributes"]}
    assert {"llmctl.prompt", "llmctl.prompt.version", "llmctl.prompt.hash", "llmctl.prompt.vars"} <= keys
    code, _out, err = run(["traces", "import", str(path)], capsys, monkeypatch)
    assert code == 0, err
    (row,) = Store(project / ".llmctl" / "llmctl.duckdb").query("SELECT prompt, version, vars FROM traces")
    assert row[0] == "summarize" and row[1].startswith("sha256:") and json.loads(row[2]) == {"ticket": "Refund order 7"}


def test_no_span_no_stamp(project: Path) -> None:  # noqa: F811
    prompt = api.load_prompt("summarize", root=project)
    assert api.stamp_span(prompt) is False  # no recording span: nothing to do, no error

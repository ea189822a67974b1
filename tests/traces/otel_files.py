"""Trace files written by the real OpenTelemetry Python SDK, as the Collector's file exporter writes them.

The SDK's spans go through its in-memory exporter, then `opentelemetry-exporter-otlp-proto-common`'s
encoder (the OTLP exporters' own) into an ExportTraceServiceRequest, then protobuf's JSON mapping.
The Collector writes trace and span ids as hex where protobuf's mapping writes base64: both are read,
and `hex_ids=True` rewrites them as the Collector does.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any


def write_otel_file(path: Path, build: Callable[[Any], None], *, hex_ids: bool = True) -> Path:
    """Run `build(tracer)`, export every finished span to `path` (one request per line)."""
    from google.protobuf import json_format
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "support-app"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    build(provider.get_tracer("test-app"))
    provider.force_flush()
    spans = exporter.get_finished_spans()
    request = encode_spans(spans)
    doc = json.loads(json_format.MessageToJson(request))
    if hex_ids:
        for rs in doc.get("resourceSpans", []):
            for ss in rs.get("scopeSpans", []):
                for span in ss.get("spans", []):
                    for key in ("traceId", "spanId", "parentSpanId"):
                        if span.get(key):
                            span[key] = base64.b64decode(span[key]).hex()
    path.write_text(json.dumps(doc) + "\n", encoding="utf-8")
    return path

"""The OpenAI Files and Batches endpoints of the fake server (llmctl.testing.server).

    POST /v1/files                 multipart (purpose, file): stores the file, returns a file object
    GET  /v1/files/{id}            the file object
    GET  /v1/files/{id}/content    the file's bytes
    POST /v1/batches               {input_file_id, endpoint, completion_window, metadata}: a batch
    GET  /v1/batches/{id}          the batch, one step further along (see below)
    POST /v1/batches/{id}/cancel   cancelling, then cancelled at the next look
    GET  /v1/batches               the batches, newest first

A batch moves one state per retrieval: `validating` -> `in_progress` -> (its lines are
answered, `lines_per_poll` per retrieval) -> `finalizing` -> `completed`. Each line is
answered by POSTing its body to this same server's `/v1/chat/completions`, so a line is
answered exactly as a direct call would be (responses, directives such as
``[[faults=500]]``, usage). A 200 answer goes to the output file, anything else to the
error file, as OpenAI writes them (``{"id", "custom_id", "response": {"status_code",
"request_id", "body"}, "error"}``). An input line that is not a JSON request fails the
whole batch at validation (`failed`, with `errors.data[].line`).

`hold` (in `BatchConfig`) keeps the batches it picks where they are. `expire_after_polls`
makes a batch `expired` after that many retrievals in progress: the answered lines are in
its output file and the rest in its error file with code `batch_expired`, as OpenAI does; a
cancelled batch keeps the lines answered before it.

Counters for tests: `submissions` (POST /v1/batches received), `uploads`, `retrievals`,
`lines` (request lines answered), `stalled` (retrievals held by `stall_retrievals`),
`retrieved_at` (when each retrieval arrived) and `batches` (id -> the batch object).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, ClientSession, web

__all__ = ["BatchConfig", "BatchState", "add_batch_routes"]


@dataclass
class BatchConfig:
    """How the fake batch API behaves; may be changed while it runs."""

    lines_per_poll: int = 0  # request lines answered per retrieval in progress (0: all at once)
    expire_after_polls: int | None = None  # retrievals in progress before the batch expires
    polls_validating: int = 1  # retrievals that still say `validating`
    max_requests: int = 50_000  # per batch, as OpenAI
    max_bytes: int = 200 << 20  # per input file, as OpenAI
    # a batch for which this returns True (given the batch object) stays where it is: a test holds it there
    hold: Callable[[dict[str, Any]], bool] | None = None
    # the next this many retrievals answer only after `stall_s` seconds: a lookup that hangs
    stall_retrievals: int = 0
    stall_s: float = 30.0


@dataclass
class _Batch:
    obj: dict[str, Any]
    lines: list[dict[str, Any]]
    done: list[str] = field(default_factory=list)  # output file lines
    failed: list[str] = field(default_factory=list)  # error file lines
    next_line: int = 0
    polls: int = 0


class BatchState:
    """Files, batches and counters of one fake server."""

    def __init__(self) -> None:
        self.config = BatchConfig()
        self.files: dict[str, tuple[str, str, bytes]] = {}  # id -> (purpose, filename, bytes)
        self._batches: dict[str, _Batch] = {}
        self._ids = itertools.count(1)
        self.submissions = 0
        self.uploads = 0
        self.retrievals = 0
        self.lines = 0
        self.stalled = 0
        self.retrieved_at: list[float] = []  # time.monotonic() of each retrieval, as it arrived

    @property
    def batches(self) -> dict[str, dict[str, Any]]:
        return {k: dict(v.obj) for k, v in self._batches.items()}

    def new_id(self, prefix: str) -> str:
        return f"{prefix}-fake{next(self._ids):04d}"

    def put_file(self, purpose: str, filename: str, data: bytes) -> dict[str, Any]:
        fid = self.new_id("file")
        self.files[fid] = (purpose, filename, data)
        return self.file_object(fid)

    def file_object(self, fid: str) -> dict[str, Any]:
        purpose, filename, data = self.files[fid]
        return {
            "id": fid,
            "object": "file",
            "bytes": len(data),
            "created_at": int(time.time()),
            "filename": filename,
            "purpose": purpose,
            "status": "processed",
        }


def _error(status: int, message: str) -> web.Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "code": status}}
    return web.json_response(body, status=status)


def _counts(b: _Batch) -> dict[str, int]:
    return {"total": len(b.lines), "completed": len(b.done), "failed": len(b.failed)}


def add_batch_routes(app: web.Application, state: BatchState) -> None:
    """Add the Files and Batches endpoints (under /v1 and /) to the fake server's `app`."""

    async def create_file(request: web.Request) -> web.Response:
        state.uploads += 1
        reader = await request.multipart()
        purpose, filename, data = "", "upload", b""
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == "purpose":
                purpose = (await part.read()).decode()
            elif part.name == "file":
                filename = part.filename or filename
                data = bytes(await part.read())
        if purpose not in ("batch", "assistants", "fine-tune"):
            return _error(400, f"invalid purpose {purpose!r}")
        if len(data) > state.config.max_bytes:
            return _error(400, f"file is larger than {state.config.max_bytes} bytes")
        return web.json_response(state.put_file(purpose, filename, data))

    async def get_file(request: web.Request) -> web.Response:
        fid = request.match_info["id"]
        if fid not in state.files:
            return _error(404, f"no such file: {fid}")
        return web.json_response(state.file_object(fid))

    async def file_content(request: web.Request) -> web.Response:
        fid = request.match_info["id"]
        if fid not in state.files:
            return _error(404, f"no such file: {fid}")
        return web.Response(body=state.files[fid][2], content_type="application/octet-stream")

    async def create_batch(request: web.Request) -> web.Response:
        state.submissions += 1
        body = await request.json()
        fid = body.get("input_file_id")
        if fid not in state.files:
            return _error(400, f"no such file: {fid}")
        now = int(time.time())
        bid = state.new_id("batch")
        obj: dict[str, Any] = {
            "id": bid,
            "object": "batch",
            "endpoint": body.get("endpoint"),
            "errors": None,
            "input_file_id": fid,
            "completion_window": body.get("completion_window", "24h"),
            "status": "validating",
            "output_file_id": None,
            "error_file_id": None,
            "created_at": now,
            "in_progress_at": None,
            "expires_at": now + 86400,
            "finalizing_at": None,
            "completed_at": None,
            "failed_at": None,
            "expired_at": None,
            "cancelling_at": None,
            "cancelled_at": None,
            "request_counts": {"total": 0, "completed": 0, "failed": 0},
            "metadata": body.get("metadata"),
        }
        lines: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for number, raw in enumerate(state.files[fid][2].decode("utf-8", "replace").splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
                if not isinstance(line, dict) or "custom_id" not in line or not isinstance(line.get("body"), dict):
                    raise ValueError("not a request")
            except ValueError:
                errors.append({"code": "invalid_json_line", "message": "not a JSON request line", "line": number})
                continue
            lines.append(line)
        if len(lines) > state.config.max_requests:
            errors.append({"code": "too_many_requests", "message": f"over {state.config.max_requests} requests"})
        batch = _Batch(obj=obj, lines=lines)
        if errors:
            batch.obj["errors"] = {"object": "list", "data": errors}
        batch.obj["request_counts"] = _counts(batch)
        state._batches[bid] = batch
        return web.json_response(batch.obj)

    async def answer(request: web.Request, session: ClientSession, batch: _Batch, n: int) -> None:
        """Answer the next `n` lines of `batch` through this server's chat endpoint."""
        base = f"{request.url.scheme}://{request.url.host}:{request.url.port}"
        for line in batch.lines[batch.next_line : batch.next_line + n]:
            state.lines += 1
            url = base + str(line.get("url") or "/v1/chat/completions")
            async with session.post(url, json=line["body"]) as resp:
                raw = await resp.read()
                status = resp.status
            try:
                body = json.loads(raw)
            except ValueError:
                body = {"error": {"message": "malformed response", "code": status}}
            entry = {
                "id": f"batch_req_{state.lines}",
                "custom_id": line["custom_id"],
                "response": {"status_code": status, "request_id": f"req_{state.lines}", "body": body},
                "error": None,
            }
            (batch.done if status == 200 else batch.failed).append(json.dumps(entry))
        batch.next_line = min(len(batch.lines), batch.next_line + n)

    def finish(batch: _Batch, status: str) -> None:
        """Write the output and error files and set the final `status`."""
        now = int(time.time())
        obj = batch.obj
        if status == "expired":
            for line in batch.lines[batch.next_line :]:
                entry = {
                    "id": f"batch_req_x{state.lines}",
                    "custom_id": line["custom_id"],
                    "response": None,
                    "error": {
                        "code": "batch_expired",
                        "message": "This request could not be executed before the completion window expired.",
                    },
                }
                batch.failed.append(json.dumps(entry))
        if batch.done:
            obj["output_file_id"] = state.put_file(
                "batch_output", "output.jsonl", ("\n".join(batch.done) + "\n").encode()
            )["id"]
        if batch.failed:
            obj["error_file_id"] = state.put_file(
                "batch_output", "errors.jsonl", ("\n".join(batch.failed) + "\n").encode()
            )["id"]
        obj["status"] = status
        obj[f"{status}_at"] = now
        obj["request_counts"] = _counts(batch)

    async def get_batch(request: web.Request) -> web.Response:
        state.retrievals += 1
        state.retrieved_at.append(time.monotonic())
        if state.config.stall_retrievals > 0:
            state.config.stall_retrievals -= 1
            state.stalled += 1
            await asyncio.sleep(state.config.stall_s)
        bid = request.match_info["id"]
        batch = state._batches.get(bid)
        if batch is None:
            return _error(404, f"no such batch: {bid}")
        obj = batch.obj
        cfg = state.config
        status = obj["status"]
        if cfg.hold is not None and cfg.hold(obj):
            return web.json_response(obj)
        batch.polls += 1
        if status == "validating" and batch.polls > cfg.polls_validating:
            if obj["errors"]:
                obj["status"] = "failed"
                obj["failed_at"] = int(time.time())
            else:
                obj["status"] = "in_progress"
                obj["in_progress_at"] = int(time.time())
                batch.polls = 0
        elif status == "in_progress":
            if cfg.expire_after_polls is not None and batch.polls > cfg.expire_after_polls:
                finish(batch, "expired")
            else:
                n = cfg.lines_per_poll or len(batch.lines)
                async with ClientSession() as session:
                    await answer(request, session, batch, n)
                if batch.next_line >= len(batch.lines):
                    obj["status"] = "finalizing"
                    obj["finalizing_at"] = int(time.time())
                obj["request_counts"] = _counts(batch)
        elif status == "finalizing":
            finish(batch, "completed")
        elif status == "cancelling":
            finish(batch, "cancelled")
        return web.json_response(obj)

    async def cancel_batch(request: web.Request) -> web.Response:
        bid = request.match_info["id"]
        batch = state._batches.get(bid)
        if batch is None:
            return _error(404, f"no such batch: {bid}")
        if batch.obj["status"] in ("completed", "failed", "expired", "cancelled"):
            return _error(400, f"batch {bid} is {batch.obj['status']}; it cannot be cancelled")
        batch.obj["status"] = "cancelling"
        batch.obj["cancelling_at"] = int(time.time())
        return web.json_response(batch.obj)

    async def list_batches(request: web.Request) -> web.Response:
        data = [b.obj for b in reversed(state._batches.values())]
        return web.json_response({"object": "list", "data": data, "has_more": False})

    for prefix in ("/v1", ""):
        app.router.add_post(f"{prefix}/files", create_file)
        app.router.add_get(f"{prefix}/files/{{id}}", get_file)
        app.router.add_get(f"{prefix}/files/{{id}}/content", file_content)
        app.router.add_post(f"{prefix}/batches", create_batch)
        app.router.add_get(f"{prefix}/batches", list_batches)
        app.router.add_get(f"{prefix}/batches/{{id}}", get_batch)
        app.router.add_post(f"{prefix}/batches/{{id}}/cancel", cancel_batch)

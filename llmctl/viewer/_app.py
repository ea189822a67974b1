"""The `llmctl view` web app (Starlette): pages and a JSON API over the store.

Read-only, except labels: POST /api/labels writes `evalsets/labels/<evalset>.jsonl` (and the
store's mirror). Model outputs are untrusted: templates autoescape everything, and every
response carries a strict Content-Security-Policy (scripts and styles only from this app's
own vendored files, no inline script, no other origin). A write needs the per-process token
that the pages carry, and every request must name this server as its Host (no DNS rebinding).
"""

from __future__ import annotations

import json
import secrets
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from llmctl import fmt
from llmctl.errors import InputError, LlmctlError
from llmctl.store import Store
from llmctl.viewer import _data, _monitor_page

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
_STATIC = {"viewer.css": "text/css; charset=utf-8", "viewer.js": "text/javascript; charset=utf-8"}


def _metric_cells(metric: dict[str, Any]) -> dict[str, str]:
    """A stored verdict row's display cells, as the reports show them."""
    from llmctl.reports._format import metric_cells
    from llmctl.verdict import MetricVerdict

    return metric_cells(MetricVerdict.from_dict(metric))


def _register_convertors() -> None:
    """`{x:anything}`: like `path`, but also across newlines (a case id may hold one)."""
    from starlette.convertors import CONVERTOR_TYPES, PathConvertor, register_url_convertor

    class AnythingConvertor(PathConvertor):
        regex = "(?s:.*)"

    if "anything" not in CONVERTOR_TYPES:
        register_url_convertor("anything", AnythingConvertor())


def _host_name(header: str) -> str:
    """The name in a Host header, without its port: `[::1]:8484` -> `::1`, `Example.org.:80` -> `example.org`."""
    text = header.strip().lower()
    if text.startswith("["):
        return text[1 : text.find("]")] if "]" in text else text
    if text.count(":") == 1:
        text = text.split(":", 1)[0]
    return text.rstrip(".")


def _environment() -> Any:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("llmctl.viewer", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # numbers and times as every other screen shows them (llmctl.fmt)
    env.filters["pct"] = fmt.pct
    env.filters["usd"] = fmt.usd
    env.filters["usd_per_case"] = fmt.usd_per_case
    env.filters["ms"] = fmt.ms
    env.filters["score"] = fmt.score
    env.filters["time"] = fmt.time
    env.filters["metric_cells"] = _metric_cells
    env.filters["short"] = lambda v, n=8: (str(v or "").split(":")[-1])[:n]
    env.filters["q"] = lambda v: quote(str(v), safe="")
    env.filters["tojson_pretty"] = lambda v: json.dumps(v, indent=2, ensure_ascii=False, default=fmt.json_default)
    env.filters["zip_values"] = lambda names, rows, key: [(n, r.get(key)) for n, r in zip(names, rows, strict=True)]
    env.globals["fmt_pct"] = fmt.pct
    env.globals["fmt_usd_per_case"] = fmt.usd_per_case
    env.globals["fmt_ms"] = fmt.ms
    env.filters["clip"] = lambda v, n=200: (v if len(v or "") <= n else (v or "")[: n - 1] + "…") if v else ""
    return env


def create_app(
    store: Store, root: Path, *, allowed_hosts: tuple[str, ...] | None = ("127.0.0.1", "localhost", "::1")
) -> Any:
    """The ASGI app. `root` is the project (where `evalsets/labels/` is written).

    `allowed_hosts`: the Host names served (None: any)."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
    from starlette.routing import Route

    _register_convertors()
    env = _environment()
    token = secrets.token_urlsafe(24)

    def page(name: str, **ctx: Any) -> HTMLResponse:
        html = env.get_template(name).render(token=token, **ctx)
        return HTMLResponse(html, headers=SECURITY_HEADERS)

    def api(data: Any, status: int = 200) -> Response:
        body = json.dumps(data, default=fmt.json_default, ensure_ascii=False, separators=(",", ":"))
        return Response(body.encode("utf-8"), status_code=status, media_type="application/json",
                        headers=SECURITY_HEADERS)  # fmt: skip

    def failed(request: Request, status: int, message: str) -> Response:
        if request.url.path.startswith("/api/"):
            return api({"error": message}, status)
        return HTMLResponse(
            env.get_template("error.html").render(token=token, status=status, message=message),
            status_code=status,
            headers=SECURITY_HEADERS,
        )

    # Every handler's store queries and rendering run in a worker thread (starlette's
    # run_in_threadpool), so a big page never blocks the event loop and other requests.
    def off_loop(fn: Any) -> Any:
        def read(request: Request) -> Response:
            with store.reading():  # one store connection for the whole page
                return fn(request)  # type: ignore[no-any-return]

        async def handler(request: Request) -> Response:
            return await run_in_threadpool(read, request)

        return handler

    def pager(request: Request, page: int, pages: int) -> dict[str, Any]:
        def link(n: int) -> str:
            params = [(k, v) for k, v in request.query_params.multi_items() if k != "page"] + [("page", str(n))]
            return f"{request.url.path}?{urlencode(params)}"

        return {"page": page, "pages": pages, "prev": link(page - 1) if page > 1 else None,
                "next": link(page + 1) if page < pages else None}  # fmt: skip

    @off_loop
    def runs_page(request: Request) -> Response:
        filters = {k: request.query_params.get(k, "") for k in (*_data.RUN_FILTERS, "q")}
        runs = _data.list_runs(store, filters)
        return page("runs.html", runs=runs, filters=filters, facets=_data.facets(_data.list_runs(store, {})))

    @off_loop
    def run_page(request: Request) -> Response:
        run = _data.get_run(store, request.path_params["run_id"])
        flt = request.query_params.get("filter", "all")
        if flt not in _data.RESULT_FILTERS:
            flt = "all"
        q = request.query_params.get("q", "")
        matrix = _data.run_matrix(store, run, root, flt, q, request.query_params.get("page"))
        return page("run.html", run=run, matrix=matrix, filter=flt, q=q, filters=_data.RESULT_FILTERS,
                    pager=pager(request, matrix["page"], matrix["pages"]))  # fmt: skip

    @off_loop
    def case_page(request: Request) -> Response:
        data = _data.case(store, request.path_params["run_id"], request.path_params["case_id"], root)
        return page("case.html", **data)

    @off_loop
    def compare_page(request: Request) -> Response:
        flt = request.query_params.get("filter", "all")
        if flt not in _data.COMPARE_FILTERS:
            flt = "all"
        a, b = request.path_params["a"], request.path_params["b"]
        runs = (_data.get_run(store, a), _data.get_run(store, b))
        number = _data.page_number(request.query_params.get("page"), 10**9)  # "last" needs the total first
        if str(request.query_params.get("page", "")).strip().lower() == "last":
            total = _data.compare(store, a, b, flt, offset=0, limit=0, runs=runs)["total"]
            number = max((total + _data.PAGE_SIZE - 1) // _data.PAGE_SIZE, 1)
        data = _data.compare(store, a, b, flt, offset=(number - 1) * _data.PAGE_SIZE, limit=_data.PAGE_SIZE, runs=runs)
        pages = max((data["total"] + _data.PAGE_SIZE - 1) // _data.PAGE_SIZE, 1)
        if number > pages:  # past the end: the last page
            number = pages
            data = _data.compare(store, a, b, flt, offset=(number - 1) * _data.PAGE_SIZE, limit=_data.PAGE_SIZE,
                                 runs=runs)  # fmt: skip
        return page("compare.html", **data, pager=pager(request, number, pages), filters=_data.COMPARE_FILTERS)

    @off_loop
    def prompt_page(request: Request) -> Response:
        data = _data.prompt_history(store, request.path_params["name"], root)
        return page("prompt.html", **data)

    @off_loop
    def review_pairs_page(request: Request) -> Response:
        import random

        a, b = _data.get_run(store, request.path_params["a"]), _data.get_run(store, request.path_params["b"])
        pairs = _data.blind_pairs(store, a["id"], b["id"], random.SystemRandom())
        return page("pairs.html", a=a, b=b, pairs=pairs)

    async def api_preference(request: Request) -> Response:
        from llmctl.labels import add_preference

        body = await _body(request)
        if body is None:
            return failed(request, 400, "the body must be JSON or a form")
        if not secrets.compare_digest(str(body.get("token") or request.headers.get("x-llmctl-token") or ""), token):
            return failed(request, 403, "missing or wrong token (reload the page)")
        a, b = _data.get_run(store, str(body.get("run_a") or "")), _data.get_run(store, str(body.get("run_b") or ""))
        case_id, model = str(body.get("case_id") or ""), str(body.get("model") or "")
        shas = [str(body.get("first") or ""), str(body.get("second") or "")]
        outputs = {
            r["output_sha256"]: r["output"]
            for run_id in (a["id"], b["id"])
            for r in _data.results(store, run_id, case_id=case_id)
            if r["model"] == model and r.get("output") is not None
        }
        if any(sha not in outputs for sha in shas) or shas[0] == shas[1]:
            return failed(request, 404, f"these runs have no such pair of outputs for case {case_id!r}")
        choice = str(body.get("choice") or "")
        if choice not in ("1", "2", "tie"):
            return failed(request, 400, "choice must be 1, 2 or tie")
        preferred, other = (shas[0], shas[1]) if choice in ("1", "tie") else (shas[1], shas[0])
        path = add_preference(
            root,
            str(b["evalset"] or a["evalset"] or ""),
            case_id=case_id,
            model=model,
            preferred=outputs[preferred],
            other=outputs[other],
            tie=choice == "tie",
            note=str(body.get("note") or ""),
        )
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            target = f"/compare/{quote(a['id'])}/{quote(b['id'])}/review"
            return RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)
        return api({"file": str(path.relative_to(root)), "preferred_sha256": preferred, "tie": choice == "tie"})

    def paged(request: Request, items: Any, total: int, offset: int, limit: int) -> Response:
        """A JSON list page: `X-Total-Count`, and a `Link: <...>; rel="next"` while more remain."""
        resp = api(items)
        resp.headers["X-Total-Count"] = str(total)
        if offset + limit < total:
            params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("offset", "limit")]
            params += [("offset", str(offset + limit)), ("limit", str(limit))]
            resp.headers["Link"] = f'<{request.url.path}?{urlencode(params)}>; rel="next"'
        return resp

    def streamed(chunks: Any) -> Response:
        return StreamingResponse(chunks, media_type="application/json", headers=SECURITY_HEADERS)

    @off_loop
    def api_runs(request: Request) -> Response:
        filters = {k: request.query_params.get(k, "") for k in (*_data.RUN_FILTERS, "q")}
        return api(_data.list_runs(store, filters))

    @off_loop
    def api_run(request: Request) -> Response:
        return api(_data.get_run(store, request.path_params["run_id"]))

    @off_loop
    def api_results(request: Request) -> Response:
        run_id = request.path_params["run_id"]
        limit = _data.api_limit(request.query_params.get("limit"))
        if limit is None:  # ?limit=all: every result, streamed in batches
            return streamed(_data.results_stream(store, _data.get_run(store, run_id)["id"], root))
        offset = _data.api_offset(request.query_params.get("offset"))
        rows, total = _data.results_page(store, run_id, root, offset, limit)
        return paged(request, rows, total, offset, limit)

    @off_loop
    def api_case(request: Request) -> Response:
        return api(_data.case(store, request.path_params["run_id"], request.path_params["case_id"], root))

    @off_loop
    def api_compare(request: Request) -> Response:
        a, b = request.path_params["a"], request.path_params["b"]
        flt = request.query_params.get("filter", "all")
        if flt not in _data.COMPARE_FILTERS:
            raise _data.BadRequest(f"filter must be one of {', '.join(_data.COMPARE_FILTERS)}, got {flt[:40]!r}")
        limit = _data.api_limit(request.query_params.get("limit"))
        if limit is None:  # ?limit=all: every pair, streamed in batches
            _data.get_run(store, a), _data.get_run(store, b)  # a missing run is a 404 before the stream starts
            return streamed(_data.compare_stream(store, a, b, flt))
        offset = _data.api_offset(request.query_params.get("offset"))
        data = _data.compare(store, a, b, flt, offset=offset, limit=limit)
        resp = api({**data, "limit": limit})
        resp.headers["X-Total-Count"] = str(data["total"])
        if offset + limit < data["total"]:
            params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("offset", "limit")]
            params += [("offset", str(offset + limit)), ("limit", str(limit))]
            resp.headers["Link"] = f'<{request.url.path}?{urlencode(params)}>; rel="next"'
        return resp

    @off_loop
    def api_prompt(request: Request) -> Response:
        return api(_data.prompt_history(store, request.path_params["name"], root))

    async def _body(request: Request) -> dict[str, Any] | None:
        raw = await request.body()
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=50))
        try:
            data = json.loads(raw)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    async def api_label(request: Request) -> Response:
        from llmctl.labels import LabelConflict, add_labels, has_output, make_label

        is_form = request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
        body = await _body(request)
        if body is None:
            return failed(request, 400, "the body must be a JSON object or a form")
        if not secrets.compare_digest(str(body.get("token") or request.headers.get("x-llmctl-token") or ""), token):
            return failed(request, 403, "missing or wrong token (reload the page)")
        repeat = _data.repeat_index(body.get("repeat_index"))
        if repeat is None:
            shown = str(body.get("repeat_index"))[:40]
            return failed(request, 400, f"repeat_index must be a whole number, got {shown!r}")
        run = await run_in_threadpool(_data.get_run, store, str(body.get("run_id") or ""))
        case_id, model = str(body.get("case_id") or ""), str(body.get("model") or "")
        rows = await run_in_threadpool(_data.results, store, run["id"], None, case_id)
        match = [r for r in rows if r["model"] == model and int(r["repeat_index"]) == repeat]
        if not match or not has_output(match[0]):
            return failed(request, 404, f"run {run['id']} has no output for case {case_id!r} and model {model!r}")
        score_text = str(body.get("score") or "").strip()
        try:
            score = float(score_text) if score_text else None
        except ValueError:
            return failed(request, 400, f"score must be a number from 0 to 1, got {score_text!r}")
        try:
            label = make_label(
                case_id,
                model,
                match[0]["output"],
                str(body.get("label") or ""),
                score=score,
                note=str(body.get("note") or ""),
                tool_calls=match[0].get("tool_calls"),
                turns=match[0].get("turns"),
            )
        except InputError as exc:
            return failed(request, 400, exc.message)
        # `seen`: the label the page showed (empty: none); a label changed since is a conflict
        expect = {label.key: str(body.get("seen") or "") or None} if "seen" in body else None
        try:
            path = await run_in_threadpool(add_labels, root, str(run["evalset"] or ""), [label], store, expect=expect)
        except LabelConflict as exc:
            return failed(request, 409, exc.message)
        except InputError as exc:
            return failed(request, 400, str(exc))
        except LlmctlError as exc:  # the labels folder stayed locked: nothing was written
            return failed(request, 503, exc.message)
        if is_form:
            back = str(body.get("back") or "")
            target = back if back.startswith("/") and not back.startswith("//") else f"/runs/{quote(run['id'])}"
            return RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)
        return api({"label": label.to_dict(), "file": str(path.relative_to(root))})

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in _STATIC:
            return failed(request, 404, "not found")
        text = resources.files("llmctl.viewer").joinpath("static").joinpath(name).read_text(encoding="utf-8")
        if name == "viewer.css":  # the shared visual language first (the HTML report inlines the same sheet)
            text = resources.files("llmctl.reports").joinpath("theme.css").read_text(encoding="utf-8") + text
        return Response(text, media_type=_STATIC[name], headers=SECURITY_HEADERS)

    routes = [
        Route("/", runs_page),
        Route("/runs/{run_id}", run_page),
        Route("/runs/{run_id}/cases/{case_id:anything}", case_page),
        Route("/compare/{a}/{b}", compare_page),
        Route("/compare/{a}/{b}/review", review_pairs_page),
        Route("/prompts/{name:path}", prompt_page),
        Route("/api/runs", api_runs),
        Route("/api/runs/{run_id}", api_run),
        Route("/api/runs/{run_id}/results", api_results),
        Route("/api/runs/{run_id}/cases/{case_id:anything}", api_case),
        Route("/api/compare/{a}/{b}", api_compare),
        Route("/api/prompts/{name:path}", api_prompt),
        Route("/api/labels", api_label, methods=["POST"]),
        Route("/api/preferences", api_preference, methods=["POST"]),
        Route("/static/{name}", static),
        *_monitor_page.routes(store, root, page, api),
    ]

    async def on_input_error(request: Request, exc: Exception) -> Response:
        return failed(request, 404, getattr(exc, "message", str(exc)))

    async def on_usage_error(request: Request, exc: Exception) -> Response:
        return failed(request, 400, getattr(exc, "message", str(exc)))

    async def on_error(request: Request, exc: Exception) -> Response:
        return failed(request, 500, getattr(exc, "message", str(exc)))

    app = Starlette(
        routes=routes,
        exception_handlers={_data.BadRequest: on_usage_error, InputError: on_input_error, LlmctlError: on_error},
    )
    hosts = set(allowed_hosts) if allowed_hosts is not None else None

    async def guard(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        request = Request(scope, receive)
        host = _host_name(request.headers.get("host") or "")
        if hosts is not None and host not in hosts:
            await failed(request, 421, f"unexpected Host {host!r}")(scope, receive, send)
            return
        if request.method not in ("GET", "HEAD") and request.url.path not in ("/api/labels", "/api/preferences"):
            await failed(request, 405, "the viewer is read-only")(scope, receive, send)
            return
        await app(scope, receive, send)

    guard.token = token  # type: ignore[attr-defined]  # for tests
    return guard


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def allowed_hosts_for(host: str, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The Host names a viewer bound to `host` answers (no DNS rebinding): localhost, the bound
    address (unless it is a wildcard such as 0.0.0.0) and the `--allow-host` names."""
    names = [*LOOPBACK]
    if host not in ("0.0.0.0", "::", ""):  # noqa: S104
        names.append(host.strip("[]").lower())
    names += [h.strip().strip("[]").lower() for h in extra if h.strip()]
    return tuple(dict.fromkeys(names))


def serve(
    store: Store, root: Path, host: str, port: int, *, open_browser: bool, allow_hosts: tuple[str, ...] = ()
) -> None:
    """Run the viewer until Ctrl-C."""
    import threading
    import webbrowser

    import uvicorn

    app = create_app(store, root, allowed_hosts=allowed_hosts_for(host, allow_hosts))
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
    url = f"http://{shown}:{port}/"
    print(f"llmctl view: {url} (Ctrl-C to stop)", flush=True)
    if open_browser:
        threading.Timer(0.8, lambda: webbrowser.open(url)).start()
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)

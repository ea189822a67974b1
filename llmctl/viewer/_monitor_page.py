"""The viewer's `/monitor` page and `/api/monitor`: `llmctl monitor`'s report with inline-SVG charts.

Per prompt x model: cost per 1k tokens, p95 latency, error rate and calls by day, one line per prompt
version, with release markers (the dates of the prompt's releases in prompts/llmctl.lock). Query:
`?window=7d&reference=28d&prompt=NAME`. The pass rate of each `monitor.evaluators` entry that calls
no model (safety, json_schema, tool checks...) is charted the same way, on a seeded sample of up to
50 successful traces per day (`llmctl.traces._monitor.daily_pass_rates`); a judge is not run here (it
would cost money on every page load): its pass rate and test are in `llmctl monitor`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmctl.errors import InputError

if TYPE_CHECKING:
    from starlette.responses import HTMLResponse, Response

WIDTH, HEIGHT, PAD = 560, 120, 30
METRICS = (
    ("cost_per_1k", "cost per 1k tokens"),
    ("p95_ms", "p95 latency (ms)"),
    ("error_rate", "error rate"),
    ("calls", "calls"),
)


def _releases(root: Path, prompt: str | None) -> list[tuple[str, str]]:
    from llmctl.config import load_config
    from llmctl.release import lockfile as lf

    try:
        cfg = load_config(root)
        entry = lf.load_for(cfg.root, cfg.prompts_dir).prompts.get(prompt or "")
    except InputError:
        return []
    if entry is None:
        return []
    return [(r.version, str(r.date)[:10]) for r in entry.releases.values() if r.date]


def charts(
    group: Any, releases: list[tuple[str, str]], pass_rates: dict[str, dict[str, dict[str, list[int]]]] | None = None
) -> list[dict[str, Any]]:
    """SVG geometry (computed here, escaped by the template) for each metric of one group, then one
    chart per evaluator of `pass_rates` ({day: {version: {evaluator: [passed, scored]}}}), 0..1."""
    days = [d["day"] for d in group.daily]
    if not days:
        return []
    first, last = date.fromisoformat(days[0]), date.fromisoformat(days[-1])
    span = max((last - first).days, 1)

    def x(day: str) -> float:
        return round(PAD + (date.fromisoformat(day) - first).days / span * (WIDTH - 2 * PAD), 1)

    versions = sorted({v for d in group.daily for v in d["versions"]})
    out = []
    for key, title in METRICS:
        series = []
        values = [
            v[key] for d in group.daily for v in d["versions"].values() if key != "calls" and v.get(key) is not None
        ] + ([d["calls"] for d in group.daily] if key == "calls" else [])
        top = max(values) if values else 0
        top = top or 1
        for version in versions if key != "calls" else ["all"]:
            points = []
            for d in group.daily:
                value = d["calls"] if key == "calls" else (d["versions"].get(version) or {}).get(key)
                if value is not None:
                    points.append(f"{x(d['day'])},{round(HEIGHT - PAD / 2 - value / top * (HEIGHT - PAD), 1)}")
            series.append({"version": version, "points": " ".join(points)})
        markers = [{"x": x(day), "label": version} for version, day in releases if days[0] <= day <= days[-1]]
        out.append(
            {
                "title": title,
                "key": key,
                "top": top,
                "series": series,
                "markers": markers,
                "first": days[0],
                "last": days[-1],
            }
        )
    rates = pass_rates or {}
    names = sorted({name for by_version in rates.values() for counts in by_version.values() for name in counts})
    rate_versions = sorted({v for by_version in rates.values() for v in by_version})
    for name in names:
        series = []
        for version in rate_versions:
            points = []
            for day in sorted(rates):
                ok, n = (rates[day].get(version) or {}).get(name, (0, 0))
                if n and days[0] <= day <= days[-1]:
                    points.append(f"{x(day)},{round(HEIGHT - PAD / 2 - ok / n * (HEIGHT - PAD), 1)}")
            if points:
                series.append({"version": version, "points": " ".join(points)})
        out.append(
            {
                "title": f"pass rate: {name}",
                "key": f"pass_rate:{name}",
                "top": 1,
                "series": series,
                "markers": [{"x": x(day), "label": version} for version, day in releases if days[0] <= day <= days[-1]],
                "first": days[0],
                "last": days[-1],
            }
        )
    return out


def routes(store: Any, root: Path, page: Callable[..., HTMLResponse], api: Callable[..., Response]) -> list[Any]:
    from starlette.requests import Request
    from starlette.routing import Route

    def report(request: Request) -> Any:
        import copy

        from llmctl.config import load_config
        from llmctl.traces._monitor import daily_pass_rates, monitor

        full = load_config(root)
        cfg = copy.copy(full)
        cfg.monitor = copy.copy(cfg.monitor)
        cfg.monitor.evaluators = []
        q = request.query_params
        prompt = q.get("prompt") or None
        rep = monitor(
            cfg,
            store,
            prompt=prompt,
            window=q.get("window") or "7d",
            reference=q.get("reference") or "28d",
            until=q.get("until") or None,
        )
        rates, skipped = daily_pass_rates(full, store, rep, prompt=prompt)
        return rep, rates, skipped

    async def monitor_page(request: Request) -> Response:
        rep, rates, skipped = report(request)
        groups = [
            {"group": g, "charts": charts(g, _releases(root, g.prompt), rates.get((g.prompt, g.model)))}
            for g in rep.groups
        ]
        return page("monitor.html", report=rep, groups=groups, skipped=skipped, width=WIDTH, height=HEIGHT)

    async def api_monitor(request: Request) -> Response:
        rep, rates, skipped = report(request)
        doc = rep.to_dict()
        for g, out in zip(rep.groups, doc["groups"], strict=True):
            out["daily_pass_rates"] = rates.get((g.prompt, g.model), {})
        doc["evaluators_not_charted"] = skipped
        return api(doc)

    return [Route("/monitor", monitor_page), Route("/api/monitor", api_monitor)]

"""`llmctl log NAME`: releases and label moves over time, with their eval results."""

from __future__ import annotations

import typer

from llmctl.cli import _common


def log(
    name: str = typer.Argument(..., help="Prompt name."),
    as_json: bool = typer.Option(False, "--json", help="Print the history as JSON."),
) -> None:
    """Show a prompt's versions and labels over time: commit, author, date, pass rate, cost, p95 latency.

    Results come from the store where runs exist; without a store, the lockfile and git only.
    """
    from rich.text import Text

    from llmctl import fmt, release
    from llmctl.cli._tables import Column, print_table
    from llmctl.safetext import terminal_safe as safe

    cfg = _common.load_config()
    data = release.prompt_log(cfg, name, release.open_store(cfg))
    if as_json:
        _common.echo_json(data)
        return
    con = _common.console()
    results = {r["version"]: r.get("results") for r in data["releases"]}
    if not data["events"]:
        con.print(Text(safe(f"{name}: no releases yet (release one with `llmctl promote {name} --to LABEL`)")))
    else:
        drops = {"author": 3, "commit": 2, "p95": 1}
        columns = [
            Column(col, drop=drops.get(col, 0), fold=col in ("event", "author"))
            for col in ("date", "event", "version", "commit", "author", "pass rate", "cost/case", "p95")
        ]
        rows = []
        for ev in data["events"]:
            res = results.get(ev["version"]) or {}
            if ev["event"] == "release":
                what = "release"
            else:
                what = f"{ev['label']} -> {ev['version']}"
                if ev.get("rollback"):
                    what += " (rollback)"
            if ev.get("forced"):
                what += " [forced]"
            rows.append(
                [
                    Text(safe(fmt.time(ev["date"]))),
                    Text(safe(what)),
                    Text(safe(ev["version"])),
                    Text(safe((ev.get("commit") or "")[:10])),
                    Text(safe(ev.get("author") or "")),
                    Text(fmt.pct(res.get("pass_rate"))),
                    Text(fmt.usd_per_case(res.get("cost_usd_mean"))),
                    Text(fmt.ms(res.get("latency_p95"))),
                ]
            )
        print_table(con, columns, rows, title=Text(safe(f"{name}: versions and labels")))
        labels = ", ".join(f"{k} = {v}" for k, v in data["labels"].items()) or "(none)"
        con.print(Text(safe(f"labels: {labels}")))
    wt = data.get("worktree")
    if wt is not None:
        if wt.get("released_as"):
            con.print(Text(safe(f"work tree: {wt['hash'][:19]} (= {wt['released_as']})")))
        else:
            res = wt.get("results") or {}
            extra = f", pass rate {fmt.pct(res.get('pass_rate'))}" if res.get("pass_rate") is not None else ""
            con.print(Text(f"work tree: {wt['hash'][:19]} (unreleased{extra})"))
    if not data["store"]:
        con.print(Text("no store yet: results appear after `llmctl eval`"))


def register(app: typer.Typer) -> None:
    app.command("log")(log)

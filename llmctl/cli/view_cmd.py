"""`llmctl view [--port 8484] [--host 127.0.0.1] [--no-open]`."""

from __future__ import annotations

import typer

from llmctl.cli import _common


def view(
    port: int = typer.Option(8484, "--port", min=1, max=65535, help="The port to listen on."),
    host: str = typer.Option("127.0.0.1", "--host", help="The address to bind (default: this machine only)."),
    no_open: bool = typer.Option(False, "--no-open", help="Do not open a browser."),
    allow_host: list[str] = typer.Option(
        [],
        "--allow-host",
        help="Also answer requests naming this Host (repeatable); localhost and the --host address always are.",
    ),
) -> None:
    """Browse the store in a local web app: runs, a run's matrix, cases, comparisons, prompt history.

    Read-only except labels: the review buttons write evalsets/labels/<evalset>.jsonl.
    JSON under /api/ (/api/runs, /api/runs/ID, /api/runs/ID/results?offset=&limit=, limit=all streams).
    A request naming any other Host than localhost, the --host address or an --allow-host name
    is refused (421), so a DNS-rebinding page cannot read the store or post labels.

    Example: llmctl view --port 8500 --no-open
    """
    from llmctl.store import Store
    from llmctl.viewer import serve

    cfg = _common.load_config()
    if host not in ("127.0.0.1", "localhost", "::1"):
        _common.error(f"warning: --host {host} makes the viewer (and its label writes) reachable from the network")
        if host in ("0.0.0.0", "::") and not allow_host:  # noqa: S104
            _common.error("note: only Host localhost is answered; name the others with --allow-host NAME")
    serve(Store(cfg.store_location), cfg.root, host, port, open_browser=not no_open, allow_hosts=tuple(allow_host))


def register(app: typer.Typer) -> None:
    app.command("view")(view)

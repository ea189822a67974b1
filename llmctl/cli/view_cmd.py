"""`llmctl view [--port 8484] [--host 127.0.0.1] [--no-open]`."""

from __future__ import annotations

import typer

from llmctl.cli import _common


def view(
    port: int = typer.Option(8484, "--port", min=1, max=65535, help="The port to listen on."),
    host: str = typer.Option("127.0.0.1", "--host", help="The address to bind (default: this machine only)."),
    no_open: bool = typer.Option(False, "--no-open", help="Do not open a browser."),
) -> None:
    """Browse the store in a local web app: runs, a run's matrix, cases, comparisons, prompt history.

    Read-only except labels: the review buttons write evalsets/labels/<evalset>.jsonl.
    JSON under /api/ (/api/runs, /api/runs/ID, /api/runs/ID/results).

    Example: llmctl view --port 8500 --no-open
    """
    from llmctl.store import Store
    from llmctl.viewer import serve

    cfg = _common.load_config()
    if host not in ("127.0.0.1", "localhost", "::1"):
        _common.error(f"warning: --host {host} makes the viewer (and its label writes) reachable from the network")
    serve(Store(cfg.store_location), cfg.root, host, port, open_browser=not no_open)


def register(app: typer.Typer) -> None:
    app.command("view")(view)

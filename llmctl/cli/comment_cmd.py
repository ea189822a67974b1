"""`llmctl comment`."""

from __future__ import annotations

from pathlib import Path

import typer


def comment(
    report: Path = typer.Option(..., "--report", help="The Markdown report to post (from eval --output report.md)."),
    repo: str = typer.Option(None, "--repo", help="owner/name (default: $GITHUB_REPOSITORY)."),
    pr: int = typer.Option(None, "--pr", help="Pull request number (default: from $GITHUB_EVENT_PATH)."),
    api_url: str = typer.Option(None, "--api-url", help="GitHub API URL (default: $GITHUB_API_URL or api.github.com)."),
) -> None:
    """Create or update the one llmctl comment on a pull request (needs GITHUB_TOKEN).

    The comment is found by a hidden marker, so re-runs edit it instead of adding new ones.
    Example: llmctl comment --report report.md
    """
    import os

    from llmctl.errors import InputError
    from llmctl.github import upsert_comment

    if not report.is_file():
        raise InputError(f"report not found: {report}")
    token = os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN")
    if not token:
        raise InputError("no GitHub token — set GITHUB_TOKEN (in Actions: env: GITHUB_TOKEN: ${{ github.token }})")
    url = upsert_comment(report.read_text(encoding="utf-8"), repo=repo, pr_number=pr, token=token, api_url=api_url)
    typer.echo(f"comment: {url}")


def register(app: typer.Typer) -> None:
    app.command("comment")(comment)

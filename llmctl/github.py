"""Post the report as one pull-request comment, updated in place on every run.

The comment carries a hidden marker (`<!-- llmctl-report -->`); `upsert_comment`
pages through the PR's comments, PATCHes the one with the marker, or POSTs a new
one. The token is sent only in the Authorization header and never appears in an
error message or log line.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from llmctl.errors import InfraError, InputError
from llmctl.safetext import terminal_safe

MARKER = "<!-- llmctl-report -->"
MAX_COMMENT_CHARS = 65_536
DEFAULT_API_URL = "https://api.github.com"
USER_AGENT = "llmctl"
_MAX_PAGES = 100


class GitHubError(InfraError):
    """The GitHub API refused or failed a request (the message never holds the token)."""


def _scrub(text: str, token: str | None) -> str:
    if token:
        text = text.replace(token, "***")
    return re.sub(r"(?i)(authorization:\s*)(\S+\s+)?\S+", r"\1***", text)


def truncate_body(body: str, limit: int = MAX_COMMENT_CHARS) -> str:
    """Fit a comment into GitHub's limit, cutting at a line and closing an open fence or <details>."""
    if len(body) <= limit:
        return body
    note = (
        f"\n\n> ⚠️ Report truncated: it is {len(body):,} characters and GitHub comments hold "
        f"{limit:,}. The full report is in the workflow's artifacts or job summary.\n"
    )
    budget = limit - len(note) - 200  # room for the closers below
    cut = body[:budget]
    if "\n" in cut:
        cut = cut[: cut.rindex("\n")]
    closers = []
    fence: str | None = None
    for line in cut.split("\n"):
        stripped = line.strip()
        m = re.match(r"^(`{3,}|~{3,})", stripped)
        if m:
            if fence is None:
                fence = m.group(1)
            elif stripped.startswith(fence[0] * len(fence)) and set(stripped) <= {fence[0]}:
                fence = None
    if fence is not None:
        closers.append(fence)
    opened = cut.count("<details>") + cut.count("<details ") - cut.count("</details>")
    closers.extend(["", "</details>"] * max(0, opened))
    return (cut + "\n" + "\n".join(closers)).rstrip() + note


def with_marker(body: str) -> str:
    return body if MARKER in body else f"{MARKER}\n{body}"


def default_repo(env: dict[str, str] | None = None) -> str | None:
    return (env if env is not None else os.environ).get("GITHUB_REPOSITORY") or None


def default_pr_number(env: dict[str, str] | None = None) -> int | None:
    """The PR number from the event payload (`pull_request.number`, or `issue.number` for PR comments)."""
    environ = env if env is not None else os.environ
    path = environ.get("GITHUB_EVENT_PATH")
    if not path:
        return None
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for key in ("pull_request", "issue"):
        number = (event.get(key) or {}).get("number")
        if isinstance(number, int):
            return number
    number = event.get("number")
    return number if isinstance(number, int) else None


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only within the origin (scheme, host, port) of the request: the token
    goes in an unredirected header, so it is re-added here, never sent to another host."""

    def __init__(self, token: str) -> None:
        self.token = token

    def redirect_request(
        self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> urllib.request.Request | None:
        if _origin(newurl) != _origin(req.full_url):
            raise GitHubError(
                f"GitHub API: {req.get_method()} {urllib.parse.urlsplit(req.full_url).path} was redirected "
                f"({code}) to another host ({_origin(newurl)}); not followed, so the token stays with the API",
                hint="check GITHUB_API_URL",
            )
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None:
            new.add_unredirected_header("Authorization", f"Bearer {self.token}")
        return new


class _Client:
    def __init__(self, api_url: str, token: str, timeout: float) -> None:
        self.api_url = api_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self._opener = urllib.request.build_opener(_SameOriginRedirects(token))

    def request(self, method: str, url: str, body: dict[str, Any] | None = None) -> tuple[Any, dict[str, str]]:
        if not url.startswith(("http://", "https://")):
            url = self.api_url + url
        data = json.dumps(body).encode("utf-8") if body is not None else None
        req = urllib.request.Request(url, data=data, method=method)  # noqa: S310 (http(s) only, checked above)
        req.add_header("Accept", "application/vnd.github+json")
        req.add_header("X-GitHub-Api-Version", "2022-11-28")
        req.add_header("User-Agent", USER_AGENT)
        req.add_unredirected_header("Authorization", f"Bearer {self.token}")  # never copied to a redirect
        if data is not None:
            req.add_header("Content-Type", "application/json")
        where = f"{method} {urllib.parse.urlsplit(url).path}"
        try:
            with self._opener.open(req, timeout=self.timeout) as resp:
                raw = resp.read()
                headers = {k.lower(): v for k, v in resp.headers.items()}
        except urllib.error.HTTPError as exc:
            detail = ""
            try:
                payload = json.loads(exc.read() or b"{}")
                detail = str(payload.get("message") or "")
            except (ValueError, AttributeError, OSError):
                pass
            raise GitHubError(
                _scrub(
                    f"GitHub API: {where} returned {exc.code} {exc.reason}" + (f": {detail}" if detail else ""),
                    self.token,
                ),
                hint=_hint(exc.code),
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise GitHubError(_scrub(f"GitHub API: {where} failed: {reason}", self.token)) from None
        return (json.loads(raw) if raw else None), headers


def _hint(code: int) -> str | None:
    if code == 401:
        return "check the token (GITHUB_TOKEN) is set and valid"
    if code in (403, 404):
        return (
            "the token needs `pull-requests: write` (workflow `permissions:`); fork pull requests get a read-only token"
        )
    return None


def _next_link(link_header: str | None) -> str | None:
    for part in (link_header or "").split(","):
        m = re.match(r'\s*<([^>]+)>\s*;\s*rel="?next"?', part)
        if m:
            return m.group(1)
    return None


def find_comment(client: _Client, repo: str, pr_number: int) -> dict[str, Any] | None:
    """The first comment on the PR that carries the marker (following pagination)."""
    url: str | None = f"/repos/{repo}/issues/{pr_number}/comments?per_page=100"
    for _ in range(_MAX_PAGES):
        if url is None:
            break
        page, headers = client.request("GET", url)
        for comment in page or []:
            if MARKER in str(comment.get("body") or ""):
                return dict(comment)
        url = _next_link(headers.get("link"))
        if url is not None and _origin(url) != _origin(client.api_url):
            # never send the token to another host than the API's
            raise GitHubError(f"GitHub API: pagination link points to another host ({_origin(url)})")
    return None


def _origin(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def upsert_comment(
    report_markdown: str,
    *,
    repo: str | None = None,
    pr_number: int | None = None,
    token: str | None = None,
    api_url: str | None = None,
    timeout: float = 30.0,
) -> str:
    """Create or update the PR's llmctl comment; returns the comment's URL.

    Defaults: `repo` from GITHUB_REPOSITORY, `pr_number` from the event at
    GITHUB_EVENT_PATH, `token` from GITHUB_TOKEN (or GH_TOKEN), `api_url` from
    GITHUB_API_URL (GitHub Enterprise) or https://api.github.com.
    """
    repo = repo or default_repo()
    if not repo or not re.fullmatch(r"[\w.-]+/[\w.-]+", repo):
        raise InputError("no repository to comment on", hint="pass --repo OWNER/NAME or set GITHUB_REPOSITORY")
    pr = pr_number if pr_number is not None else default_pr_number()
    if pr is None:
        raise InputError(
            "no pull request number", hint="pass --pr N, or run on a pull_request event (GITHUB_EVENT_PATH)"
        )
    token = token or os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN")
    if not token:
        raise InputError("no GitHub token", hint="set GITHUB_TOKEN (secrets.GITHUB_TOKEN in the workflow)")
    api = api_url or os.environ.get("GITHUB_API_URL") or DEFAULT_API_URL
    client = _Client(api, token, timeout)
    body = truncate_body(with_marker(report_markdown))
    existing = find_comment(client, repo, pr)
    if existing is not None:
        result, _ = client.request("PATCH", f"/repos/{repo}/issues/comments/{existing['id']}", {"body": body})
    else:
        result, _ = client.request("POST", f"/repos/{repo}/issues/{pr}/comments", {"body": body})
    return str((result or {}).get("html_url") or (result or {}).get("url") or "")


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(message: str, *, file: str | None = None, line: int | None = None, level: str = "error") -> str:
    """A GitHub Actions workflow command (`::error file=...,line=...::message`), escaped as the runner expects.

    The message is untrusted text: newlines and `%` are encoded, so it cannot start a second command.
    """
    props = []
    if file:
        props.append(f"file={_escape_property(file)}")
        if line:
            props.append(f"line={int(line)}")
    head = f"::{level} {','.join(props)}" if props else f"::{level}"
    return f"{head}::{_escape_data(terminal_safe(message))}"


def in_actions(env: dict[str, str] | None = None) -> bool:
    return (env if env is not None else os.environ).get("GITHUB_ACTIONS") == "true"

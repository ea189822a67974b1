"""upsert_comment against a local server that plays the GitHub issues-comments API."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from llmctl.errors import InputError
from llmctl.github import MARKER, MAX_COMMENT_CHARS, GitHubError, default_pr_number, truncate_body, upsert_comment

TOKEN = "ghs_SECRET_token_value_123"
REPO = "acme/prompts"


class FakeGitHub:
    def __init__(self, per_page_cap: int = 100) -> None:
        self.comments: list[dict] = []
        self.requests: list[tuple[str, str]] = []
        self.per_page_cap = per_page_cap
        self.next_id = 1000
        self.base = ""

    def add(self, body: str) -> dict:
        self.next_id += 1
        c = {"id": self.next_id, "body": body, "html_url": f"https://github.test/c/{self.next_id}"}
        self.comments.append(c)
        return c


def make_handler(gh: FakeGitHub):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _send(self, code, payload, headers=None):
            data = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _auth(self):
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._send(401, {"message": "Bad credentials"})
                return False
            return True

        def do_GET(self):
            gh.requests.append(("GET", self.path))
            if not self._auth():
                return
            url = urlsplit(self.path)
            q = parse_qs(url.query)
            if url.path != f"/repos/{REPO}/issues/7/comments":
                return self._send(404, {"message": "Not Found"})
            per_page = min(int(q.get("per_page", ["30"])[0]), gh.per_page_cap)
            page = int(q.get("page", ["1"])[0])
            items = gh.comments[(page - 1) * per_page : page * per_page]
            headers = {}
            if page * per_page < len(gh.comments):
                headers["Link"] = (
                    f'<{gh.base}{url.path}?per_page={per_page}&page={page + 1}>; rel="next", '
                    f'<{gh.base}{url.path}?per_page={per_page}&page=99>; rel="last"'
                )
            self._send(200, items, headers)

        def _body(self):
            return json.loads(self.rfile.read(int(self.headers["Content-Length"])))

        def do_POST(self):
            gh.requests.append(("POST", self.path))
            if not self._auth():
                return
            if self.path != f"/repos/{REPO}/issues/7/comments":
                return self._send(404, {"message": "Not Found"})
            self._send(201, gh.add(self._body()["body"]))

        def do_PATCH(self):
            gh.requests.append(("PATCH", self.path))
            if not self._auth():
                return
            cid = int(self.path.rsplit("/", 1)[1])
            for c in gh.comments:
                if c["id"] == cid:
                    c["body"] = self._body()["body"]
                    return self._send(200, c)
            self._send(404, {"message": "Not Found"})

    return Handler


@pytest.fixture
def github():
    gh = FakeGitHub(per_page_cap=3)
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(gh))
    gh.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield gh
    server.shutdown()
    server.server_close()


def post(gh, body, token=TOKEN, **kw):
    return upsert_comment(body, repo=REPO, pr_number=7, token=token, api_url=gh.base, **kw)


def test_creates_then_updates_one_comment_across_pages(github):
    for i in range(7):  # other people's comments fill more than two pages of three
        github.add(f"comment {i} mentioning llmctl")
    url1 = post(github, "## run 1")
    assert len(github.comments) == 8
    ours = github.comments[-1]
    assert ours["body"].startswith(MARKER) and "## run 1" in ours["body"]
    url2 = post(github, "## run 2")
    assert url2 == url1 == ours["html_url"]
    assert len(github.comments) == 8  # updated, not added
    assert "## run 2" in ours["body"] and "run 1" not in ours["body"]
    gets = [p for m, p in github.requests if m == "GET"]
    assert any("page=3" in p for p in gets)  # it followed the Link header to the last page
    assert [m for m, _ in github.requests if m != "GET"] == ["POST", "PATCH"]


def test_401_message_does_not_leak_the_token(github):
    with pytest.raises(GitHubError) as exc:
        post(github, "x", token="ghs_WRONG_" + TOKEN)
    text = exc.value.located()
    assert "401" in text and "Bad credentials" in text and "GITHUB_TOKEN" in text
    assert TOKEN not in text and "ghs_WRONG" not in text
    assert exc.value.exit_code == 3


def test_connection_error_is_clean(github):
    with pytest.raises(GitHubError) as exc:
        upsert_comment("x", repo=REPO, pr_number=7, token=TOKEN, api_url="http://127.0.0.1:9", timeout=2)
    assert TOKEN not in exc.value.located()


def test_long_bodies_are_truncated_with_a_note(github):
    body = "## big\n\n<details><summary>x</summary>\n\n```text\n" + ("line\n" * 40_000)
    post(github, body)
    stored = github.comments[-1]["body"]
    assert len(stored) <= MAX_COMMENT_CHARS
    assert "Report truncated" in stored and stored.startswith(MARKER)
    assert stored.count("```") % 2 == 0 and stored.count("</details>") == 1
    assert truncate_body("short") == "short"


def test_defaults_from_the_actions_environment(tmp_path, monkeypatch, github):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 7}}))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_API_URL", github.base)
    assert default_pr_number() == 7
    assert upsert_comment("hello").startswith("https://github.test/c/")
    monkeypatch.delenv("GITHUB_TOKEN")
    with pytest.raises(InputError, match="no GitHub token"):
        upsert_comment("hello")
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(tmp_path / "missing.json"))
    with pytest.raises(InputError, match="pull request number"):
        upsert_comment("hello", token=TOKEN)


class _Redirector(BaseHTTPRequestHandler):
    """Answers every request with `code` to `target` + path; records what it received."""

    code = 307
    target = ""
    seen: list[tuple[str, str | None]] = []

    def log_message(self, *args):
        pass

    def _redirect(self):
        type(self).seen.append((self.path, self.headers.get("Authorization")))
        self.send_response(self.code)
        self.send_header("Location", self.target + self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_PATCH = _redirect


def _serve(handler):
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.parametrize("code", [301, 302, 307, 308])
def test_a_redirect_to_another_host_is_refused_and_gets_no_token(github, code):
    other = FakeGitHub()
    other_server = _serve(make_handler(other))  # another origin (port) that would accept the token
    handler = type("R", (_Redirector,), {"code": code, "target": f"http://localhost:{other_server.server_address[1]}"})
    handler.seen = []
    front = _serve(handler)
    try:
        with pytest.raises(GitHubError) as err:
            upsert_comment(
                "hi", repo=REPO, pr_number=7, token=TOKEN, api_url=f"http://127.0.0.1:{front.server_address[1]}"
            )
    finally:
        front.shutdown()
        front.server_close()
        other_server.shutdown()
        other_server.server_close()
    assert other.requests == []  # never reached the other host, so the token never did
    assert handler.seen and all(auth == f"Bearer {TOKEN}" for _, auth in handler.seen)
    assert "another host" in str(err.value) and TOKEN not in str(err.value)


def test_a_redirect_within_the_api_host_keeps_the_token(github):
    # a repository renamed: the API answers 301 on its own origin, which is followed with the token
    base = make_handler(github)

    class Renamed(base):
        def do_GET(self):
            if self.path.startswith("/repos/acme/old-name/"):
                github.requests.append(("GET", self.path))
                self.send_response(301)
                self.send_header("Location", github.base + self.path.replace("/old-name/", "/prompts/"))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            super().do_GET()

    server = _serve(Renamed)
    github.base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        github.add(f"{MARKER}\nold")
        url = upsert_comment("new", repo="acme/old-name", pr_number=7, token=TOKEN, api_url=github.base)
    finally:
        server.shutdown()
        server.server_close()
    assert url.startswith("https://github.test/c/")
    assert github.requests[0][1].startswith("/repos/acme/old-name/")
    assert ("GET", f"/repos/{REPO}/issues/7/comments?per_page=100") in github.requests  # followed, authorised

"""Image inputs end to end, on both transports, against the local server (issue 15)."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import pytest

from llmctl.store import Store
from llmctl.testing.server import FakeOpenAIServer
from tests.e2e.project import config, init_repo, llmctl, write
from tests.test_images import png

RED, BLUE = png((255, 0, 0)), png((0, 0, 255))
URL = "https://img.example.test/cat.png"
LOOK = {
    "inputs": {"question": {"type": "string"}, "photo": {"type": "image", "default": None}},
    "messages": [
        {"role": "system", "content": "You describe photos."},
        {"role": "user", "content": "{{ question }}"},
    ],
}


def evalset(photo: str = "images/photo.png") -> str:
    """The evalset as text, so the test knows its lines: `photo` of case `file` is on line 6."""
    data_url = "data:image/png;base64," + base64.b64encode(BLUE).decode()
    return f"""\
prompt: look
models: [fake]
cases:
  - id: file
    vars:
      photo: {photo}
      question: What colour is it?
  - id: url
    vars: {{question: "Is it a cat?", photo: "{URL}"}}
  - id: data
    vars: {{question: "And this one?", photo: "{data_url}"}}
  - id: none
    vars: {{question: No photo here}}
"""


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_API_KEY", "sk-test-not-a-real-key")
    monkeypatch.delenv("LLMCTL_DB", raising=False)


@pytest.fixture(params=["native", "litellm"])
def transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("LLMCTL_TRANSPORT", request.param)
    return str(request.param)


class Recorder:
    """Keeps the messages of every chat request (the server's responder; it answers nothing itself)."""

    def __init__(self) -> None:
        self.requests: list[list[dict[str, Any]]] = []

    def __call__(self, messages: list[dict[str, Any]]) -> None:
        self.requests.append(messages)

    def by_question(self) -> dict[str, Any]:
        """The last user message's content of each request, by the question's text."""
        out = {}
        for messages in self.requests:
            content = messages[-1]["content"]
            text = content if isinstance(content, str) else content[0]["text"]
            out[text] = content
        return out


@pytest.fixture()
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture()
def server(recorder: Recorder):
    answers = {
        f"sha256:{hashlib.sha256(RED).hexdigest()}": "It is red.",
        f"sha256:{hashlib.sha256(BLUE).hexdigest()}": "It is blue.",
        URL: "A cat.",
    }
    with FakeOpenAIServer(responses=answers, default="I see no image.", responder=recorder) as srv:
        yield srv


def project(root: Path, server: FakeOpenAIServer, photo: str = "images/photo.png") -> None:
    write(
        root, {"llmctl.yaml": config(server.base_url), "prompts/look.yaml": LOOK, "evalsets/look.yaml": evalset(photo)}
    )
    (root / "evalsets" / "images").mkdir(parents=True, exist_ok=True)
    (root / "evalsets" / "images" / "photo.png").write_bytes(RED)


def outputs(root: Path) -> dict[str, str]:
    store = Store(root / ".llmctl" / "llmctl.duckdb")
    run = store.list_runs()[0].id
    return dict(store.query("SELECT case_id, output FROM results WHERE run_id = ?", [run]))


def test_an_image_input_arrives_at_the_server_as_a_content_part(
    tmp_path: Path, server: FakeOpenAIServer, recorder: Recorder, transport: str, capsys: pytest.CaptureFixture[str]
) -> None:
    project(tmp_path, server)
    code, out = llmctl(tmp_path, "eval", capsys=capsys)
    assert code == 0, out
    sent = recorder.by_question()
    text, image = sent["What colour is it?"]
    assert text == {"type": "text", "text": "What colour is it?"}
    assert image["type"] == "image_url"
    media, _, payload = image["image_url"]["url"].partition(",")
    assert media == "data:image/png;base64" and base64.b64decode(payload) == RED  # the file's bytes
    assert sent["Is it a cat?"][1] == {"type": "image_url", "image_url": {"url": URL}}
    assert base64.b64decode(sent["And this one?"][1]["image_url"]["url"].partition(",")[2]) == BLUE
    assert sent["No photo here"] == "No photo here"  # no image: plain text content
    assert outputs(tmp_path) == {
        "file": "It is red.",
        "url": "A cat.",
        "data": "It is blue.",
        "none": "I see no image.",
    }

    # The store, the reports and the viewer's API keep a placeholder, never the base64.
    red_b64, blue_b64 = base64.b64encode(RED).decode(), base64.b64encode(BLUE).decode()
    store = Store(tmp_path / ".llmctl" / "llmctl.duckdb")
    ((stored,),) = store.query("SELECT input FROM results WHERE case_id = 'file'")
    assert red_b64 not in stored
    assert f"[image image/png 69 B sha256:{hashlib.sha256(RED).hexdigest()}]" in stored
    code, out = llmctl(tmp_path, "report", "latest", "-o", "r.html", "-o", "r.json", "-o", "r.md", capsys=capsys)
    assert code == 0, out
    for name in ("r.html", "r.json", "r.md"):
        text = (tmp_path / name).read_text(encoding="utf-8")
        assert red_b64 not in text and blue_b64 not in text, name
    assert "sha256:" in (tmp_path / "r.html").read_text(encoding="utf-8")  # the data URL case's vars

    from starlette.testclient import TestClient

    from llmctl.viewer import create_app

    client = TestClient(create_app(store, tmp_path), base_url="http://127.0.0.1:8484")
    run_id = store.list_runs()[0].id
    for page in (f"/api/runs/{run_id}/results", f"/runs/{run_id}/cases/file", f"/runs/{run_id}/cases/data"):
        body = client.get(page).text
        assert red_b64 not in body and blue_b64 not in body, page
        assert "sha256:" in body, page


def test_a_changed_image_file_is_a_different_request(
    tmp_path: Path, server: FakeOpenAIServer, transport: str, capsys: pytest.CaptureFixture[str]
) -> None:
    project(tmp_path, server)
    code, out = llmctl(tmp_path, "eval", capsys=capsys)
    assert code == 0, out
    first = server.requests
    assert first == 4
    code, out = llmctl(tmp_path, "eval", capsys=capsys)
    assert code == 0 and server.requests == first, out  # every answer from the cache
    (tmp_path / "evalsets" / "images" / "photo.png").write_bytes(BLUE)  # same name, other bytes
    code, out = llmctl(tmp_path, "eval", capsys=capsys)
    assert code == 0, out
    assert server.requests == first + 1  # only the case whose image changed is called again
    assert outputs(tmp_path)["file"] == "It is blue."


@pytest.mark.parametrize(
    ("photo", "message"),
    [
        ("../../outside.png", "leads outside evalsets/"),
        ("images/link.png", "leads outside evalsets/"),
        ("images/missing.png", "image file not found"),
        ("images/notes.txt", "is not a PNG, JPEG, GIF or WebP file"),
        ("file:///etc/passwd", "unsupported URL"),
    ],
)
def test_an_image_that_cannot_be_sent_is_exit_2_at_file_line(
    tmp_path: Path,
    server: FakeOpenAIServer,
    transport: str,
    photo: str,
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project(tmp_path, server, photo=photo)
    (tmp_path / "outside.png").write_bytes(RED)
    (tmp_path / "evalsets" / "images" / "link.png").symlink_to(tmp_path / "outside.png")
    (tmp_path / "evalsets" / "images" / "notes.txt").write_text("not an image")
    code, out = llmctl(tmp_path, "eval", capsys=capsys)
    assert code == 2, out
    assert "error: evalsets/look.yaml:6: case 'file': image input 'photo': " in out
    assert message in out and "Traceback" not in out
    assert server.requests == 0  # refused before any call
    code, out = llmctl(tmp_path, "lint", capsys=capsys)
    assert code == 2 and "evalsets/look.yaml:6" in out and message in out, out


def test_changed_only_evaluates_an_evalset_whose_image_changed(
    tmp_path: Path, server: FakeOpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    project(tmp_path, server)
    init_repo(tmp_path)
    code, out = llmctl(tmp_path, "eval", "--baseline", "main", "--changed-only", capsys=capsys)
    assert code == 0 and "skipped look:" in out.lower(), out
    (tmp_path / "evalsets" / "images" / "photo.png").write_bytes(BLUE)
    code, out = llmctl(tmp_path, "eval", "--baseline", "main", "--changed-only", capsys=capsys)
    assert code == 0 and "skipped look:" not in out.lower(), out  # (a gate row may read 'skipped')
    assert "evalsets/images/photo.png changed" in out, out

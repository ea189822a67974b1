"""The viewer in-process: pages, JSON API, escaping, CSP, label writes, host and token checks."""

from __future__ import annotations

import json
import re

import pytest
from starlette.testclient import TestClient

from llmctl.viewer import CSP, create_app
from tests.labelled_project import read_jsonl


@pytest.fixture
def client(viewed):
    root, store, _first, _second = viewed
    app = create_app(store, root)
    return TestClient(app, base_url="http://127.0.0.1:8484"), app, viewed


def test_runs_page_and_api_list_the_runs(client) -> None:
    c, _app, (_root, _store, first, second) = client
    page = c.get("/")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == CSP
    assert f'data-run="{first}"' in page.text and f'data-run="{second}"' in page.text
    runs = c.get("/api/runs").json()
    assert [r["id"] for r in runs] == [second, first]
    assert runs[0]["n_results"] == 10 and runs[0]["evalset"] == "support"
    # filters
    assert c.get("/api/runs", params={"q": first[-6:]}).json()[0]["id"] == first
    assert c.get("/api/runs", params={"evalset": "nope"}).json() == []
    assert c.get("/api/runs", params={"status": "completed", "model": "demo"}).json()[0]["id"] == second


def test_run_matrix_shows_the_right_cells(client) -> None:
    c, _app, (_root, _store, _first, second) = client
    page = c.get(f"/runs/{second}").text
    cells = dict(re.findall(r'<tr data-case="(c\d)">.*?data-cell="(\w+)"', page, re.DOTALL))
    # the judge fails tickets 5-9; c3 lost "ok" in this run
    assert cells == {f"c{i}": ("pass" if i in (0, 1, 2, 4) else "fail") for i in range(10)}
    assert "<script>document.title" not in page  # escaped
    assert "&lt;script&gt;document.title" in page
    flipped = c.get(f"/runs/{second}", params={"filter": "failed"}).text
    assert set(re.findall(r'<tr data-case="(c\d)">', flipped)) == {"c3", "c5", "c6", "c7", "c8", "c9"}
    only = c.get(f"/runs/{second}", params={"filter": "flipped"}).text
    assert re.findall(r'<tr data-case="(c\d)">', only) == []  # no baseline run: nothing to flip against
    search = c.get(f"/runs/{second}", params={"q": "nope"}).text
    assert re.findall(r'<tr data-case="(c\d)">', search) == ["c3"]
    assert 'id="truncated"' not in page
    results = c.get(f"/api/runs/{second}/results").json()
    assert len(results) == 10 and {r["case_id"] for r in results if not r["passed"]} == {
        "c3",
        "c5",
        "c6",
        "c7",
        "c8",
        "c9",
    }
    assert c.get(f"/api/runs/{second}").json()["gate_passed"] is True


def test_case_compare_and_prompt_pages(client) -> None:
    c, _app, (_root, _store, first, second) = client
    case = c.get(f"/runs/{second}/cases/c3").text
    assert "nope" in case and "Is it a fine answer?" in case and "prompt_sha256" in case
    assert c.get(f"/api/runs/{second}/cases/c3").json()["results"][0]["output"] == "nope"
    comp = c.get(f"/api/compare/{first}/{second}").json()
    assert comp["pairs"][0]["case_id"] == "c3" and comp["pairs"][0]["change"] == "pass -> fail"
    assert 'data-change="pass -&gt; fail"' in c.get(f"/compare/{first}/{second}").text
    hist = c.get("/api/prompts/summarize").json()
    assert len(hist["versions"]) == 1 and hist["versions"][0]["n_results"] == 20
    assert "<svg" in c.get("/prompts/summarize").text
    missing = c.get("/runs/nope")
    assert missing.status_code == 404 and "no run matches" in missing.text


def test_a_review_writes_the_labels_file(client) -> None:
    c, app, (root, store, _first, second) = client
    form = {"token": app.token, "run_id": second, "case_id": "c3", "model": "demo", "repeat_index": "0",
            "label": "fail", "note": "lost the answer", "back": f"/runs/{second}"}  # fmt: skip
    resp = c.post("/api/labels", data=form, follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] == f"/runs/{second}"
    [row] = read_jsonl(root / "evalsets" / "labels" / "support.jsonl")
    assert (row["case_id"], row["label"], row["note"], row["by"]) == ("c3", "fail", "lost the answer", "rev")
    assert store.labels("support")[0]["output_sha256"] == row["output_sha256"]
    assert 'data-human="fail"' in c.get(f"/runs/{second}").text
    # JSON form
    resp = c.post("/api/labels", json={**form, "case_id": "c4", "label": "pass", "score": 0.9})
    assert resp.status_code == 200 and resp.json()["label"]["score"] == 0.9


def test_writes_need_the_token_and_everything_else_is_read_only(client) -> None:
    c, app, (root, _store, _first, second) = client
    form = {"run_id": second, "case_id": "c3", "model": "demo", "label": "pass"}
    assert c.post("/api/labels", data=form).status_code == 403
    assert c.post("/api/labels", data={**form, "token": app.token, "label": "maybe"}).status_code == 400
    assert c.post("/api/runs").status_code == 405
    assert not (root / "evalsets" / "labels" / "support.jsonl").exists()


def test_a_foreign_host_header_is_refused(client) -> None:
    _c, app, _ = client
    other = TestClient(app, base_url="http://evil.example")
    assert other.get("/api/runs").status_code == 421


def test_llmctl_view_serves_on_127_0_0_1(viewed) -> None:
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    root, _store, _first, second = viewed
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "llmctl.cli.main", "view", "--no-open", "--port", str(port)],
        cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        assert f"http://127.0.0.1:{port}/" in proc.stdout.readline()
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/runs", timeout=5) as resp:
                    runs = json.loads(resp.read())
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert runs[0]["id"] == second
        # bound to loopback only
        conns = [c for c in open("/proc/net/tcp").read().splitlines()[1:] if f":{port:04X} " in c.split()[1] + " "]
        assert conns and all(c.split()[1].startswith("0100007F:") for c in conns if c.split()[3] == "0A")
    finally:
        proc.terminate()
        proc.wait(10)


def test_a_big_matrix_is_cut_with_a_note(client, monkeypatch) -> None:
    from llmctl.viewer import _data

    c, _app, (_root, _store, _first, second) = client
    monkeypatch.setattr(_data, "MAX_MATRIX_ROWS", 3)
    page = c.get(f"/runs/{second}").text
    assert len(re.findall(r'<tr data-case="', page)) == 3
    assert "showing 3 of 10 cases" in page


def test_blind_pairwise_review_writes_a_preference(client) -> None:
    from llmctl.labels import LabelIndex, output_sha256

    c, app, (root, _store, first, second) = client
    page = c.get(f"/compare/{first}/{second}/review").text
    # only c3 differs between the runs; the page names neither run next to the outputs
    assert re.findall(r'<section class="pair" data-case="(c\d)">', page) == ["c3"]
    section = page.split('<section class="pair"', 1)[1]
    outputs = re.findall(r'<pre class="output">(.*?)</pre>', section, re.DOTALL)
    assert sorted(outputs) == ["answer ok", "nope"]
    assert "baseline" not in section.split("<form")[0]
    shas = re.findall(r'name="(first|second)" value="([0-9a-f]{64})"', section)
    form = {"token": app.token, "run_a": first, "run_b": second, "case_id": "c3", "model": "demo",
            **dict(shas), "choice": "1" if outputs[0] == "answer ok" else "2"}  # fmt: skip
    resp = c.post("/api/preferences", data=form, follow_redirects=False)
    assert resp.status_code == 303
    [row] = read_jsonl(root / "evalsets" / "labels" / "support.preferences.jsonl")
    assert row["preferred_sha256"] == output_sha256("answer ok") and row["other_sha256"] == output_sha256("nope")
    assert row["tie"] is False and row["by"] == "rev"
    # the preference file is not a labels file
    assert len(LabelIndex.from_folder(root)) == 0
    # a pair the runs do not have is refused
    bad = {**form, "first": "0" * 64}
    assert c.post("/api/preferences", data=bad).status_code == 404
    assert c.post("/api/preferences", data={**form, "token": "x"}).status_code == 403


RUN_LIST_KEYS = [
    "id", "started_at", "finished_at", "status", "evalset", "git_commit", "git_branch", "role", "baseline_run_id",
    "prompts", "models", "n_results", "n_passed", "n_errors", "pass_rate", "cost_usd", "gate_passed",
]  # fmt: skip
RUN_KEYS = [
    "id", "started_at", "finished_at", "status", "evalset", "git_commit", "git_branch", "baseline_run_id", "config",
    "n_results", "n_passed", "n_errors", "pass_rate", "cost_usd", "prompts", "models", "summary", "gate_passed",
    "verdict",
]  # fmt: skip


def test_the_run_api_keeps_its_keys_in_order_with_the_stored_runs_values(client) -> None:
    """/api/runs and /api/runs/<id>: the same keys in the same order, each value the stored run's
    (`RunRecord.to_dict()`, times as ISO text)."""
    c, _app, (_root, store, _first, second) = client
    listed = c.get("/api/runs").json()[0]
    one = c.get(f"/api/runs/{second}").json()
    assert list(listed) == RUN_LIST_KEYS and list(one) == RUN_KEYS
    stored = json.loads(json.dumps(store.get_run(second).to_dict(), default=lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")))
    for doc in (listed, one):
        assert {k: doc[k] for k in stored if k in doc} == {k: stored[k] for k in doc if k in stored}
    assert listed["role"] == "candidate" and listed["gate_passed"] is one["gate_passed"] is True
    assert one["summary"] == stored["summary"] and one["verdict"]["metrics"] is not None

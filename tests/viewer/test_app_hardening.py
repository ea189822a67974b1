"""The viewer under attack and at scale (issue 22): paged and streamed compare and results,
queries off the event loop, Host allow-list, bad form fields, label races, odd case ids."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from llmctl.store import ResultRow, Store
from llmctl.viewer import _data, create_app
from llmctl.viewer._app import allowed_hosts_for
from tests.labelled_project import read_jsonl


@pytest.fixture
def client(viewed):
    root, store, _first, _second = viewed
    app = create_app(store, root)
    return TestClient(app, base_url="http://127.0.0.1:8484"), app, viewed


def test_the_compare_page_is_paged(client, monkeypatch) -> None:
    c, _app, (_root, _store, first, second) = client
    monkeypatch.setattr(_data, "PAGE_SIZE", 4)
    one = c.get(f"/compare/{first}/{second}").text
    assert len(re.findall(r"<tr data-change=", one)) == 4
    assert "page 1 of 3" in one and 'rel="next"' in one
    assert re.findall(r'<tr data-change="([^"]+)"', one)[0] == "pass -&gt; fail"  # flips first, on page 1
    last = c.get(f"/compare/{first}/{second}", params={"page": "last"}).text
    assert len(re.findall(r"<tr data-change=", last)) == 2 and "page 3 of 3" in last
    changed = c.get(f"/compare/{first}/{second}", params={"filter": "changed"}).text
    assert re.findall(r'<tr data-change="([^"]+)"', changed) == ["pass -&gt; fail"]
    for odd in ("abc", "1e3", "Infinity", "-1", "99999999999"):
        assert c.get(f"/compare/{first}/{second}", params={"page": odd}).status_code == 200


def test_the_compare_api_pages_and_streams(client) -> None:
    c, _app, (_root, _store, first, second) = client
    whole = c.get(f"/api/compare/{first}/{second}", params={"limit": "all"})
    assert whole.status_code == 200 and whole.headers["content-type"].startswith("application/json")
    doc = whole.json()
    assert doc["total"] == 10 and len(doc["pairs"]) == 10 and doc["counts"] == {"pass -> fail": 1, "same": 9}
    page = c.get(f"/api/compare/{first}/{second}", params={"limit": 3, "offset": 3})
    assert page.headers["x-total-count"] == "10"
    assert "offset=6" in page.headers["link"] and 'rel="next"' in page.headers["link"]
    assert [p["case_id"] for p in page.json()["pairs"]] == [p["case_id"] for p in doc["pairs"][3:6]]
    for bad in ({"limit": "abc"}, {"offset": "1e3"}, {"limit": "Infinity"}, {"filter": "x"}):
        resp = c.get(f"/api/compare/{first}/{second}", params=bad)
        assert resp.status_code == 400, bad
    assert c.get(f"/api/compare/{first}/nope").status_code == 404
    assert c.get(f"/api/compare/{first}/nope", params={"limit": "all"}).status_code == 404


def test_the_results_api_pages_and_streams(client) -> None:
    c, _app, (_root, _store, _first, second) = client
    every = c.get(f"/api/runs/{second}/results", params={"limit": "all"}).json()
    assert [r["case_id"] for r in every] == sorted(f"c{i}" for i in range(10))
    part = c.get(f"/api/runs/{second}/results", params={"limit": 4, "offset": 8})
    assert [r["case_id"] for r in part.json()] == [r["case_id"] for r in every[8:]]
    assert part.headers["x-total-count"] == "10" and "link" not in part.headers
    first_page = c.get(f"/api/runs/{second}/results", params={"limit": 4})
    assert "offset=4" in first_page.headers["link"]
    assert c.get(f"/api/runs/{second}/results", params={"limit": "-1"}).status_code == 400


def test_the_run_page_is_paged_in_the_store(client, monkeypatch) -> None:
    c, _app, (_root, _store, _first, second) = client
    monkeypatch.setattr(_data, "MAX_MATRIX_ROWS", 4)
    two = c.get(f"/runs/{second}", params={"page": 2}).text
    assert re.findall(r'<tr data-case="(c\d)">', two) == ["c4", "c5", "c6", "c7"]
    assert "page 2 of 3" in two and "showing 4 of 10 cases" in two
    failed = c.get(f"/runs/{second}", params={"filter": "failed", "page": 2}).text
    assert re.findall(r'<tr data-case="(c\d)">', failed) == ["c8", "c9"] and "page 2 of 2" in failed
    for beyond in ("last", "99", "abc"):
        text = c.get(f"/runs/{second}", params={"page": beyond}).text
        expected = ["c0", "c1", "c2", "c3"] if beyond == "abc" else ["c8", "c9"]
        assert re.findall(r'<tr data-case="(c\d)">', text) == expected, beyond


def test_a_slow_page_does_not_block_other_requests(viewed, monkeypatch) -> None:
    import httpx

    root, store, first, second = viewed
    real = _data.compare

    def slow(*args, **kwargs):
        time.sleep(1.5)
        return real(*args, **kwargs)

    monkeypatch.setattr(_data, "compare", slow)
    app = create_app(store, root)

    async def both() -> tuple[float, int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as ac:
            big = asyncio.create_task(ac.get(f"/api/compare/{first}/{second}"))
            await asyncio.sleep(0.1)
            start = time.perf_counter()
            tiny = await ac.get("/static/viewer.css")
            took = time.perf_counter() - start
            assert (await big).status_code == 200
            return took, tiny.status_code

    took, status = asyncio.run(both())
    assert status == 200 and took < 1.0, took


@pytest.mark.parametrize("odd", ["abc", "1e3", "Infinity", "NaN", "-1", "٣"])
def test_a_bad_repeat_index_is_400(client, odd: str) -> None:
    c, app, (root, _store, _first, second) = client
    form = {"token": app.token, "run_id": second, "case_id": "c3", "model": "demo", "repeat_index": odd,
            "label": "fail"}  # fmt: skip
    resp = c.post("/api/labels", data=form, follow_redirects=False)
    assert resp.status_code == 400 and "repeat_index" in resp.text
    assert not (root / "evalsets" / "labels" / "support.jsonl").exists()


def test_a_label_changed_in_another_tab_is_a_conflict(client) -> None:
    c, app, (root, _store, _first, second) = client
    page = c.get(f"/runs/{second}/cases/c3").text
    seen = re.search(r'name="seen" value="([^"]*)"', page).group(1)
    assert seen == ""  # no label yet
    form = {"token": app.token, "run_id": second, "case_id": "c3", "model": "demo", "repeat_index": "0",
            "seen": seen, "back": f"/runs/{second}"}  # fmt: skip
    assert c.post("/api/labels", data={**form, "label": "fail"}, follow_redirects=False).status_code == 303
    # the second tab still shows "no label": its write is refused, the first tab's label kept
    resp = c.post("/api/labels", data={**form, "label": "pass"}, follow_redirects=False)
    assert resp.status_code == 409 and "reload" in resp.text
    [row] = read_jsonl(root / "evalsets" / "labels" / "support.jsonl")
    assert row["label"] == "fail"
    # after a reload it shows the label, and the write goes through
    seen = re.search(r'name="seen" value="([^"]*)"', c.get(f"/runs/{second}/cases/c3").text).group(1)
    assert seen.startswith("fail rev ")
    assert (
        c.post("/api/labels", data={**form, "seen": seen, "label": "pass"}, follow_redirects=False).status_code == 303
    )
    assert read_jsonl(root / "evalsets" / "labels" / "support.jsonl")[0]["label"] == "pass"


def test_a_bad_committed_labels_file_is_a_400_on_write_not_a_500(client) -> None:
    c, app, (root, _store, _first, second) = client
    folder = root / "evalsets" / "labels"
    folder.mkdir(parents=True)
    (folder / "support.jsonl").write_bytes(b"[" * 100_000 + b"]" * 100_000 + b"\n")
    assert c.get(f"/runs/{second}").status_code == 200
    form = {"token": app.token, "run_id": second, "case_id": "c3", "model": "demo", "label": "fail"}
    resp = c.post("/api/labels", data=form, follow_redirects=False)
    assert resp.status_code == 400 and "support.jsonl:1" in resp.text and "nested too deeply" in resp.text


def test_a_case_id_with_a_newline_opens(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.duckdb")
    rid = store.create_run(evalset="odd", config={}, git_commit=None, git_branch=None)
    with store.writer(rid) as w:
        w.add(ResultRow(result_key="k", prompt="p", version_hash="sha256:ab", case_id="two\nlines", model="m",
                        repeat_index=0, input=[], output="hi", passed=True), [])  # fmt: skip
    store.finish_run(rid, "completed", {})
    c = TestClient(create_app(store, tmp_path), base_url="http://127.0.0.1")
    run_page = c.get(f"/runs/{rid}").text
    href = re.search(r'href="(/runs/[^"]+/cases/[^"]+)"', run_page).group(1)
    assert "%0A" in href
    assert c.get(href).status_code == 200
    assert c.get(f"/api/runs/{rid}/cases/two%0Alines").json()["case_id"] == "two\nlines"


def test_only_allowed_host_names_are_answered(viewed) -> None:
    root, store, _first, _second = viewed
    hosts = allowed_hosts_for("0.0.0.0", ("viewer.internal",))
    assert "0.0.0.0" not in hosts and {"localhost", "127.0.0.1", "::1", "viewer.internal"} <= set(hosts)
    assert "10.1.2.3" in allowed_hosts_for("10.1.2.3")
    app = create_app(store, root, allowed_hosts=hosts)
    for base, status in (("http://viewer.internal:8484", 200), ("http://VIEWER.internal.:8484", 200),
                         ("http://localhost:8484", 200), ("http://[::1]:8484", 200),
                         ("http://evil.example:8484", 421), ("http://10.9.9.9:8484", 421),
                         ("http://viewer.internal.evil.example", 421)):  # fmt: skip
        assert TestClient(app, base_url=base).get("/api/runs").status_code == status, base
    # a POST with a foreign Host is refused before the token is even looked at
    resp = TestClient(app, base_url="http://evil.example").post("/api/labels", data={"token": app.token})
    assert resp.status_code == 421


def test_llmctl_view_on_all_addresses_answers_only_allowed_hosts(viewed) -> None:
    import os
    import socket
    import subprocess
    import sys
    import urllib.request

    root, _store, _first, _second = viewed
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "llmctl.cli.main", "view", "--no-open", "--port", str(port), "--host", "0.0.0.0",
         "--allow-host", "viewer.internal"],
        cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ},
    )  # fmt: skip

    def get(host: str) -> int:
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/runs", headers={"Host": host})
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return resp.status
        except urllib.error.HTTPError as exc:
            return exc.code

    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status = get(f"localhost:{port}")
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert status == 200
        assert get(f"viewer.internal:{port}") == 200
        assert get(f"rebind.attacker.example:{port}") == 421
    finally:
        proc.terminate()
        proc.wait(10)


def test_the_blind_review_page_is_bounded(client, monkeypatch) -> None:
    c, _app, (_root, _store, first, second) = client
    monkeypatch.setattr(_data, "MAX_BLIND_PAIRS", 0)
    assert re.findall(r'<section class="pair"', c.get(f"/compare/{first}/{second}/review").text) == []


def test_json_api_results_keep_their_shape(client) -> None:
    c, _app, (_root, _store, _first, second) = client
    rows = c.get(f"/api/runs/{second}/results").json()
    assert isinstance(rows, list) and {"case_id", "output", "scores", "output_sha256"} <= set(rows[0])
    json.dumps(rows)

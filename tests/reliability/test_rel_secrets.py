"""API keys never reach the store, reports, exports, logs, error messages or the terminal."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from llmctl.testing.server import FakeOpenAIServer
from tests.e2e.project import llmctl
from tests.reliability.helpers import make_project, store

OUTPUTS = ("report.md", "report.xml", "report.json", "report.html", "results.jsonl", "results.csv")
EXPORTS = ("json", "jsonl", "csv", "parquet")


def _artifacts_text(root: Path) -> dict[str, bytes]:
    """Every file under the project except its inputs (store, WAL, reports, exports)."""
    skip = {"llmctl.yaml", "prompts", "evalsets"}
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and p.relative_to(root).parts[0] not in skip
    }


def _everything(root: Path, capsys: pytest.CaptureFixture[str], expect: int) -> str:
    """Run an eval with every --output, then every read command; returns all terminal output."""
    out_args = [a for name in OUTPUTS for a in ("--output", f"out/{name}")]
    code, text = llmctl(root, "eval", "--no-cache", *out_args, capsys=capsys)
    assert code == expect, text
    run_id = store(root).list_runs()[0].id
    for argv in (
        ("runs", "list"),
        ("runs", "list", "--json"),
        ("runs", "show", run_id),
        ("runs", "show", run_id, "--json"),
        *(("runs", "export", run_id, "--format", f, "--output", f"export/run.{f}") for f in EXPORTS),
        ("report", run_id, "--output", "out/again.html", "--output", "out/again.md"),
        ("eval", "--resume", run_id),
    ):
        code, more = llmctl(root, *argv, capsys=capsys)
        assert code in (0, 3), (argv, more)
        text += more
    for f in EXPORTS:
        assert (root / "export" / f"run.{f}").stat().st_size > 0
    return text


@pytest.mark.parametrize(
    ("env_name", "canary", "transport"),
    [
        ("FAKE_API_KEY", "sk-canary-5f2c9d0e7a1b4c3d", "native"),
        # no sk- prefix and an env name that no pattern recognises: only the alias's api_key_env tells
        ("LLM_CREDENTIAL", "canary8c1e55d0b9f24aa7", "native"),
        pytest.param("LLM_CREDENTIAL", "canary8c1e55d0b9f24aa7", "litellm", marks=pytest.mark.slow),
    ],
)
def test_canary_key_never_leaks(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    env_name: str,
    canary: str,
    transport: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("LLMCTL_TRANSPORT", transport)
    monkeypatch.setenv(env_name, canary)
    # 1. the server rejects the key and quotes it back in its 401 body, as OpenAI does
    bad = tmp_path / "rejected"
    with FakeOpenAIServer(responses={"question": "yes"}, require_key="sk-the-right-key-000000") as srv:
        make_project(bad, srv.base_url, 5)
        cfg = (bad / "llmctl.yaml").read_text().replace("api_key_env: FAKE_API_KEY", f"api_key_env: {env_name}")
        (bad / "llmctl.yaml").write_text(cfg)
        text = _everything(bad, capsys, expect=3)
        assert srv.statuses.get("401", 0) >= 5
    rows = store(bad).outcomes(store(bad).list_runs()[0].id)
    # the 401 body quoted the key back; what was stored has it replaced
    assert all("Incorrect API key provided: ***" in (o.error or "") for o in rows), rows[0].error
    # 2. a successful run with that key
    good = tmp_path / "accepted"
    with FakeOpenAIServer(responses={"question": "yes"}, require_key=canary) as srv:
        make_project(good, srv.base_url, 5)
        cfg = (good / "llmctl.yaml").read_text().replace("api_key_env: FAKE_API_KEY", f"api_key_env: {env_name}")
        (good / "llmctl.yaml").write_text(cfg)
        text += _everything(good, capsys, expect=0)
        assert srv.statuses.get("200", 0) == 5
    assert canary not in text
    assert canary not in caplog.text
    for root in (bad, good):
        files = _artifacts_text(root)
        assert any(name.endswith(".duckdb") for name in files)
        assert len(files) >= len(OUTPUTS) + len(EXPORTS) + 1
        for name, data in files.items():
            assert canary.encode() not in data, f"{name} contains the API key"


@pytest.mark.parametrize("transport", ["native", pytest.param("litellm", marks=pytest.mark.slow)])
def test_a_key_in_other_forms_never_leaks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, transport: str
) -> None:
    """A pasted key (trailing newline) is sent trimmed; the server reflects it in successful
    completions as is, trimmed, URL-encoded and JSON-escaped: none of it is stored or printed."""
    import json
    from urllib.parse import quote, quote_plus

    monkeypatch.setenv("LLMCTL_TRANSPORT", transport)
    key = "canary+Key/7d1e0c9b55aa=="
    monkeypatch.setenv("LLM_CREDENTIAL", key + "\n")
    forms = [key, quote(key, safe=""), quote_plus(key), json.dumps(key + "\n")[1:-1]]
    answer = "yes, your key: " + " | ".join(forms)
    with FakeOpenAIServer(responses={"question": answer}, require_key=key) as srv:  # 401 unless sent trimmed
        make_project(tmp_path, srv.base_url, 5)
        cfg = (tmp_path / "llmctl.yaml").read_text().replace("api_key_env: FAKE_API_KEY", "api_key_env: LLM_CREDENTIAL")
        (tmp_path / "llmctl.yaml").write_text(cfg)
        text = _everything(tmp_path, capsys, expect=0)
        assert srv.statuses.get("200", 0) == 5 and "401" not in srv.statuses
    outputs = [o.output for o in store(tmp_path).outcomes(store(tmp_path).list_runs()[0].id)]
    assert outputs and all(o and o.startswith("yes, your key: ***") for o in outputs), outputs[:1]
    for form in forms:
        assert form not in text
        for name, data in _artifacts_text(tmp_path).items():
            assert form.encode() not in data, f"{name} contains the key as {form!r}"


def test_a_key_with_a_control_character_inside_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_API_KEY", "sk-first-half\r\nX-Injected: 1")
    with FakeOpenAIServer(responses={"question": "yes"}) as srv:
        make_project(tmp_path, srv.base_url, 3)
        code, out = llmctl(tmp_path, "eval", "--no-cache", capsys=capsys)
        assert srv.requests == 0
    assert code == 2, out
    assert "the key in $FAKE_API_KEY contains a control character" in out
    assert "first-half" not in out and "Traceback" not in out


@pytest.mark.parametrize("transport", ["native", pytest.param("litellm", marks=pytest.mark.slow)])
def test_a_header_value_is_a_secret_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, transport: str
) -> None:
    """`headers: {X-Api-Key: ...}` on an alias: a server that echoes it puts it in no store row,
    report, export or terminal line (issue 22). A harmless header (`X-Team`) is left alone."""
    monkeypatch.setenv("LLMCTL_TRANSPORT", transport)
    value = "hdr7c0ffee5ecret42"
    with FakeOpenAIServer(responses={"question": f"yes, you sent {value} from team searchers"}) as srv:
        make_project(tmp_path, srv.base_url, 5)
        cfg = (
            (tmp_path / "llmctl.yaml")
            .read_text()
            .replace(
                "api_key_env: FAKE_API_KEY",
                f"api_key_env: FAKE_API_KEY\n    headers: {{X-Api-Key: {value}, X-Team: searchers}}",
            )
        )
        (tmp_path / "llmctl.yaml").write_text(cfg)
        text = _everything(tmp_path, capsys, expect=0)
        assert srv.statuses.get("200", 0) == 5
    outputs = [o.output for o in store(tmp_path).outcomes(store(tmp_path).list_runs()[0].id)]
    assert outputs and all(o == "yes, you sent *** from team searchers" for o in outputs), outputs[:1]
    assert value not in text
    for name, data in _artifacts_text(tmp_path).items():
        assert value.encode() not in data, f"{name} contains the header's value"

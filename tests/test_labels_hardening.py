"""Labels under attack and under load (issue 22): concurrent writers, identity of tool-call
outputs, bad input files, paths outside the project, the file's mode, `at` and `by`."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
import threading
from pathlib import Path

import pytest

from llmctl.errors import InputError
from llmctl.labels import (
    LabelConflict,
    LabelIndex,
    add_labels,
    import_labels,
    labels_path,
    make_label,
    output_sha256,
    read_labels,
)
from llmctl.store import ResultRow, Store
from tests.cli.clirun import run as cli
from tests.gitrepo import git_env
from tests.labelled_project import evaluate, make, read_jsonl

N_WRITERS = 6
PER_WRITER = 10  # 60 labels in all


def _write_some(root: str, writer: int) -> None:
    for i in range(PER_WRITER):
        lb = make_label(f"w{writer}-c{i}", "demo", f"output {writer} {i}", "pass", by=f"w{writer}")
        add_labels(Path(root), "support", [lb])


def test_concurrent_threads_keep_every_label(tmp_path: Path) -> None:
    threads = [threading.Thread(target=_write_some, args=(str(tmp_path), w)) for w in range(N_WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    labels = read_labels(labels_path(tmp_path, "support"))
    assert len(labels) == N_WRITERS * PER_WRITER


def test_concurrent_processes_keep_every_label(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_write_some, args=(str(tmp_path), w)) for w in range(N_WRITERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    labels = read_labels(labels_path(tmp_path, "support"))
    assert len(labels) == N_WRITERS * PER_WRITER
    assert not [p for p in labels_path(tmp_path, "support").parent.iterdir() if p.name.endswith(".tmp")]


def test_a_writer_that_lost_a_race_is_told(tmp_path: Path) -> None:
    first = make_label("c1", "demo", "x", "pass", by="alice")
    add_labels(tmp_path, "support", [first])
    # bob's page showed alice's label; carol changed it meanwhile
    add_labels(
        tmp_path, "support", [make_label("c1", "demo", "x", "fail", by="carol")], expect={first.key: first.stamp}
    )
    with pytest.raises(LabelConflict, match="changed since it was shown"):
        add_labels(
            tmp_path, "support", [make_label("c1", "demo", "x", "pass", by="bob")], expect={first.key: first.stamp}
        )
    [kept] = read_labels(labels_path(tmp_path, "support"))
    assert kept.by == "carol"


def test_a_locked_labels_folder_times_out_with_a_message(tmp_path: Path) -> None:
    import fcntl

    from llmctl.errors import InfraError

    folder = labels_path(tmp_path, "support").parent
    folder.mkdir(parents=True)
    fd = os.open(folder, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        with pytest.raises(InfraError, match="nothing was written"):
            add_labels(tmp_path, "support", [make_label("c1", "demo", "x", "pass")], timeout=0.2)
    finally:
        os.close(fd)
    assert not labels_path(tmp_path, "support").exists()


def test_tool_call_outputs_are_told_apart_and_text_keeps_its_hash() -> None:
    import hashlib

    assert output_sha256("héllo") == hashlib.sha256("héllo".encode()).hexdigest()  # existing labels stay valid
    assert output_sha256("héllo", [], None) == output_sha256("héllo")
    paris = [
        {"id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}, "raw_arguments": '{"city":"Paris"}'}
    ]
    lower = [
        {"id": "call_1", "name": "get_weather", "arguments": {"city": "paris"}, "raw_arguments": '{"city":"paris"}'}
    ]
    assert output_sha256("", paris) != output_sha256("", lower)
    assert output_sha256("", paris) != output_sha256("")
    # the provider's call id is not part of what the model said; JSON text equals the list
    assert output_sha256("", [{**paris[0], "id": "call_9"}]) == output_sha256("", json.dumps(paris))
    # canonical JSON of {content, tool_calls, turns}
    canon = json.dumps(
        {"content": "", "tool_calls": [{"arguments": {"city": "Paris"}, "name": "get_weather"}], "turns": None},
        sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    )  # fmt: skip
    assert output_sha256("", paris) == hashlib.sha256(canon.encode()).hexdigest()
    # turns: what was said counts, not the latency
    t1 = [{"user_turn": 0, "output": "a", "tool_calls": None, "latency_ms": 5}]
    t2 = [{"user_turn": 0, "output": "a", "tool_calls": None, "latency_ms": 9}]
    assert output_sha256("a", None, t1) == output_sha256("a", None, t2) != output_sha256("a")
    index = LabelIndex([make_label("c1", "demo", "", "fail", tool_calls=lower)])
    assert index.get("c1", "demo", "", paris) is None
    assert index.get("c1", "demo", "", lower).label == "fail"


def test_deep_tool_call_arguments_still_hash() -> None:
    deep: object = 1
    for _ in range(5000):
        deep = [deep]
    call = [{"name": "f", "arguments": deep, "raw_arguments": "[" * 5000 + "1" + "]" * 5000}]
    assert len(output_sha256("", call)) == 64


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (
            b'{"case_id": "a", "model": "m", "output_sha256": "' + b"0" * 64 + b'", "label": "pass", "note": "\xff"}\n',
            "not UTF-8",
        ),
        (b"[" * 100_000 + b"]" * 100_000 + b"\n", "nested too deeply"),
    ],
    ids=["invalid-utf8", "deep-nesting"],
)
def test_a_bad_labels_file_is_an_input_error_at_its_line(tmp_path: Path, content: bytes, needle: str) -> None:
    good = json.dumps({"case_id": "a", "model": "m", "output_sha256": "0" * 64, "label": "pass"}).encode()
    path = tmp_path / "l.jsonl"
    path.write_bytes(good + b"\n" + content)
    with pytest.raises(InputError) as err:
        read_labels(path)
    assert err.value.line == 2 and needle in err.value.message


@pytest.mark.parametrize(
    ("at", "by", "needle"),
    [("yesterday", "bob", "ISO-8601"), ("2026-01-01T00:00:00Z", "bob\x1b[31m", "printable"),
     ("2026-01-01T00:00:00Z", "x" * 201, "printable"), ("2026-01-01T00:00:00Z", "a\nb", "printable")],
)  # fmt: skip
def test_at_and_by_are_validated(tmp_path: Path, at: str, by: str, needle: str) -> None:
    line = {"case_id": "a", "model": "m", "output_sha256": "0" * 64, "label": "pass", "by": by, "at": at}
    path = tmp_path / "l.jsonl"
    path.write_text(json.dumps(line) + "\n")
    with pytest.raises(InputError, match=needle):
        read_labels(path)
    ok = {**line, "by": "Zoë O'Brien", "at": "2026-01-01T10:00:00+02:00"}
    path.write_text(json.dumps(ok) + "\n")
    assert read_labels(path)[0].by == "Zoë O'Brien"


def test_a_labels_folder_linked_outside_the_project_is_not_written(tmp_path: Path) -> None:
    root, elsewhere = tmp_path / "proj", tmp_path / "elsewhere"
    (root / "evalsets").mkdir(parents=True)
    elsewhere.mkdir()
    (root / "evalsets" / "labels").symlink_to(elsewhere)
    with pytest.raises(InputError, match="outside the project"):
        add_labels(root, "support", [make_label("c1", "demo", "x", "pass")])
    assert list(elsewhere.iterdir()) == []


def test_a_write_keeps_the_files_mode(tmp_path: Path) -> None:
    path = add_labels(tmp_path, "support", [make_label("c1", "demo", "x", "pass")])
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~_umask()
    path.chmod(0o640)
    add_labels(tmp_path, "support", [make_label("c2", "demo", "y", "pass")])
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def _umask() -> int:
    old = os.umask(0)
    os.umask(old)
    return old


# -- labels import: bad files are exit 2 with file:line, a BOM is fine ------------------------------


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    git_env(monkeypatch)
    monkeypatch.delenv("LLMCTL_DB", raising=False)
    monkeypatch.setenv("LLMCTL_REVIEWER", "alice")
    root = tmp_path / "proj"
    make(root)
    monkeypatch.chdir(root)
    evaluate(root)
    return root


@pytest.mark.parametrize(
    ("name", "content", "where", "needle"),
    [
        ("bad.csv", b"case_id,label,note\nc1,pass,ok\nc2,fail,\xff\xfe\n", "bad.csv:3:", "not UTF-8"),
        ("big.csv", b"case_id,label,note\nc1,pass,ok\nc2,fail," + b"x" * 140_000 + b"\n", "big.csv:3:", "131,072"),
        ("bad.jsonl", b'{"case_id": "c1", "label": "pass"}\n{"case_id": "c2", "note": "\xff"}\n', "bad.jsonl:2:", "not UTF-8"),
        ("deep.jsonl", b'{"case_id": "c1", "label": "pass"}\n' + b"[" * 100_000 + b"]" * 100_000 + b"\n", "deep.jsonl:2:", "nested too deeply"),
    ],
    ids=["csv-invalid-utf8", "csv-field-too-big", "jsonl-invalid-utf8", "jsonl-deep"],
)  # fmt: skip
def test_labels_import_of_a_bad_file_is_exit_2_at_its_line(
    project: Path, capsys, monkeypatch, name: str, content: bytes, where: str, needle: str
) -> None:
    (project / name).write_bytes(content)
    code, _out, err = cli(["labels", "import", name], capsys, monkeypatch)
    assert code == 2, err
    assert where in err and needle in err and "Traceback" not in err
    assert not (project / "evalsets" / "labels" / "support.jsonl").exists()


def test_labels_import_accepts_a_csv_with_a_bom(project: Path, capsys, monkeypatch) -> None:
    (project / "bom.csv").write_bytes("\ufeffcase_id,label\nc1,pass\n".encode())
    code, out, err = cli(["labels", "import", "bom.csv"], capsys, monkeypatch)
    assert code == 0, err
    assert "imported 1 label(s)" in out


def test_a_committed_bad_labels_file_is_exit_2_for_eval_and_calibrate(project: Path, capsys, monkeypatch) -> None:
    folder = project / "evalsets" / "labels"
    folder.mkdir(parents=True)
    (folder / "support.jsonl").write_bytes(b"[" * 100_000 + b"]" * 100_000 + b"\n")
    code, _out, err = cli(["judge", "calibrate"], capsys, monkeypatch)
    assert code == 2 and "support.jsonl:1:" in err and "nested too deeply" in err, err
    (project / "evalsets" / "human.yaml").write_text(
        "prompt: summarize\nmodels: [demo]\nevaluators: [{type: human}]\ncases:\n  - id: c1\n    vars: {ticket: '1'}\n"
    )
    code, _out, err = cli(["eval", "human"], capsys, monkeypatch)
    assert code == 2 and "support.jsonl:1:" in err, err


def test_labels_import_binds_tool_call_outputs_by_their_calls(project: Path) -> None:
    store = Store(project / ".llmctl" / "llmctl.duckdb")
    rid = store.create_run(evalset="tools", config={}, git_commit=None, git_branch=None)
    calls = {c: [{"id": "x", "name": "get_weather", "arguments": {"city": c}, "raw_arguments": json.dumps({"city": c})}]
             for c in ("Paris", "paris")}  # fmt: skip
    with store.writer(rid) as w:
        for case, city in (("right", "Paris"), ("wrong", "paris")):
            w.add(ResultRow(result_key=case, prompt="p", version_hash="sha256:ab", case_id=case, model="m",
                            repeat_index=0, input=[], output="", tool_calls=calls[city], passed=True), [])  # fmt: skip
    store.finish_run(rid, "completed", {})
    (project / "l.csv").write_text("case_id,label\nright,pass\nwrong,fail\n")
    import_labels(project / "l.csv", store, project, run_ref=rid)
    rows = {r["case_id"]: r for r in read_jsonl(project / "evalsets" / "labels" / "tools.jsonl")}
    assert rows["right"]["output_sha256"] == output_sha256("", calls["Paris"])
    assert rows["wrong"]["output_sha256"] == output_sha256("", calls["paris"]) != rows["right"]["output_sha256"]


# -- paths outside the project and lint ---------------------------------------------------------


@pytest.mark.parametrize(
    ("evaluator", "needle"),
    [
        ("{type: human, labels: /etc/passwd}", "labels file '/etc/passwd' must be a path inside the project"),
        ("{type: human, labels: ../../outside.jsonl}", "leads outside the project"),
        ("{type: judge, rubric: r, prompt: /etc/passwd}", "must be a path inside the project"),
        ("{type: judge, rubric: r, prompt: ../../outside.yaml}", "must be a path inside the project"),
    ],
    ids=["human-absolute", "human-dotdot", "judge-absolute", "judge-dotdot"],
)
def test_evaluator_paths_stay_inside_the_project(
    project: Path, capsys, monkeypatch, evaluator: str, needle: str
) -> None:
    (project.parent / "outside.jsonl").write_text("")
    (project.parent / "outside.yaml").write_text("messages: [{role: user, content: hi}]\n")
    (project / "evalsets" / "paths.yaml").write_text(
        f"prompt: summarize\nmodels: [demo]\nevaluators: [{evaluator}]\ncases:\n  - id: c1\n    vars: {{ticket: '1'}}\n"
    )
    code, out, err = cli(["lint"], capsys, monkeypatch)
    assert code == 2 and needle in err + out and "paths.yaml:3" in err + out, err + out
    code, _out, err = cli(["eval", "paths"], capsys, monkeypatch)
    assert code == 2 and needle in err, err


def test_lint_reports_a_bad_labels_file_at_its_line(project: Path, capsys, monkeypatch) -> None:
    folder = project / "evalsets" / "labels"
    folder.mkdir(parents=True)
    good = json.dumps({"case_id": "a", "model": "m", "output_sha256": "0" * 64, "label": "pass"})
    (folder / "support.jsonl").write_bytes(good.encode() + b"\n" + b"[" * 100_000 + b"]" * 100_000 + b"\n")
    (folder / "other.jsonl").write_bytes(good.encode() + b"\n\xff\n")
    code, out, err = cli(["lint"], capsys, monkeypatch)
    text = out + err
    assert code == 2, text
    assert "evalsets/labels/support.jsonl:2:" in text and "nested too deeply" in text
    assert "evalsets/labels/other.jsonl:2:" in text and "not UTF-8" in text


def test_lint_refuses_a_labels_folder_linked_outside(project: Path, capsys, monkeypatch) -> None:
    elsewhere = project.parent / "elsewhere"
    elsewhere.mkdir()
    (project / "evalsets" / "labels").symlink_to(elsewhere)
    code, out, err = cli(["lint"], capsys, monkeypatch)
    assert code == 2 and "labels folder 'evalsets/labels' leads outside the project" in out + err

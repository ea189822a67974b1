"""A full disk mid-run: exit 3 with the real cause, the run marked interrupted, `--resume` finishes it.

The project lives on a small tmpfs mounted for the test (root only; skipped where
mounting is not allowed), and the disk is filled while the run is writing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmctl.testing.server import FakeOpenAIServer
from tests.reliability.helpers import make_project, popen_eval, question, result_rows, run_cli, store

N = 300


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if not sys.platform.startswith("linux") or os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root on Linux to mount a tmpfs")
    mnt = tmp_path / "disk"
    mnt.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mnt)], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True, check=False)


def _fill(folder: Path) -> Path:
    """Write a file until the disk is full; returns it."""
    filler = folder / "filler.bin"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    chunk = b"\0" * 65536
    try:
        while True:
            try:
                os.write(fd, chunk)
            except OSError:
                if len(chunk) == 1:
                    break
                chunk = chunk[: len(chunk) // 2]
    finally:
        os.close(fd)
    return filler


def test_disk_full_mid_run_exits_3_marks_interrupted_and_resumes(small_disk: Path) -> None:
    root = small_disk / "project"
    with FakeOpenAIServer(responses={"question": "yes " + "x" * 2000}, latency_ms=40) as srv:
        make_project(root, srv.base_url, N, concurrency=4)
        proc = popen_eval(root, "--no-cache")
        deadline = time.monotonic() + 60
        while srv.statuses.get("200", 0) < 40 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        time.sleep(1.0)  # a batch has been written (the writer flushes every 0.5 s)
        assert proc.poll() is None, "the run ended before the disk was filled"
        filler = _fill(small_disk)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 3, out + err
        assert "Traceback" not in out + err
        assert "No space left on device" in err, err
        assert "rollback" not in err.lower(), err
        errors = [line for line in err.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, err
        filler.unlink()

        run = store(root).list_runs()[0]
        assert f"llmctl eval --resume {run.id}" in err, err
        assert run.status == "interrupted"
        stored = {r[1] for r in result_rows(root, run.id) if r[2] is None}
        assert 0 < len(stored) < N
        assert not [p.name for p in (root / ".llmctl").iterdir() if ".reserve-" in p.name]

        before = {i: srv.requests_for(question(i)) for i in range(N)}
        srv.configure(latency_ms=0)
        done = run_cli(root, "eval", "--resume", run.id, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        rows = result_rows(root, run.id)
        assert len(rows) == N and all(r[2] is None for r in rows)
        assert store(root).get_run(run.id).status == "completed"
        for i in range(N):
            if f"case-{i:03d}" in stored:
                assert srv.requests_for(question(i)) == before[i], f"case-{i:03d} was stored but called again"

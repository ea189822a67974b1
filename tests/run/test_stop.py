"""A SIGTERM stops a run even where its KeyboardInterrupt is swallowed (llmctl/run/_stop.py).

The real case: DuckDB 1.5 imports pandas at the first statement with parameters of a process and
takes any exception of that import, a KeyboardInterrupt included, for "pandas is not there". The
child here sends itself SIGTERM from inside that import (a meta-path finder, in a sitecustomize on
its PYTHONPATH, fires when pandas is first imported), so the signal lands exactly there, every time.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from llmctl.store import Store
from tests.e2e.project import config, evalset, prompt, write
from tests.reliability.helpers import sub_env

SITE = """
import os, signal, sys

class _TermOnPandas:
    fired = False

    def find_spec(self, name, path=None, target=None):
        if name == "pandas" and not _TermOnPandas.fired:
            _TermOnPandas.fired = True
            os.kill(os.getpid(), signal.SIGTERM)
        return None

sys.meta_path.insert(0, _TermOnPandas())
"""


def _child(root: Path, site: Path) -> subprocess.CompletedProcess[str]:
    env = sub_env(PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", ""), str(Path.cwd())]))
    return subprocess.run(
        [sys.executable, "-m", "llmctl.cli.main", "eval", "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_duckdb_swallows_the_interrupt_of_a_sigterm_in_its_pandas_import(tmp_path: Path) -> None:
    """The premise, with the pinned DuckDB: without llmctl's record of the request, the process would go on."""
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(SITE, encoding="utf-8")
    code = (
        "import signal, sys\n"
        "signal.signal(signal.SIGTERM, lambda s, f: signal.raise_signal(signal.SIGINT))\n"
        "import duckdb\n"
        "duckdb.connect().execute('SELECT ?', [1]).fetchall()\n"
        "print('went on')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=sub_env(PYTHONPATH=str(tmp_path / "site")),
        capture_output=True,
        text=True,
        timeout=120,
    )
    # If this fails, the pinned DuckDB no longer swallows it: llmctl/run/_stop.py's record is then a
    # safety net only, and its docstring should say so.
    assert "went on" in done.stdout, f"exit {done.returncode}: {done.stderr[-500:]}"


def test_a_sigterm_lost_in_duckdb_still_stops_the_run_with_130(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITE, encoding="utf-8")
    root = tmp_path / "p"
    write(
        root,
        {
            "llmctl.yaml": config(),
            "prompts/qa.yaml": prompt("Answer briefly."),
            "evalsets/qa.yaml": evalset("qa", 5, models=["echo"]),
        },
    )
    done = _child(root, site)
    assert done.returncode == 130, done.stdout[-2000:] + done.stderr[-2000:]
    assert "interrupted" in done.stderr and "Traceback" not in done.stderr
    (run,) = Store(root / ".llmctl" / "llmctl.duckdb").list_runs()
    assert run.status == "interrupted"

"""Perf-relevant behaviour (no timings): a fully cached eval never imports litellm.

litellm takes seconds to import; a re-run whose every call is a cache hit must not
pay for it, even when litellm is the chosen transport (LLMCTL_TRANSPORT=litellm).
The eval runs in a fresh interpreter, so sys.modules tells what it imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from llmctl.testing import FakeOpenAIServer

CASES = 5

# Runs `llmctl eval` in-process, then reports what it imported and how many results were cached.
_PROBE = """
import json, sys
from llmctl.cli import _common
from llmctl.cli.main import app
code = _common.invoke(app, sys.argv[1:])
from llmctl.config import load_config
from llmctl.store import Store
store = Store(load_config().store_path)
run = store.list_runs(limit=1)[0]
cached = sum(1 for o in store.outcomes(run.id) if o.cached)
print(json.dumps({"exit": code, "litellm": "litellm" in sys.modules, "cached": cached}))
"""


def _project(root: Path, base_url: str) -> None:
    (root / "prompts").mkdir()
    (root / "evalsets").mkdir()
    (root / "llmctl.yaml").write_text(
        "store: .llmctl/llmctl.duckdb\n"
        "models:\n"
        f"  bench: {{model: openai/bench, api_base: {base_url}, api_key_env: LLMCTL_TEST_KEY}}\n"
    )
    (root / "prompts" / "qa.yaml").write_text(
        "inputs: {q: {type: string}}\nmessages:\n  - {role: user, content: 'Question {{ q }}'}\n"
    )
    cases = "".join(f"  - {{id: c{i}, vars: {{q: '{i}'}}}}\n" for i in range(CASES))
    (root / "evalsets" / "tiny.yaml").write_text(
        f"prompt: qa\nmodels: [bench]\nevaluators:\n  - {{type: contains, value: pong}}\ncases:\n{cases}"
    )


def _eval(root: Path, transport: str) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k not in ("LLMCTL_DB", "LLMCTL_TRANSPORT")}
    env.update(LLMCTL_TEST_KEY="sk-test", LLMCTL_TRANSPORT=transport)
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, "eval", "tiny"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_cached_rerun_does_not_import_litellm(tmp_path: Path) -> None:
    with FakeOpenAIServer(default="pong") as server:
        _project(tmp_path, server.base_url)
        first = _eval(tmp_path, "native")  # fills the cache without litellm (fast)
        assert first == {"exit": 0, "litellm": False, "cached": 0}
        calls = server.requests
        assert calls == CASES

        second = _eval(tmp_path, "litellm")  # litellm is the transport, but every call is cached
        assert second == {"exit": 0, "litellm": False, "cached": CASES}
        assert server.requests == calls  # no call reached the server

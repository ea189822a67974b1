"""Measurements that need to run inside a fresh llmctl process (used by benchmarks/run.py).

    python benchmarks/_child.py eval EVALSET CONCURRENCY   # run_eval with phase timings
    python benchmarks/_child.py gate                        # outcomes + gate over the last two runs
    python benchmarks/_child.py modules -- ARGS...          # run the CLI, report heavy modules imported

Each prints one JSON object on its last stdout line. Run it in the project folder.
"""

from __future__ import annotations

import json
import sys
import time

T0 = time.perf_counter()


def _eval(evalset: str, concurrency: int) -> dict[str, object]:
    from llmctl.config import load_config
    from llmctl.run import EvalOptions, Runner

    imported = time.perf_counter()
    phases: dict[str, float] = {}

    class TimedRunner(Runner):
        """Runner that records how long the call phase (`_execute`) and the gate took."""

        async def _execute(self, *args: object, **kwargs: object) -> None:
            start = time.perf_counter()
            phases["before_calls_s"] = start - T0
            try:
                await super()._execute(*args, **kwargs)  # type: ignore[arg-type]
            finally:
                phases["calls_s"] = phases.get("calls_s", 0.0) + time.perf_counter() - start

        def _finalize(self, *args: object, **kwargs: object) -> None:
            start = time.perf_counter()
            super()._finalize(*args, **kwargs)  # type: ignore[arg-type]
            phases["finalize_s"] = time.perf_counter() - start

    runner = TimedRunner(load_config(), EvalOptions(evalsets=[evalset], concurrency=concurrency))
    outcome = runner.run()
    phases["import_s"] = imported - T0
    phases["total_s"] = time.perf_counter() - T0
    p = runner.progress
    return {
        "exit_code": outcome.exit_code,
        "done": p.done,
        "cached": p.cached,
        "errors": p.errors,
        "calls": p.done - p.cached,
        "req_per_s": (p.done - p.cached) / phases["calls_s"] if phases.get("calls_s") else None,
        **{k: round(v, 4) for k, v in phases.items()},
    }


def _gate() -> dict[str, object]:
    from llmctl.config import load_config
    from llmctl.gate import compare
    from llmctl.store import Store

    cfg = load_config()
    store = Store(cfg.store_path)
    runs = store.list_runs(limit=2)
    candidate_id, baseline_id = runs[0]["id"], runs[1]["id"]
    start = time.perf_counter()
    baseline = store.outcomes(baseline_id)
    candidate = store.outcomes(candidate_id)
    loaded = time.perf_counter()
    verdict = compare(baseline, candidate, cfg.gate)
    done = time.perf_counter()
    return {
        "baseline": baseline_id,
        "candidate": candidate_id,
        "n_baseline": len(baseline),
        "n_candidate": len(candidate),
        "outcomes_s": round(loaded - start, 4),
        "compare_s": round(done - loaded, 4),
        "gate_s": round(done - start, 4),
        "passed": bool(verdict.passed),
        "process_s": round(done - T0, 4),
    }


def _modules(args: list[str]) -> dict[str, object]:
    from llmctl.cli import _common
    from llmctl.cli.main import app

    code = _common.invoke(app, args)
    heavy = ("litellm", "openai", "pandas", "datasets", "evaluate", "torch", "duckdb", "pyarrow", "aiohttp")
    return {"exit_code": code, "imported": sorted(m for m in heavy if m in sys.modules)}


def main() -> int:
    kind = sys.argv[1]
    if kind == "eval":
        out = _eval(sys.argv[2], int(sys.argv[3]))
    elif kind == "gate":
        out = _gate()
    elif kind == "modules":
        rest = sys.argv[2:]
        out = _modules(rest[1:] if rest[:1] == ["--"] else rest)
    else:
        raise SystemExit(f"unknown measurement {kind!r}")
    sys.stdout.flush()
    print("\n" + json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

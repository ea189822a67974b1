"""Measurements that need to run inside a fresh llmctl process (used by benchmarks/run.py).

    python benchmarks/_child.py eval EVALSET CONCURRENCY   # run_eval with phase timings
    python benchmarks/_child.py gate                        # outcomes + gate over the last two runs
    python benchmarks/_child.py modules -- ARGS...          # run the CLI, report heavy modules imported
    python benchmarks/_child.py litellm-loop URL N C        # a hand-written litellm loop (N calls, C at a time)

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


def _litellm_loop(base_url: str, n: int, concurrency: int) -> dict[str, object]:
    """What a user would write by hand: `litellm.acompletion` for each of the n benchmark
    questions (the messages `llmctl eval` sends for the bench evalset), `concurrency` at a time,
    nothing stored. The floor for `LLMCTL_TRANSPORT=litellm llmctl eval` (benchmarks/run.py)."""
    import asyncio
    import os

    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # no network fetch (llmctl sets the same)
    import litellm

    litellm.suppress_debug_info = True
    key = os.environ.get("LLMCTL_BENCH_KEY", "sk-bench")

    async def main() -> tuple[int, int]:
        gate = asyncio.Semaphore(concurrency)
        outputs: list[str | None] = []

        async def one(i: int) -> None:
            messages = [
                {"role": "system", "content": "You answer in one word."},
                {"role": "user", "content": f"Question #{i}: reply with the word pong."},
            ]
            async with gate:
                try:
                    response = await litellm.acompletion(
                        model="openai/bench",
                        api_base=base_url,
                        api_key=key,
                        messages=messages,
                        temperature=0,
                        max_tokens=20,
                        timeout=60,
                        max_retries=0,
                    )
                    outputs.append(response.choices[0].message.content)
                except Exception:
                    outputs.append(None)

        await asyncio.gather(*(one(i) for i in range(n)))
        return sum(o is not None for o in outputs), sum(o is None for o in outputs)

    ok, errors = asyncio.run(main())
    return {"calls": n, "ok": ok, "errors": errors, "process_s": round(time.perf_counter() - T0, 3)}


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
    elif kind == "litellm-loop":
        out = _litellm_loop(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
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

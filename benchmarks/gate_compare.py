"""gate.compare alone on two synthetic runs of N cases each (one `contains` evaluator, ~90% pass,
cost and latency): the comparison's CPU without the store read or a model server.

    python benchmarks/gate_compare.py --cases 100000      # run it in each tree to compare

Prints one JSON line: the seconds to build the outcomes and to compare them, and the verdict.
benchmarks/run.py's `scale` scenario measures the real gate (store read + compare) after two runs."""

from __future__ import annotations

import argparse
import json
import random
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    args = parser.parse_args()
    t0 = time.perf_counter()
    from llmctl.config import GateConfig
    from llmctl.gate import compare
    from llmctl.types import CaseOutcome

    def run(seed: int) -> list[CaseOutcome]:
        r = random.Random(seed)
        out = []
        for i in range(args.cases):
            ok = r.random() < 0.9
            out.append(
                CaseOutcome(
                    "qa",
                    "bench",
                    f"case-{i:06d}",
                    passed=ok,
                    scores={"contains": float(ok)},
                    evaluator_passed={"contains": ok},
                    reasons={} if ok else {"contains": "no pong"},
                    cost_usd=r.random() * 1e-5,
                    latency_ms=20 + r.random() * 5,
                )
            )
        return out

    baseline, candidate = run(1), run(2)
    built = time.perf_counter()
    cpu = time.process_time()
    verdict = compare(baseline, candidate, GateConfig(min_pass_rate=0.5))
    done = time.perf_counter()
    print(
        json.dumps(
            {
                "cases": args.cases,
                "build_s": round(built - t0, 2),
                "compare_s": round(done - built, 2),
                "compare_cpu_s": round(time.process_time() - cpu, 2),
                "passed": verdict.passed,
                "flipped": len(verdict.flipped),
            }
        )
    )


if __name__ == "__main__":
    main()

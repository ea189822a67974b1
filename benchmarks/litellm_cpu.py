"""litellm's CPU per call, with llmctl's settings and with litellm's logging switched off.

    python benchmarks/litellm_cpu.py             # both variants, 1,000 calls at c50 each
    python benchmarks/litellm_cpu.py --profile   # cProfile of 800 calls: where litellm spends it

The model layer alone (`llmctl.testing.loadgen`, transport litellm) against the in-process
fake server (100 ms). "llmctl" is litellm as llmctl sets it up (`llmctl.models._litellm`);
"quiet" also turns off message logging and empties every callback list.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
from typing import Any

from llmctl.models._litellm import import_litellm
from llmctl.testing import loadgen
from llmctl.testing.server import FakeOpenAIServer


def _quiet(litellm: Any) -> None:
    litellm.turn_off_message_logging = True
    litellm.disable_streaming_logging = True
    litellm.callbacks = []
    litellm.success_callback = []
    litellm.failure_callback = []
    litellm._async_success_callback = []
    litellm._async_failure_callback = []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--profile", action="store_true", help="print the top functions by own time")
    args = parser.parse_args()
    litellm = import_litellm()
    with FakeOpenAIServer(latency_ms=100, default="pong") as srv:
        asyncio.run(loadgen._run(srv.base_url, "litellm", args.concurrency, 100, 50))  # warm up
        if args.profile:
            profile = cProfile.Profile()
            profile.enable()
            asyncio.run(loadgen._run(srv.base_url, "litellm", args.concurrency, 800, 0))
            profile.disable()
            pstats.Stats(profile).sort_stats("cumtime").print_stats(r"litellm", 25)
            return 0
        for variant in ("llmctl", "quiet"):
            if variant == "quiet":
                _quiet(litellm)
            r = asyncio.run(loadgen._run(srv.base_url, "litellm", args.concurrency, args.requests, 0))
            print(f"{variant}: {r['req_per_s']:.0f} calls/s, {r['client_cpu_ms_per_call']:.2f} ms CPU per call")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

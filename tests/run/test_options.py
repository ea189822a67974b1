"""EvalOptions checks its rules once, for the library as for the CLI: an InputError (exit 2) naming the flag."""

from __future__ import annotations

from typing import Any

import pytest

from llmctl.errors import EXIT_USAGE, InputError
from llmctl.run import EvalOptions


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"changed_only": True}, "--changed-only needs --baseline REF"),
        ({"deadline": 0.0}, "--deadline must be a positive number of seconds, got 0"),
        ({"deadline": -3.0}, "--deadline must be a positive number of seconds, got -3"),
        ({"concurrency": 0}, "--concurrency must be at least 1, got 0"),
        ({"repeat": 0}, "--repeat must be at least 1, got 0"),
        ({"limit": -1}, "--limit must be at least 1, got -1"),
        ({"shard": (3, 2)}, "--shard expects I/N with 1 <= I <= N, got 3/2"),
        ({"shard": (0, 2)}, "--shard expects I/N with 1 <= I <= N, got 0/2"),
        ({"batch_poll": -1.0}, "--batch-poll must be a number of seconds >= 0, got -1"),
        (
            {"resume": "r1", "evalsets": ["qa"], "repeat": 2, "changed_only": True, "baseline": "main"},
            "--resume completes a run as it was started; EVALSET, --baseline, --repeat, --changed-only cannot change it",
        ),
    ],
)
def test_bad_options_are_refused_with_the_flag_named(options: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError) as caught:
        EvalOptions(**options)
    assert caught.value.message == message
    assert caught.value.exit_code == EXIT_USAGE


def test_good_options_are_kept_as_given() -> None:
    options = EvalOptions(evalsets=["qa"], baseline="main", changed_only=True, shard=(2, 2), deadline=1.5)
    assert (options.baseline, options.changed_only, options.shard, options.deadline) == ("main", True, (2, 2), 1.5)
    assert EvalOptions(resume="r1", no_cache=True, concurrency=4, batch=True, no_wait=True).resume == "r1"

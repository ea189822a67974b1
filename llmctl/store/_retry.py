"""One retry policy for the store's transient errors (a locked file, a busy catalog, a commit
conflict), used by the local file's `Connector` and the DuckLake's `LakeConnector`.

An operation is called again, whole, while it fails with an error the caller says is
transient, with a randomized backoff that grows from `first_delay` to `max_delay`, until its
time budget (`timeout`) is spent; then `StoreBusy` (exit 3: the store is there but stayed
busy, an infrastructure failure). After `notice_after` seconds of waiting one message goes
to `notify`. Any other error is raised as it is, at once.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from llmctl.errors import StoreBusy

T = TypeVar("T")


@dataclass
class RetryPolicy:
    """How long and how often to retry a store operation; see the module docstring."""

    timeout: float
    first_delay: float = 0.005
    max_delay: float = 0.1
    growth: float = 1.6
    notice_after: float = 2.0
    notify: Callable[[str], None] | None = None
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def call(
        self,
        attempt: Callable[[float], T],
        *,
        transient: Callable[[BaseException], bool],
        gave_up: Callable[[BaseException], StoreBusy],
        waiting: Callable[[BaseException], str],
    ) -> T:
        """`attempt(deadline)` until it returns; `transient(exc)`: retry it; `gave_up(exc)`: the
        error once the budget is spent (raised without the chain: one clear message);
        `waiting(exc)`: the one notice. `deadline` is on `clock`, for waits inside an attempt."""
        started = self.clock()
        deadline = started + self.timeout
        delay = self.first_delay
        noticed = False
        while True:
            try:
                return attempt(deadline)
            except Exception as exc:
                if not transient(exc):
                    raise
                now = self.clock()
                if now >= deadline:
                    raise gave_up(exc) from None
                if not noticed and now - started >= self.notice_after:
                    noticed = True
                    if self.notify is not None:
                        self.notify(waiting(exc))
                jittered = delay * random.uniform(0.5, 1.5)
                self.sleep(min(jittered, max(0.0, deadline - now)))  # never past the deadline
                delay = min(delay * self.growth, self.max_delay)

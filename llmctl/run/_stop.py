"""SIGTERM (CI cancelling a job, `kill`) stops a run like Ctrl-C, even when something swallows it.

SIGTERM is relayed as SIGINT, so whoever handles Ctrl-C at that moment handles it: asyncio's
runner while calls are in flight (it cancels the run's task), a KeyboardInterrupt otherwise.
A KeyboardInterrupt raised inside C code that calls back into Python can be lost: DuckDB 1.5
imports pandas at the first statement with parameters of a process (seconds on a loaded
machine) and treats any exception of that import, a KeyboardInterrupt included, as "pandas is
not there". A SIGTERM landing in that import was ignored and the run went on to the end. So
the request is also recorded here, and the runner delivers one that was lost
(`raise_if_stopped`) before it starts the calls of each evalset.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType

_requested = threading.Event()


def raise_if_stopped() -> None:
    """Raise KeyboardInterrupt if a SIGTERM asked to stop this run (its own interrupt may have been lost)."""
    if _requested.is_set():
        raise KeyboardInterrupt


def stop_on_sigterm() -> Callable[[], None]:
    """Treat SIGTERM like Ctrl-C until the returned function restores the previous handlers:
    finished results are kept, the run is marked `interrupted`, exit 130. In the main thread
    only (signal handlers cannot be set elsewhere); elsewhere it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    _requested.clear()
    previous = signal.getsignal(signal.SIGTERM)
    previous_int = signal.getsignal(signal.SIGINT)
    if previous_int is signal.SIG_IGN:
        # A background job of a shell (`llmctl eval &`, nohup) starts with SIGINT ignored; SIGTERM
        # is relayed as SIGINT, so without this `kill` would be ignored too and the run go on.
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        _requested.set()
        signal.raise_signal(signal.SIGINT)  # whoever handles Ctrl-C now (asyncio's runner) handles this

    signal.signal(signal.SIGTERM, on_sigterm)

    def restore() -> None:
        signal.signal(signal.SIGTERM, previous)
        if previous_int is signal.SIG_IGN:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        _requested.clear()

    return restore


__all__ = ["raise_if_stopped", "stop_on_sigterm"]

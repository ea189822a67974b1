"""Scoring off the event loop: CPU-heavy evaluators run in a few daemon threads.

A sync evaluator that takes seconds (`secrets` on a megabyte of output, a user pattern
near its 1 s timeout, `prompt_leak` on a long transcript) would otherwise stop the event
loop: calls in flight miss their timeouts, progress freezes, `--deadline` and SIGTERM wait.
Evaluators that set `offload = True` are scored here instead, so the loop goes on serving
calls while they work (their regexes release the GIL; pure-Python work shares it).

The threads are daemons: a run stopped by its deadline or a signal does not wait at exit
for a check whose result nobody will store. `concurrent.futures` has no daemon pool, hence
this small one.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

THREADS = 4

_tasks: queue.SimpleQueue[tuple[Callable[[], Any], asyncio.AbstractEventLoop, asyncio.Future[Any]]] = (
    queue.SimpleQueue()
)
_started = 0
_lock = threading.Lock()


def _work() -> None:
    while True:
        fn, loop, future = _tasks.get()
        if future.cancelled():
            continue
        result: Any = None
        error: BaseException | None = None
        try:
            result = fn()
        except BaseException as exc:  # handed to the awaiting coroutine
            error = exc
        try:
            loop.call_soon_threadsafe(_settle, future, result, error)
        except RuntimeError:  # the loop is closed: the run ended (deadline, signal), nobody waits
            pass


def _settle(future: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)


def _ensure_threads() -> None:
    global _started
    with _lock:
        while _started < THREADS:
            _started += 1
            threading.Thread(target=_work, name=f"llmctl-score-{_started}", daemon=True).start()


async def off_loop(fn: Callable[[], T]) -> T:
    """`fn()` in a scoring thread; the awaiting coroutine may be cancelled (the result is dropped)."""
    _ensure_threads()
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    _tasks.put((fn, loop, future))
    return await future


__all__ = ["THREADS", "off_loop"]

"""One process at a time per run: a lock file next to the store, held while a run executes.

`llmctl eval` holds the lock of the run it writes from creation (or `--resume`) to its
verdict, so a second `--resume` of the same run is refused at once instead of calling
every unfinished case a second time. The lock is an advisory `flock` on
`.<store>.run-<id>.lock`: the kernel drops it when the holder dies (kill -9 included),
so a killed run never stays locked. The file is removed on release; a holder checks,
after locking, that the path still names the file it locked (else it lost a race with
a release, and locks again).
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from pathlib import Path
from types import TracebackType

from llmctl.errors import InputError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, no protection
    fcntl = None  # type: ignore[assignment]


class RunBusy(InputError):
    """Another process is running (or resuming) this run."""


def _safe(run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", run_id)[:120]


class RunLock:
    """`acquire()` or refuse with RunBusy; `release()` (or use as a context manager)."""

    def __init__(self, store_path: Path, run_id: str) -> None:
        self.run_id = run_id
        self.path = Path(store_path).with_name(f".{Path(store_path).name}.run-{_safe(run_id)}.lock")
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        if fcntl is None or self._fd is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(20):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = self._holder(fd)
                os.close(fd)
                raise RunBusy(
                    f"run {self.run_id} is being run by another llmctl process{holder}",
                    hint="wait for it to finish; if it stops early, `llmctl eval --resume "
                    f"{self.run_id}` completes what is left",
                ) from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # released and removed between our open and our lock: try again
                os.close(fd)
                continue
            # One fixed-width write, no truncate first: a reader never sees a half-written PID.
            os.pwrite(fd, f"{os.getpid():>10}\n".encode(), 0)
            os.ftruncate(fd, 11)
            self._fd = fd
            return self
        raise RunBusy(f"cannot lock run {self.run_id}: its lock file keeps changing", file=self.path)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()  # while still locked: nobody can hold the removed file's lock
        os.close(fd)

    @staticmethod
    def _holder(fd: int) -> str:
        # The holder writes its PID just after it locks: a refusal that lands in between
        # waits a moment for it rather than naming no one.
        deadline = time.monotonic() + 0.5
        while True:
            with contextlib.suppress(OSError, ValueError):
                text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
                if text.isdigit():
                    return f" (PID {int(text)})"
            if time.monotonic() >= deadline:
                return ""
            time.sleep(0.02)

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

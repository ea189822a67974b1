"""Advisory file locks with a wait limit (labels writes, promotions)."""

from __future__ import annotations

import time

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows
    fcntl = None  # type: ignore[assignment]


def flock_exclusive(fd: int, timeout: float, poll: float = 0.01) -> bool:
    """Take an exclusive `flock` on `fd`, waiting up to `timeout` seconds; False when it timed out.

    Where `fcntl` does not exist the lock is not taken and True is returned."""
    if fcntl is None:
        return True
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(poll)

"""A little disk space held back while a run writes, so a full disk can still be recorded.

When the disk fills, the run's results stop being written, and marking the run
`interrupted` is itself a write. `SpaceReserve` keeps a small file next to the store
for the length of a run; `release()` deletes it, which frees room for that last
update. One file per process (`.<store>.reserve-<pid>`); files of processes that
are gone (killed) are removed by the next run.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

RESERVE_BYTES = 4 * 1024 * 1024


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class SpaceReserve:
    """`hold()` at the start of a run, `release()` when the disk is full or the run ends. Best effort."""

    def __init__(self, store_path: Path, size: int = RESERVE_BYTES) -> None:
        self.store_path = Path(store_path)
        self.prefix = f".{self.store_path.name}.reserve-"
        self.path = self.store_path.with_name(f"{self.prefix}{os.getpid()}")
        self.size = size

    def hold(self) -> None:
        self._remove_stale()
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
        except OSError:
            return
        try:
            if hasattr(os, "posix_fallocate"):
                os.posix_fallocate(fd, 0, self.size)
            else:  # pragma: no cover - platforms without fallocate
                os.write(fd, b"\0" * self.size)
        except OSError:  # no room even for this: there is nothing to hold back
            os.close(fd)
            self.release()
            return
        os.close(fd)

    def release(self) -> None:
        with contextlib.suppress(OSError):
            self.path.unlink(missing_ok=True)

    def _remove_stale(self) -> None:
        with contextlib.suppress(OSError):
            for other in self.store_path.parent.glob(self.prefix + "*"):
                pid = other.name[len(self.prefix) :]
                if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
                    other.unlink(missing_ok=True)

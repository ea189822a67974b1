"""Short-lived connections to the store file, with lock waiting and clear errors.

DuckDB lets one process at a time open a database file for writing (and a
reader cannot open it while a writer holds it). So llmctl never keeps the file
open: every operation opens a connection, runs one short transaction and
closes. When another process holds the file, the open is retried with a small
randomized backoff until `lock_timeout` (`llmctl.store._retry.RetryPolicy`, shared
with the DuckLake connector; then exit 3); after a couple of seconds of waiting, one
message goes to `on_wait`.

Within one process, every connection to the same file is serialized by a
process-wide lock, so a writer thread and a reader never open the same file
with different settings at once.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import secrets
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import duckdb

from llmctl.errors import StoreBusy, StoreError, StoreIOError
from llmctl.store._convert import READABLE, foreign_version_error, storage_version
from llmctl.store._retry import RetryPolicy
from llmctl.store._schema import SCHEMA_VERSION, NotAStore, connect, current_version, migrate

log = logging.getLogger("llmctl.store")

T = TypeVar("T")
WAIT_NOTICE_AFTER_S = 2.0

_locks_guard = threading.Lock()
_locks: dict[str, threading.RLock] = {}


def _process_lock(path: Path) -> threading.RLock:
    key = str(path)
    with _locks_guard:
        lock = _locks.get(key)
        if lock is None:
            lock = _locks[key] = threading.RLock()
        return lock


def _is_lock_error(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


# What the disk says when a write cannot happen (DuckDB passes the OS's text through).
_DISK_ERRORS = ("No space left on device", "Disk quota exceeded", "Read-only file system", "Input/output error")
_DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO}
_SQLITE_MAGIC = b"SQLite format 3\x00"
_HEADERS_SIZE = 3 * 4096  # DuckDB: a main header, then two database headers


def _disk_error(text: str) -> str | None:
    return next((cause for cause in _DISK_ERRORS if cause in text), None)


def _sniff(path: Path) -> None:
    """Refuse a file that is not a DuckDB database before DuckDB opens it."""
    with path.open("rb") as fh:
        head = fh.read(16)
    if head.startswith(_SQLITE_MAGIC):
        raise NotAStore("it is a SQLite database, not a DuckDB file")
    if len(head) < 12 or head[8:12] != b"DUCK":
        raise NotAStore("not a DuckDB database file")
    version = storage_version(path)
    if version is not None and version not in READABLE:
        raise foreign_version_error(path, version)


def _truncated(path: Path) -> str | None:
    """Why a DuckDB file looks cut short, or None.

    The file is three 4 KiB headers followed by blocks of the allocation size in the
    newest database header (8-byte checksum, then iteration, meta block, free list,
    block count, allocation size: little-endian u64). The block count is how many
    blocks the database uses as of that header; a file shorter than that was cut short
    (a copy or a download). A file longer than that is fine: DuckDB treats the blocks
    past the count as free, and a process killed while growing the file can leave a
    partial block at the end, which the next checkpoint reuses.
    """
    with path.open("rb") as fh:
        head = fh.read(_HEADERS_SIZE)
        size = os.fstat(fh.fileno()).st_size
    if len(head) < _HEADERS_SIZE:
        return f"{size} bytes, shorter than its headers"
    best: tuple[int, int, int] | None = None
    for offset in (4096, 8192):
        iteration, _meta, _free, blocks, alloc = struct.unpack_from("<5Q", head, offset + 8)
        sane = 4096 <= alloc <= 1 << 30 and alloc & (alloc - 1) == 0 and blocks < 1 << 40
        if sane and (best is None or iteration > best[0]):
            best = (iteration, blocks, alloc)
    if best is not None:
        _iteration, blocks, alloc = best
        needed = _HEADERS_SIZE + blocks * alloc
        if size < needed:
            return f"{size} bytes, but its header counts {blocks} blocks of {alloc} bytes ({needed} bytes)"
    return None


def _reads_whole(path: Path) -> bool:
    """Whether DuckDB can read every row of every table (read-only, so nothing is written).

    Only asked when the size looks short: DuckDB trims free blocks off the end of the file
    after writing the header that still counts them, so a process killed in between leaves
    a file shorter than its header says and yet whole. A copy cut short is missing blocks
    that hold data, and reading every row finds that.
    """
    try:
        con = connect(str(path), read_only=True)
    except duckdb.Error as exc:
        if _is_lock_error(exc):
            raise  # another process has the file open (and may be mid-checkpoint): retry later
        return False
    try:
        tables = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'main' AND table_type = 'BASE TABLE'"
            ).fetchall()
        ]
        for table in tables:
            quoted = '"' + table.replace('"', '""') + '"'
            con.execute(f"SELECT count(hash(t)) FROM {quoted} t").fetchall()  # noqa: S608 - names from the catalog
    except duckdb.Error as exc:
        if _is_lock_error(exc):
            raise
        return False
    finally:
        con.close()
    return True


def _holder(exc: BaseException) -> str:
    match = re.search(r"PID (\d+)", str(exc))
    return f" (PID {match.group(1)})" if match else ""


class Connector:
    """Opens the store file for one operation at a time; see the module docstring."""

    def __init__(
        self,
        path: Path,
        *,
        lock_timeout: float = 60.0,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        self.path = Path(path).absolute()
        self.lock_timeout = lock_timeout
        self.on_wait = on_wait
        self._schema_checked = False
        self._plock = _process_lock(self.path)
        self._held = threading.local()  # this thread's shared read-only connection (`reading`)

    @property
    def where(self) -> str:
        return str(self.path)

    # -- public --------------------------------------------------------------

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Let this thread's read-only operations share one connection until the block ends
        (one open instead of one per query: a viewer page). Writes must not run inside it.
        When the file cannot be opened now (another process writes), each read opens its own."""
        if getattr(self._held, "con", None) is not None or not self.path.exists():
            yield
            return
        with self._plock:
            try:
                if not self._schema_checked:
                    self._check_schema()
                con = connect(str(self.path), read_only=True)
            except (duckdb.Error, OSError, NotAStore):
                con = None
            if con is None:
                yield
                return
            self._held.con = con
            try:
                yield
            finally:
                self._held.con = None
                con.close()

    def run(self, fn: Callable[[duckdb.DuckDBPyConnection], T], *, read_only: bool = False) -> T:
        """Open, call `fn(con)`, close. Retries the whole call while the file is locked.

        `fn` must be safe to call again after a lock error (one transaction, or
        read-only work). A read of a store that does not exist yet runs against
        an empty in-memory store, so listing an empty project creates no file.
        """
        held = getattr(self._held, "con", None)
        if held is not None:
            if not read_only:
                raise RuntimeError("a store write inside Connector.reading()")
            try:
                return fn(held)
            except duckdb.Error as exc:
                raise self._translate(exc) from exc
        policy = RetryPolicy(
            self.lock_timeout, first_delay=0.005, max_delay=0.1, notice_after=WAIT_NOTICE_AFTER_S, notify=self._notify
        )

        def attempt(_deadline: float) -> T:
            with self._plock:
                return self._run_once(fn, read_only)

        try:
            return policy.call(
                attempt,
                transient=_is_lock_error,
                gave_up=lambda exc: StoreBusy(
                    f"store {self.path} is locked by another process{_holder(exc)}; "
                    f"gave up after waiting {self.lock_timeout:g}s",
                    hint="another llmctl (or a DuckDB client) has the file open; let it finish, or close that client",
                ),
                waiting=lambda exc: (
                    f"waiting for the store lock held by another llmctl process{_holder(exc)} on {self.path} ..."
                ),
            )
        except NotAStore as exc:
            raise StoreError(
                f"is not an llmctl store ({exc}); it was left unchanged",
                file=self.path,
                hint="move it away, or point `store:` in llmctl.yaml (or LLMCTL_DB) elsewhere",
            ) from None
        except OSError as exc:
            if exc.errno not in _DISK_ERRNOS:
                raise
            raise self._disk_failure(os.strerror(exc.errno or 0)) from exc
        except duckdb.Error as exc:
            raise self._translate(exc) from exc

    # -- internals -----------------------------------------------------------

    def _notify(self, message: str) -> None:
        if self.on_wait is not None:
            self.on_wait(message)
        else:
            log.warning(message)

    def _disk_failure(self, cause: str) -> StoreIOError:
        return StoreIOError(
            f"cannot write the store: {cause}",
            file=self.path,
            hint="free some space (or fix the disk) where the store lives",
        )

    def _translate(self, exc: duckdb.Error) -> StoreError | StoreIOError:
        text = str(exc)
        cause = _disk_error(text)
        if cause is not None:
            return self._disk_failure(cause)
        if "not a valid DuckDB database" in text:
            return StoreError(
                "is not an llmctl store (not a DuckDB database file); "
                "move it away or point `store:` in llmctl.yaml (or LLMCTL_DB) elsewhere",
                file=self.path,
            )
        first = text.splitlines()[0] if text else type(exc).__name__
        return StoreError(f"cannot use the store: {first}", file=self.path)

    def _run_once(self, fn: Callable[[duckdb.DuckDBPyConnection], T], read_only: bool) -> T:
        if not self.path.exists():
            if read_only:
                con = connect(":memory:")
                try:
                    migrate(con)
                    return fn(con)
                finally:
                    con.close()
            self._create()
        if not self._schema_checked:
            self._check_schema()
        con = connect(str(self.path), read_only=read_only)
        try:
            return fn(con)
        finally:
            con.close()

    def _check_schema(self) -> None:
        """Refuse anything but a whole llmctl store of a known version, and migrate an older one.

        The file's header is checked before DuckDB opens it, and the schema on a read-only
        connection, so a refused file is never touched.
        """
        _sniff(self.path)
        truncated = _truncated(self.path)  # the block size never changes: no lock needed
        if truncated is not None and not _reads_whole(self.path):
            raise StoreError(
                f"store is damaged: truncated ({truncated}); it was left unchanged",
                file=self.path,
                hint="restore it from a backup, or move it away to start a new store",
            )
        con = connect(str(self.path), read_only=True)
        try:
            version = current_version(con)
        finally:
            con.close()
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"store {self.path} was written by a newer llmctl "
                f"(schema v{version}, this one knows v{SCHEMA_VERSION})",
                hint="upgrade llmctl to read it",
            )
        if version != SCHEMA_VERSION:
            con = connect(str(self.path))
            try:
                migrate(con)
            finally:
                con.close()
        self._schema_checked = True

    def _create(self) -> None:
        """Create the file atomically: migrate a private temp file, then hard-link it in place.

        Two processes creating the store at once never see a half-written file:
        one link wins, the other finds the file already there.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
        try:
            con = connect(str(tmp))
            try:
                migrate(con)
            finally:
                con.close()
            try:
                os.link(tmp, self.path)
            except FileExistsError:
                return  # another process created it first; its schema is checked on open
            except OSError:  # a filesystem without hard links
                if self.path.exists():
                    return
                os.replace(tmp, self.path)
            self._schema_checked = True
        finally:
            for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
                leftover.unlink(missing_ok=True)

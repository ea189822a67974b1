"""Short-lived connections to the store file, with lock waiting and clear errors.

DuckDB lets one process at a time open a database file for writing (and a
reader cannot open it while a writer holds it). So llmctl never keeps the file
open: every operation opens a connection, runs one short transaction and
closes. When another process holds the file, the open is retried with a small
randomized backoff until `lock_timeout`; after a couple of seconds of waiting,
one message goes to `on_wait`.

Within one process, every connection to the same file is serialized by a
process-wide lock, so a writer thread and a reader never open the same file
with different settings at once.
"""

from __future__ import annotations

import logging
import os
import random
import re
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import duckdb

from llmctl.errors import StoreError
from llmctl.store._schema import SCHEMA_VERSION, current_version, migrate, user_tables

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

    # -- public --------------------------------------------------------------

    def run(self, fn: Callable[[duckdb.DuckDBPyConnection], T], *, read_only: bool = False) -> T:
        """Open, call `fn(con)`, close. Retries the whole call while the file is locked.

        `fn` must be safe to call again after a lock error (one transaction, or
        read-only work). A read of a store that does not exist yet runs against
        an empty in-memory store, so listing an empty project creates no file.
        """
        deadline = time.monotonic() + self.lock_timeout
        started = time.monotonic()
        delay = 0.005
        noticed = False
        while True:
            try:
                with self._plock:
                    return self._run_once(fn, read_only)
            except duckdb.Error as exc:
                if not _is_lock_error(exc):
                    raise self._translate(exc) from exc
                now = time.monotonic()
                if now >= deadline:
                    raise StoreError(
                        f"store {self.path} is locked by another process{_holder(exc)}; "
                        f"gave up after waiting {self.lock_timeout:g}s",
                        hint="another llmctl (or a DuckDB client) has the file open; "
                        "let it finish, or close that client",
                    ) from None
                if not noticed and now - started >= WAIT_NOTICE_AFTER_S:
                    noticed = True
                    self._notify(
                        f"waiting for the store lock held by another llmctl process{_holder(exc)} on {self.path} ..."
                    )
                time.sleep(min(delay, max(0.0, deadline - now)) * random.uniform(0.5, 1.5))
                delay = min(delay * 1.6, 0.1)

    # -- internals -----------------------------------------------------------

    def _notify(self, message: str) -> None:
        if self.on_wait is not None:
            self.on_wait(message)
        else:
            log.warning(message)

    def _translate(self, exc: duckdb.Error) -> StoreError:
        text = str(exc)
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
                con = duckdb.connect(":memory:")
                try:
                    migrate(con)
                    return fn(con)
                finally:
                    con.close()
            self._create()
        if not self._schema_checked:
            self._check_schema()
        con = duckdb.connect(str(self.path), read_only=read_only)
        try:
            return fn(con)
        finally:
            con.close()

    def _check_schema(self) -> None:
        """Refuse a newer or foreign schema (opening read-only, so a refused file is never
        touched), and migrate an older one."""
        con = duckdb.connect(str(self.path), read_only=True)
        try:
            version = current_version(con)
            foreign = version is None and bool(user_tables(con))
        finally:
            con.close()
        if foreign:
            raise StoreError(
                "is a DuckDB database but not an llmctl store (it has no schema_migrations table)",
                file=self.path,
            )
        if version is not None and version > SCHEMA_VERSION:
            raise StoreError(
                f"store {self.path} was written by a newer llmctl "
                f"(schema v{version}, this one knows v{SCHEMA_VERSION})",
                hint="upgrade llmctl to read it",
            )
        if version != SCHEMA_VERSION:
            con = duckdb.connect(str(self.path))
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
            con = duckdb.connect(str(tmp))
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

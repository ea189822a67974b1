"""A shared store: a DuckLake (a catalog in SQLite, PostgreSQL or DuckDB, data as Parquet files).

    store:
      ducklake: postgres:host=db.internal dbname=llmctl   # or sqlite:PATH | duckdb:PATH
      data: s3://team-bucket/llmctl/                     # or a shared folder

`LLMCTL_STORE` gives the same in one line: `ducklake:<catalog>;data=<path or s3 url>`.

DuckDB's extensions (ducklake, postgres_scanner, sqlite_scanner, httpfs) come from their
PyPI packages (the `shared` extra) and are loaded from the package folder; DuckDB never
downloads or auto-loads one.

DuckLake has no primary keys, unique constraints or indexes. The migrations are written
for DuckDB; on a lake `LakeCursor` applies them with their keys stripped and recorded in
`llmctl_lake_keys`, and turns `INSERT ... ON CONFLICT DO NOTHING`, `INSERT OR IGNORE` and
`INSERT OR REPLACE` into writes that check those keys (an anti-join), so every table a
migration adds (any branch's) works on both engines unchanged. Concurrent writers are
DuckLake's: each commit is a new snapshot; a commit that conflicts (two migrations at once,
two deletes from one table) fails and the whole operation is retried.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: SQLite's own locking only
    fcntl = None  # type: ignore[assignment]

import duckdb

from llmctl.errors import InputError, StoreBusy, StoreError, StoreIOError
from llmctl.store._retry import RetryPolicy
from llmctl.store_location import LakeSpec

T = TypeVar("T")
LAKE_NAME = "llmctl_lake"
EXTENSIONS = {"sqlite": "sqlite_scanner", "postgres": "postgres_scanner", "duckdb": None}


# ---------------------------------------------------------------------------
# Extensions from PyPI packages


def extension_path(name: str) -> Path:
    """The `.duckdb_extension` file of `name` in its PyPI package, built for this DuckDB."""
    package = f"duckdb_extension_{name}"
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise InputError(
            f"a shared (DuckLake) store needs DuckDB's {name} extension, and its package {package} is not installed",
            hint="pip install 'llmctl-ci[shared]'",
        )
    folder = Path(spec.origin).parent / "extensions"
    wanted = folder / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if not wanted.is_file():
        found = ", ".join(sorted(p.parent.name for p in folder.glob(f"*/{name}.duckdb_extension"))) or "none"
        raise InputError(
            f"DuckDB's {name} extension is installed for DuckDB {found}, but this is DuckDB v{duckdb.__version__}",
            hint="pip install 'llmctl-ci[shared]' installs matching versions",
        )
    return wanted


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _s3_secret_sql() -> str | None:
    """An S3 secret from the usual AWS environment variables (kept in memory, never stored)."""
    key = os.environ.get("AWS_ACCESS_KEY_ID")
    secret = os.environ.get("AWS_SECRET_ACCESS_KEY")
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    parts = ["TYPE s3"]
    if key and secret:
        parts += [f"KEY_ID {_sql_str(key)}", f"SECRET {_sql_str(secret)}"]
        token = os.environ.get("AWS_SESSION_TOKEN")
        if token:
            parts.append(f"SESSION_TOKEN {_sql_str(token)}")
    if region:
        parts.append(f"REGION {_sql_str(region)}")
    if endpoint:
        scheme, _, host = endpoint.partition("://")
        parts += [f"ENDPOINT {_sql_str(host.rstrip('/') or scheme)}", "URL_STYLE 'path'"]
        parts.append(f"USE_SSL {'false' if scheme == 'http' else 'true'}")
    if len(parts) == 1:
        return None
    return f"CREATE OR REPLACE SECRET llmctl_s3 ({', '.join(parts)})"


def prepare_for_lake(con: duckdb.DuckDBPyConnection, spec: LakeSpec) -> None:
    """Load the extensions `spec` needs (from their packages) and, for s3:// data, the S3 secret."""
    names = ["ducklake"]
    catalog_ext = EXTENSIONS[spec.kind]
    if catalog_ext:
        names.append(catalog_ext)
    if spec.data.startswith("s3://"):
        names.append("httpfs")
    for name in names:
        con.execute(f"LOAD {_sql_str(str(extension_path(name)))}")
    secret = _s3_secret_sql()
    if secret and spec.data.startswith("s3://"):
        con.execute(secret)


def attach_lake_sql(spec: LakeSpec, alias: str, *, read_only: bool = False) -> str:
    options = f"DATA_PATH {_sql_str(spec.data)}" + (", READ_ONLY" if read_only else "")
    return f"ATTACH {_sql_str('ducklake:' + spec.catalog)} AS {alias} ({options})"


# ---------------------------------------------------------------------------
# SQL written for DuckDB, applied to a DuckLake

_CREATE = re.compile(r"^\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)\s*\((.*)\)\s*;?\s*$", re.I | re.S)
_TABLE_KEY = re.compile(r",\s*(?:PRIMARY\s+KEY|UNIQUE)\s*\(([^)]*)\)", re.I)
_COLUMN_KEY = re.compile(r"^\s*(\w+)\s+[^,]*?\s(PRIMARY\s+KEY|UNIQUE)\b", re.I | re.M)
_INSERT = re.compile(
    r"^\s*INSERT\s+(?:OR\s+(IGNORE|REPLACE)\s+)?INTO\s+(\w+)\s*(?:\(([^)]*)\))?\s*(.*?)"
    r"(\s+ON\s+CONFLICT\s+DO\s+NOTHING)?\s*;?\s*$",
    re.I | re.S,
)
_INDEX = re.compile(r"^\s*CREATE\s+(UNIQUE\s+)?INDEX\b", re.I)


def split_keys(sql: str) -> tuple[str, str, list[str]] | None:
    """(table, DDL without keys, key columns) of a CREATE TABLE, or None for any other statement."""
    m = _CREATE.match(sql)
    if m is None:
        return None
    table, body = m.group(1), m.group(2)
    keys: list[str] = []
    table_key = _TABLE_KEY.search(body)
    if table_key:
        keys = [c.strip() for c in table_key.group(1).split(",")]
        body = _TABLE_KEY.sub("", body)
    for col in _COLUMN_KEY.finditer(body):
        if not keys:
            keys = [col.group(1)]
    body = re.sub(r"\s(PRIMARY\s+KEY|UNIQUE)\b", " ", body, flags=re.I)
    return table, f"CREATE TABLE {table} ({body})", keys


@dataclass
class KeyCache:
    """The key columns recorded in `llmctl_lake_keys`, read once per process: they change only
    when a migration creates a table, and this process's migrations add theirs here. (Reading
    them is two catalog queries, ~0.1 s on a SQLite catalog, on every keyed write otherwise.)
    The schema check fills it (`read_current`), again after migrating; a table it does not
    know (one another process's migration added since) is looked up again before refusing."""

    tables: dict[str, list[str]] | None = None


class LakeCursor:
    """A cursor on the lake that applies DuckDB-only SQL (keys, ON CONFLICT) as DuckLake allows."""

    def __init__(self, cur: duckdb.DuckDBPyConnection, keys: KeyCache | None = None) -> None:
        self._cur = cur
        self._keys = keys if keys is not None else KeyCache()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cur, name)

    def _table_keys(self) -> dict[str, list[str]]:
        if self._keys.tables is None:
            found: dict[str, list[str]] = {}
            if self._cur.execute(
                "SELECT 1 FROM duckdb_tables() WHERE database_name = current_database() "
                "AND table_name = 'llmctl_lake_keys'"
            ).fetchall():
                for table, cols in self._cur.execute("SELECT table_name, key_columns FROM llmctl_lake_keys").fetchall():
                    found[str(table)] = [c for c in str(cols).split(",") if c]
            self._keys.tables = found
        return self._keys.tables

    def _columns(self, table: str) -> list[str]:
        rows = self._cur.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
            "AND table_name = ? ORDER BY column_index",
            [table],
        ).fetchall()
        return [str(r[0]) for r in rows]

    def execute(self, sql: str, params: Any = None) -> Any:
        if _INDEX.match(sql):
            return self._cur  # DuckLake has no indexes; the writes check keys themselves
        created = split_keys(sql)
        if created is not None:
            table, ddl, keys = created
            self._cur.execute(ddl)
            self._cur.execute("CREATE TABLE IF NOT EXISTS llmctl_lake_keys (table_name TEXT, key_columns TEXT)")
            if keys:
                self._cur.execute("INSERT INTO llmctl_lake_keys VALUES (?, ?)", [table, ",".join(keys)])
                self._table_keys()[table] = keys
            return self._cur
        m = _INSERT.match(sql)
        if m is not None and (m.group(1) or m.group(5)):
            return self._keyed_insert(m, params)
        return self._cur.execute(sql, params)

    def _keyed_insert(self, m: re.Match[str], params: Any) -> Any:
        mode, table, cols_text, source = (m.group(1) or "IGNORE").upper(), m.group(2), m.group(3), m.group(4)
        keys = self._table_keys().get(table)
        if not keys:
            self._keys.tables = None  # recorded since this process read them?
            keys = self._table_keys().get(table)
        if not keys:
            raise StoreError(f"table {table} has no recorded key on this DuckLake store; cannot apply {mode}")
        cols = [c.strip() for c in cols_text.split(",")] if cols_text else self._columns(table)
        names = ", ".join(cols)
        on = " AND ".join(f"o.{k} = n.{k}" for k in keys)
        part = ", ".join(keys)
        # the new rows, one per key (a statement naming one key twice keeps one)
        fresh = (
            f"SELECT {names} FROM ({source}) AS n({names}) "  # noqa: S608
            f"QUALIFY row_number() OVER (PARTITION BY {part}) = 1"
        )
        if mode == "REPLACE":
            self._cur.execute(
                f"DELETE FROM {table} AS o WHERE EXISTS (SELECT 1 FROM ({fresh}) AS n WHERE {on})",  # noqa: S608
                params,
            )
            return self._cur.execute(f"INSERT INTO {table} ({names}) {fresh}", params)
        return self._cur.execute(
            f"INSERT INTO {table} ({names}) SELECT {names} FROM ({fresh}) AS n "  # noqa: S608
            f"WHERE NOT EXISTS (SELECT 1 FROM {table} AS o WHERE {on})",
            params,
        )


# One statement (so one snapshot) with what `current_version` would read of a store at the
# current schema: the recorded versions, the marker row(s) and the recorded keys.
_CURRENT_SQL = (
    "SELECT (SELECT max(version) FROM schema_migrations), "
    "(SELECT list(value) FROM llmctl_store WHERE key = 'format'), "
    "(SELECT list([table_name, key_columns]) FROM llmctl_lake_keys)"
)


def read_current(cur: duckdb.DuckDBPyConnection, schema_version: int) -> dict[str, list[str]] | None:
    """The recorded keys of a lake whose schema is exactly `schema_version` and whose marker
    is llmctl's, read in one statement; None for anything else (an empty, older, newer or
    foreign lake, a missing table), which the caller checks in full."""
    from llmctl.store._schema import MARKER

    try:
        rows = cur.execute(_CURRENT_SQL).fetchall()
    except (duckdb.CatalogException, duckdb.BinderException):
        return None  # a table or column is missing: empty, foreign or damaged; the full check says which
    version, marker, keys = rows[0]
    if type(version) is not int or version != schema_version or marker != [MARKER[1]]:
        return None
    found: dict[str, list[str]] = {}
    for table, cols in keys or []:
        found[str(table)] = [c for c in str(cols).split(",") if c]
    return found


# ---------------------------------------------------------------------------
# Connections

# Retried until lock_timeout: commit conflicts, a locked SQLite catalog, and two processes
# creating a new catalog's metadata tables at once (the second finds them made on retry).
_RETRY_TEXT = (
    "transaction conflict",
    "database is locked",
    "could not set lock",
    "conflicting lock",
    "is locked",
    "failed to initialize ducklake",
)
WAIT_NOTICE_AFTER_S = 2.0
_SNAPSHOT_SQL = f"SELECT id FROM {LAKE_NAME}.current_snapshot()"  # noqa: S608 - a constant name


def _retryable(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, duckdb.Error) and any(t in text for t in _RETRY_TEXT)


class LakeConnector:
    """One DuckDB instance per process with the lake attached; each operation gets its own cursor.

    Operations of one process are serialized (as for a local file). An operation that hits a
    commit conflict or a locked catalog is retried whole until `lock_timeout`. A `duckdb:`
    catalog allows one process at a time: it is attached for each operation and detached after.
    """

    def __init__(
        self,
        spec: LakeSpec,
        *,
        lock_timeout: float = 60.0,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        self.spec = spec
        self.lock_timeout = lock_timeout
        self.on_wait = on_wait
        self.path = spec.lock_base()
        self._shared = _shared(spec)
        self._plock = self._shared.lock

    @property
    def last_snapshot(self) -> int | None:
        """The lake snapshot that the latest read of this process saw."""
        return self._shared.last_snapshot

    @property
    def where(self) -> str:
        return self.spec.label

    def close(self) -> None:
        """Close this process's connection to the lake (the next operation opens it again)."""
        with self._plock:
            if self._shared.con is not None:
                self._shared.con.close()
            self._shared.con = None
            self._shared.attached = False

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """As `Connector.reading`: here every read already shares this process's lake instance."""
        yield

    def run(self, fn: Callable[[duckdb.DuckDBPyConnection], T], *, read_only: bool = False) -> T:
        """Call `fn(cursor)` on the lake; retried whole (`RetryPolicy`) on a commit conflict or a
        busy catalog until `lock_timeout`, then `StoreBusy` (exit 3)."""
        policy = RetryPolicy(
            self.lock_timeout, first_delay=0.02, max_delay=0.5, notice_after=WAIT_NOTICE_AFTER_S, notify=self.on_wait
        )

        def attempt(deadline: float) -> T:
            with self._plock, self._catalog_turn(deadline):
                return self._run_once(fn, read_only)

        try:
            return policy.call(
                attempt,
                transient=_retryable,
                gave_up=lambda exc: StoreBusy(
                    f"store {self.where} stayed busy: {str(exc).splitlines()[-1][:200]}; "
                    f"gave up after {self.lock_timeout:g}s",
                    hint="other writers keep conflicting; try again",
                ),
                waiting=lambda exc: f"waiting for other writers of {self.where} ...",
            )
        except OSError as exc:
            raise StoreIOError(f"cannot use the store {self.where}: {exc}") from exc
        except duckdb.Error as exc:
            raise self._translate(exc) from exc

    @contextlib.contextmanager
    def _catalog_turn(self, deadline: float) -> Iterator[None]:
        """A SQLite catalog: one operation at a time across processes, in turn (an advisory lock
        on `<catalog>.llmctl-lock`). SQLite refuses a commit at once while another process reads
        or writes the file, and under steady load some writer would keep losing; taking turns
        on a lock the kernel queues avoids that. Other catalogs need no turn."""
        if self.spec.kind != "sqlite" or fcntl is None:
            yield
            return
        lock_path = Path(self.spec.target + ".llmctl-lock")
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise StoreBusy(
                            f"store {self.where} stayed busy: another process held its catalog for "
                            f"{self.lock_timeout:g}s",
                            hint="let the other llmctl finish, or try again",
                        ) from None
                    time.sleep(0.005)
            yield
        finally:
            os.close(fd)  # closing drops the lock

    def _translate(self, exc: duckdb.Error) -> StoreError | StoreIOError:
        text = str(exc)
        first = text.splitlines()[0] if text else type(exc).__name__
        if isinstance(exc, duckdb.IOException) or "connection" in text.lower() or "HTTP" in text:
            return StoreIOError(f"cannot reach the store {self.where}: {first[:300]}")
        return StoreError(f"cannot use the store {self.where}: {first[:300]}")

    def _instance(self) -> duckdb.DuckDBPyConnection:
        if self._shared.con is None:
            con = duckdb.connect(
                ":memory:",
                config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
            )
            try:
                from llmctl.store._schema import NO_PROGRESS_BAR

                con.execute(NO_PROGRESS_BAR)  # its cursors inherit it
                prepare_for_lake(con, self.spec)
            except BaseException:
                con.close()
                raise
            self._shared.con = con
        return self._shared.con

    def _attach(self, con: duckdb.DuckDBPyConnection) -> None:
        if self._shared.attached:
            return
        if self.spec.kind != "postgres":
            Path(self.spec.target).parent.mkdir(parents=True, exist_ok=True)
        if not self.spec.data.startswith("s3://"):
            Path(self.spec.data).mkdir(parents=True, exist_ok=True)
        con.execute(attach_lake_sql(self.spec, LAKE_NAME))
        self._shared.attached = True

    def _detach(self, con: duckdb.DuckDBPyConnection) -> None:
        if self._shared.attached:
            con.execute(f"DETACH {LAKE_NAME}")
            self._shared.attached = False

    def _run_once(self, fn: Callable[[duckdb.DuckDBPyConnection], T], read_only: bool) -> T:
        con = self._instance()
        try:
            self._attach(con)
            if not self._shared.schema_checked:
                self._check_schema(con)
            cur = con.cursor()
            try:
                cur.execute(f"USE {LAKE_NAME}")
                if read_only:
                    row = cur.execute(_SNAPSHOT_SQL).fetchall()
                    self._shared.last_snapshot = int(row[0][0]) if row else None
                return fn(cast(duckdb.DuckDBPyConnection, LakeCursor(cur, self._shared.keys)))
            finally:
                cur.close()
        except duckdb.Error:
            # A failed attach or a broken catalog connection: start clean next time.
            self._shared.attached = self._shared.attached and self.spec.kind != "duckdb"
            raise
        finally:
            if self.spec.kind == "duckdb":
                self._detach(con)

    def _check_schema(self, con: duckdb.DuckDBPyConnection) -> None:
        """Once per process and lake (`_Shared.schema_checked`): refuse a store that is not
        llmctl's or is newer, migrate an older one. A store at this schema is recognised by one
        statement (`read_current`), which also fills the key cache; anything else takes the full
        check (`current_version`: four catalog reads, ~1 s on a busy SQLite catalog)."""
        from llmctl.store._schema import SCHEMA_VERSION, NotAStore, current_version, migrate, transaction

        cur = con.cursor()
        try:
            cur.execute(f"USE {LAKE_NAME}")
            keys = read_current(cur, SCHEMA_VERSION)
            if keys is not None:
                self._shared.keys.tables = keys
                self._shared.schema_checked = True
                return
            lake = cast(duckdb.DuckDBPyConnection, LakeCursor(cur, self._shared.keys))
            try:
                # one transaction: the tables and the versions from one snapshot (another process
                # may be migrating between two statements)
                version = transaction(lake, lambda: current_version(lake))
            except NotAStore as exc:
                raise StoreError(f"store {self.where} is not an llmctl store ({exc}); it was left unchanged") from None
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"store {self.where} was written by a newer llmctl "
                    f"(schema v{version}, this one knows v{SCHEMA_VERSION})",
                    hint="upgrade llmctl to read it",
                )
            if version != SCHEMA_VERSION:
                migrate(lake, lake=True)
                # the keys as recorded, not as this process's (perhaps retried) migrations left them
                self._shared.keys.tables = read_current(cur, SCHEMA_VERSION)
        finally:
            cur.close()
        self._shared.schema_checked = True


@dataclass
class _Shared:
    """What every connector of one process to one lake shares: the DuckDB instance and its lock."""

    lock: threading.RLock
    con: duckdb.DuckDBPyConnection | None = None
    attached: bool = False
    schema_checked: bool = False
    last_snapshot: int | None = None
    keys: KeyCache = field(default_factory=KeyCache)


_shared_guard = threading.Lock()
_shared_by_spec: dict[LakeSpec, _Shared] = {}


def _shared(spec: LakeSpec) -> _Shared:
    with _shared_guard:
        found = _shared_by_spec.get(spec)
        if found is None:
            found = _shared_by_spec[spec] = _Shared(threading.RLock())
        return found

"""DuckDB storage versions: recognise a store file another DuckDB wrote, and convert it.

A DuckDB file says which storage format it uses in its main header (a little-endian u64 at
byte 12, after the checksum and `DUCK`). The DuckDB 1.5 line that llmctl uses reads formats
64 to 68; DuckDB 2.x writes 999, which 1.5 cannot read. Such a file is refused before DuckDB
opens it (so it is never touched), with the command that converts it:

    llmctl store convert PATH

which exports every table to Parquet with a DuckDB that reads the file (run by
`uv run --with 'duckdb>=2,<3'`, or `--python` naming an interpreter that has it), imports
them into a new file with this DuckDB, checks every table's row count, and swaps the new
file in; the original is kept beside it as `PATH.duckdb-<format>.bak`.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
from pathlib import Path

import duckdb

from llmctl.errors import InputError, StoreError

READABLE = range(64, 69)  # what DuckDB 1.5 reads
WRITERS = {999: ("DuckDB 2.x", "duckdb>=2,<3")}


def storage_version(path: Path) -> int | None:
    """The storage format number of a DuckDB file, or None when it is not one."""
    with Path(path).open("rb") as fh:
        head = fh.read(20)
    if len(head) < 20 or head[8:12] != b"DUCK":
        return None
    return int(struct.unpack_from("<Q", head, 12)[0])


def foreign_version_error(path: Path, version: int) -> StoreError:
    writer = WRITERS.get(version, (f"another DuckDB release (storage format {version})", None))[0]
    return StoreError(
        f"store was written by {writer} (storage format {version}); this llmctl uses DuckDB "
        f"{duckdb.__version__}, which reads formats {READABLE.start}-{READABLE.stop - 1}; it was left unchanged",
        file=path,
        hint=f"convert it (the original is kept as a .bak): llmctl store convert {path}",
    )


_EXPORT = r"""
import duckdb, json, sys
src, out = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute("ATTACH '" + src.replace("'", "''") + "' AS src (READ_ONLY)")
con.execute("USE src")
tables = [r[0] for r in con.execute(
    "SELECT table_name FROM duckdb_tables() WHERE database_name = 'src' AND schema_name = 'main'").fetchall()]
counts = {t: con.execute('SELECT count(*) FROM "' + t.replace('"', '""') + '"').fetchall()[0][0] for t in tables}
con.execute("EXPORT DATABASE '" + out.replace("'", "''") + "' (FORMAT parquet)")
print(json.dumps({"duckdb": duckdb.__version__, "counts": counts}))
"""


def export_command(version: int, python: str | None, duckdb_spec: str | None) -> list[str]:
    """The command that runs the exporter with a DuckDB that reads `version`."""
    if python:
        return [python, "-c", _EXPORT]
    spec = duckdb_spec or WRITERS.get(version, (None, None))[1]
    if spec is None:
        raise InputError(
            f"no known DuckDB release for storage format {version}",
            hint="name one: llmctl store convert PATH --duckdb 'duckdb==X.Y.Z' (or --python PY with it installed)",
        )
    uv = shutil.which("uv")
    if uv is None:
        raise InputError(
            "converting needs `uv` (to run a DuckDB that reads this file) or --python",
            hint=f"pip install uv, or: python -m venv /tmp/duckdb-old && /tmp/duckdb-old/bin/pip install '{spec}' "
            "&& llmctl store convert PATH --python /tmp/duckdb-old/bin/python",
        )
    return [uv, "run", "--no-project", "--quiet", "--with", spec, "python", "-c", _EXPORT]


def convert(path: Path, *, python: str | None = None, duckdb_spec: str | None = None) -> dict[str, int]:
    """Convert the store file at `path` to this DuckDB's format in place; returns the rows per table."""
    path = Path(path).absolute()
    if not path.is_file():
        raise InputError("no such store file", file=path)
    version = storage_version(path)
    if version is None:
        raise InputError("not a DuckDB database file", file=path)
    if version in READABLE:
        raise InputError(f"nothing to convert: DuckDB {duckdb.__version__} reads this file already", file=path)
    work = path.with_name(f".{path.name}.convert-{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    new = work / "store.duckdb"
    try:
        cmd = [*export_command(version, python, duckdb_spec), str(path), str(work / "export")]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, check=False)
        except OSError as exc:
            raise InputError(f"cannot run the exporter {cmd[0]}: {exc}") from None
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise StoreError("exporting with the other DuckDB failed: " + " / ".join(tail), file=path)
        report = json.loads(done.stdout.strip().splitlines()[-1])
        counts: dict[str, int] = {str(k): int(v) for k, v in report["counts"].items()}
        con = duckdb.connect(str(new), config={"autoinstall_known_extensions": False})
        try:
            con.execute("IMPORT DATABASE '" + str(work / "export").replace("'", "''") + "'")
            for table, n in counts.items():
                got = con.execute('SELECT count(*) FROM "' + table.replace('"', '""') + '"').fetchall()[0][0]  # noqa: S608
                if got != n:
                    raise StoreError(f"conversion lost rows of {table} ({got} of {n}); nothing was changed", file=path)
            con.execute("CHECKPOINT")
        finally:
            con.close()
        backup = path.with_name(f"{path.name}.duckdb-{version}.bak")
        wal = path.with_name(path.name + ".wal")
        if wal.exists():  # the old file's log must never meet the new file
            os.replace(wal, backup.with_name(backup.name + ".wal"))
        os.replace(path, backup)
        os.replace(new, path)
        return counts
    finally:
        shutil.rmtree(work, ignore_errors=True)

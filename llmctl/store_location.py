"""Where the store lives: a local DuckDB file (a path) or a shared DuckLake (`LakeSpec`).

A leaf module (no DuckDB import), so reading llmctl.yaml stays cheap; the store itself is
in `llmctl.store`.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmctl.errors import InputError

CATALOG_KINDS = ("sqlite", "postgres", "duckdb")
URL_HINT = "ducklake:sqlite:/shared/llmctl/catalog.sqlite;data=/shared/llmctl/data/"


@dataclass(frozen=True)
class LakeSpec:
    """Where a DuckLake store lives: its catalog (`kind:target`) and its data path (folder or s3://)."""

    kind: str
    target: str
    data: str

    @property
    def catalog(self) -> str:
        return f"{self.kind}:{self.target}"

    @property
    def label(self) -> str:
        """For messages: the catalog without any password, and the data path."""
        target = re.sub(r"(password\s*=\s*)('[^']*'|\S+)", r"\1***", self.target, flags=re.IGNORECASE)
        target = re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", target)
        return f"ducklake:{self.kind}:{target} (data {self.data})"

    def exists(self) -> bool:
        """Whether the catalog may hold a store already (a file catalog exists; a server always may)."""
        if self.kind == "postgres":
            return True
        return Path(self.target).exists()

    def lock_base(self) -> Path:
        """A local path for this store's per-machine lock files (run locks)."""
        digest = hashlib.sha256(f"{self.catalog}\x1f{self.data}".encode()).hexdigest()[:16]
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "llmctl" / "lakes"
        return base / f"lake-{digest}"


def parse_lake(
    catalog: Any, data: Any, *, root: Path, file: Path | str | None = None, line: int | None = None
) -> LakeSpec:
    """A LakeSpec from `ducklake:` and `data:` values; relative paths are taken from `root`."""
    if not isinstance(catalog, str) or ":" not in catalog:
        raise InputError(
            f"store.ducklake must be sqlite:PATH, postgres:CONNINFO or duckdb:PATH, got {catalog!r}",
            file=file,
            line=line,
        )
    kind, _, target = catalog.partition(":")
    kind = kind.strip().lower()
    if kind == "postgresql":
        kind = "postgres"
    if kind not in CATALOG_KINDS or not target.strip():
        raise InputError(
            f"store.ducklake must be sqlite:PATH, postgres:CONNINFO or duckdb:PATH, got {catalog!r}",
            file=file,
            line=line,
        )
    target = target.strip()
    if kind != "postgres":
        target = str(_absolute(target, root))
    if not isinstance(data, str) or not data.strip():
        raise InputError("store.data must be a folder or an s3://bucket/prefix/ URL", file=file, line=line)
    data = data.strip()
    if "://" in data:
        if not data.startswith("s3://"):
            raise InputError(
                f"store.data: only folders and s3:// URLs are supported, got {data!r}", file=file, line=line
            )
    else:
        data = str(_absolute(data, root))
    if not data.endswith("/"):
        data += "/"
    return LakeSpec(kind, target, data)


def parse_store_url(text: str, *, root: Path) -> LakeSpec | Path:
    """`LLMCTL_STORE`: a path (a local DuckDB file) or `ducklake:<catalog>;data=<path or s3 url>`."""
    text = text.strip()
    if not text.startswith("ducklake:"):
        return _absolute(text, root)
    body = text[len("ducklake:") :]
    catalog, sep, data = body.rpartition(";data=")
    if not sep:
        raise InputError(f"LLMCTL_STORE={text!r} names no data path", hint=f"for example {URL_HINT}")
    return parse_lake(catalog, data, root=root, file="LLMCTL_STORE")


def _absolute(path: str, root: Path) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else root / p


def lake_from_mapping(value: Mapping[str, Any], *, root: Path, file: Path | str | None, line: int | None) -> LakeSpec:
    unknown = sorted(set(value) - {"ducklake", "data"})
    if unknown:
        raise InputError(f"unknown key {unknown[0]!r} in store (it takes ducklake and data)", file=file, line=line)
    if "ducklake" not in value or "data" not in value:
        raise InputError(
            "a shared store needs both `ducklake:` (the catalog) and `data:` (the Parquet files)", file=file, line=line
        )
    return parse_lake(value["ducklake"], value["data"], root=root, file=file, line=line)

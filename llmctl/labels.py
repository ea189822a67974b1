"""Human labels: `evalsets/labels/<evalset>.jsonl` in git, mirrored in the store.

One JSON object a line (DESIGN.md "Viewer, labels, calibration"):
`{"case_id", "model", "output_sha256", "label": "pass"|"fail", "score", "note", "by", "at"}`.
A label belongs to one output text (by its SHA-256), so a changed output is unlabelled again.
The file keeps one line per (case_id, model, output_sha256); a newer label replaces an older one.

    from llmctl.labels import add_labels, import_labels, LabelIndex
"""

from __future__ import annotations

import csv
import getpass
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmctl import fmt
from llmctl.errors import InputError
from llmctl.hashing import sha256_hex

if TYPE_CHECKING:
    from llmctl.store import Store

LABEL_VALUES = ("pass", "fail")
LABELS_DIR = Path("evalsets") / "labels"
PREFERENCES_SUFFIX = ".preferences.jsonl"  # pairwise human preferences, beside the labels
_FIELDS = ("case_id", "model", "output_sha256", "label", "score", "note", "by", "at")


def output_sha256(text: str | None) -> str:
    """The SHA-256 hex digest of an output's UTF-8 text (the key a label is bound to)."""
    return sha256_hex(text or "")


@dataclass(frozen=True)
class Label:
    case_id: str
    model: str
    output_sha256: str
    label: str
    score: float | None = None
    note: str = ""
    by: str = ""
    at: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.case_id, self.model, self.output_sha256)

    @property
    def passed(self) -> bool:
        return self.label == "pass"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def now_iso() -> str:
    return fmt.now()


def default_reviewer() -> str:
    """Who is labelling: $LLMCTL_REVIEWER, else the login name."""
    name = os.environ.get("LLMCTL_REVIEWER")
    if name:
        return name
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"


def labels_path(root: Path, evalset: str) -> Path:
    """`<root>/evalsets/labels/<evalset>.jsonl` (the evalset name must stay inside that folder)."""
    parts = Path(evalset).parts
    if not evalset or Path(evalset).is_absolute() or ".." in parts:
        raise InputError(f"evalset name {evalset!r} cannot name a labels file")
    return root / LABELS_DIR / f"{evalset}.jsonl"


def make_label(
    case_id: str,
    model: str,
    output: str | None,
    label: str,
    *,
    score: float | None = None,
    note: str = "",
    by: str | None = None,
    at: str | None = None,
) -> Label:
    """A label for one output text, checked."""
    return _checked(
        {"case_id": case_id, "model": model, "output_sha256": output_sha256(output), "label": label,
         "score": score, "note": note, "by": by or default_reviewer(), "at": at or now_iso()},
        None,
        None,
    )  # fmt: skip


def _checked(data: Any, file: str | None, line: int | None) -> Label:
    if not isinstance(data, dict):
        raise InputError("a label must be a JSON object", file=file, line=line)
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise InputError(f"unknown label field {unknown[0]!r} (known: {', '.join(_FIELDS)})", file=file, line=line)
    for key in ("case_id", "model", "output_sha256", "label"):
        if not isinstance(data.get(key), str) or not data.get(key):
            raise InputError(f"label needs {key!r} (a non-empty string)", file=file, line=line)
    label = str(data["label"]).strip().lower()
    if label not in LABEL_VALUES:
        raise InputError(f"label must be pass or fail, got {data['label']!r}", file=file, line=line)
    sha = str(data["output_sha256"]).lower()
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise InputError("'output_sha256' must be 64 hex digits", file=file, line=line)
    score = data.get("score")
    if score is not None:
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not 0.0 <= float(score) <= 1.0:
            raise InputError(f"label 'score' must be a number from 0 to 1, got {score!r}", file=file, line=line)
        score = float(score)
    return Label(
        case_id=str(data["case_id"]),
        model=str(data["model"]),
        output_sha256=sha,
        label=label,
        score=score,
        note=str(data.get("note") or ""),
        by=str(data.get("by") or ""),
        at=str(data.get("at") or ""),
    )


def read_labels(path: Path) -> list[Label]:
    """The labels in a labels file (none when it does not exist); a bad line is an InputError at file:line."""
    if not path.exists():
        return []
    out: dict[tuple[str, str, str], Label] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError("labels file is not UTF-8", file=path) from None
    for n, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise InputError(f"not JSON: {exc}", file=path, line=n) from None
        lb = _checked(data, str(path), n)
        out[lb.key] = lb
    return list(out.values())


def write_labels(path: Path, labels: Iterable[Label]) -> None:
    """Write a labels file whole (atomically), sorted by case, model, output hash."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        json.dumps(lb.to_dict(), ensure_ascii=False, sort_keys=False) for lb in sorted(labels, key=lambda x: x.key)
    ]
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write("".join(line + "\n" for line in lines))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def add_labels(root: Path, evalset: str, new: Iterable[Label], store: Store | None = None) -> Path:
    """Merge `new` into the evalset's labels file (a newer label of the same output replaces the old)
    and mirror the whole file into the store. Returns the file's path."""
    path = labels_path(root, evalset)
    merged = {lb.key: lb for lb in read_labels(path)}
    for lb in new:
        merged[lb.key] = lb
    write_labels(path, merged.values())
    if store is not None:
        store.put_labels(evalset, [lb.to_dict() for lb in merged.values()], replace=True)
    return path


def sync_store(root: Path, store: Store) -> int:
    """Mirror every labels file under `evalsets/labels/` into the store. Returns how many labels."""
    folder = root / LABELS_DIR
    total = 0
    for path in _label_files(folder):
        evalset = path.relative_to(folder).with_suffix("").as_posix()
        labels = read_labels(path)
        store.put_labels(evalset, [lb.to_dict() for lb in labels], replace=True)
        total += len(labels)
    return total


def _label_files(folder: Path) -> list[Path]:
    """The labels files under `folder` (not the pairwise preference files)."""
    if not folder.is_dir():
        return []
    return [p for p in sorted(folder.rglob("*.jsonl")) if not p.name.endswith(PREFERENCES_SUFFIX)]


def preferences_path(root: Path, evalset: str) -> Path:
    """`<root>/evalsets/labels/<evalset>.preferences.jsonl`."""
    return labels_path(root, evalset).with_name(Path(evalset).name + PREFERENCES_SUFFIX)


def add_preference(
    root: Path,
    evalset: str,
    *,
    case_id: str,
    model: str,
    preferred: str | None,
    other: str | None,
    tie: bool = False,
    note: str = "",
) -> Path:
    """Append one pairwise judgement: `preferred`'s output is better than `other`'s (or a tie).

    One JSON object a line: `{"case_id", "model", "preferred_sha256", "other_sha256", "tie",
    "note", "by", "at"}` (with a tie, the order of the two hashes means nothing).
    """
    path = preferences_path(root, evalset)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "case_id": case_id,
        "model": model,
        "preferred_sha256": output_sha256(preferred),
        "other_sha256": output_sha256(other),
        "tie": bool(tie),
        "note": note,
        "by": default_reviewer(),
        "at": now_iso(),
    }
    with path.open("a", encoding="utf-8", newline="\n") as fh:
        fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


class LabelIndex:
    """Labels by (case_id, model, output_sha256), read from files."""

    def __init__(self, labels: Iterable[Label]) -> None:
        self._by_key = {lb.key: lb for lb in labels}

    @classmethod
    def from_files(cls, paths: Iterable[Path]) -> LabelIndex:
        labels: list[Label] = []
        for path in paths:
            labels.extend(read_labels(path))
        return cls(labels)

    @classmethod
    def from_folder(cls, root: Path) -> LabelIndex:
        folder = root / LABELS_DIR
        return cls.from_files(_label_files(folder))

    def get(self, case_id: str, model: str, output: str | None) -> Label | None:
        return self._by_key.get((case_id, model, output_sha256(output)))

    def __len__(self) -> int:
        return len(self._by_key)


# -- import ------------------------------------------------------------------------------


def _import_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        raise InputError(f"no labels file {path}")
    suffix = path.suffix.lower()
    rows: list[tuple[int, dict[str, Any]]] = []
    if suffix == ".jsonl":
        for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                data = json.loads(raw)
            except ValueError as exc:
                raise InputError(f"not JSON: {exc}", file=path, line=n) from None
            if not isinstance(data, dict):
                raise InputError("each line must be a JSON object", file=path, line=n)
            rows.append((n, data))
    elif suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or "case_id" not in reader.fieldnames or "label" not in reader.fieldnames:
                raise InputError("CSV needs the columns case_id,label[,model,score,note]", file=path, line=1)
            for row in reader:
                rows.append((reader.line_num, {k: v for k, v in row.items() if k and v not in (None, "")}))
    else:
        raise InputError(f"labels import takes .csv or .jsonl, not {path.name!r}", file=path)
    return rows


def import_labels(
    path: Path, store: Store, root: Path, run_ref: str | None = None, evalset: str | None = None
) -> tuple[Path, list[Label]]:
    """Bind rows `case_id,label[,model,score,note]` of a CSV/JSONL file to a run's outputs
    (default: the latest run of `evalset`, else the latest run) and add them to the labels file.

    A row without `model` labels that case's output of every model in the run. A case that the
    run does not have is an InputError at the row's line.
    """
    rows = _import_rows(path)
    if run_ref is None:
        runs = store.list_runs(limit=1, evalset=evalset)
        if not runs:
            raise InputError(f"no run{f' of evalset {evalset!r}' if evalset else ''} in the store to bind labels to")
        run = runs[0]
    else:
        run = store.get_run(run_ref)
    run_evalset = str(run.get("evalset") or evalset or "")
    if not run_evalset:
        raise InputError(f"run {run['id']} has no evalset; labels are kept per evalset")
    outputs: dict[str, list[tuple[str, str]]] = {}
    for o in store.outcomes(str(run["id"])):
        if o.output is not None:
            outputs.setdefault(o.case_id, []).append((o.model, o.output))
    who, when = default_reviewer(), now_iso()
    new: list[Label] = []
    for line, data in rows:
        case_id = str(data.get("case_id") or "")
        if not case_id:
            raise InputError("row has no case_id", file=path, line=line)
        matches = outputs.get(case_id, [])
        model = data.get("model")
        if model:
            matches = [m for m in matches if m[0] == model]
        if not matches:
            raise InputError(
                f"run {run['id']} has no output for case {case_id!r}" + (f" and model {model!r}" if model else ""),
                file=path,
                line=line,
            )
        score = data.get("score")
        if isinstance(score, str):
            try:
                score = float(score)
            except ValueError:
                raise InputError(f"score must be a number, got {score!r}", file=path, line=line) from None
        seen: set[tuple[str, str]] = set()
        for m, output in matches:
            sha = output_sha256(output)
            if (m, sha) in seen:
                continue
            seen.add((m, sha))
            record = {
                "case_id": case_id,
                "model": m,
                "output_sha256": sha,
                "label": str(data.get("label", "")),
                "score": score,
                "note": data.get("note") or "",
                "by": data.get("by") or who,
                "at": data.get("at") or when,
            }
            new.append(_checked(record, str(path), line))
    dest = add_labels(root, run_evalset, new, store)
    return dest, new


__all__ = [
    "LABELS_DIR",
    "LABEL_VALUES",
    "Label",
    "LabelIndex",
    "add_labels",
    "add_preference",
    "import_labels",
    "labels_path",
    "make_label",
    "output_sha256",
    "preferences_path",
    "read_labels",
    "sync_store",
    "write_labels",
]

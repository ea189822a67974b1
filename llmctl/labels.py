"""Human labels: `evalsets/labels/<evalset>.jsonl` in git, mirrored in the store.

One JSON object a line (docs/viewer.md):
`{"case_id", "model", "output_sha256", "label": "pass"|"fail", "score", "note", "by", "at"}`.
A label belongs to one output (`output_sha256`, see `output_sha256()`): of its UTF-8 text when
the output is text only, else of the canonical JSON of `{content, tool_calls, turns}`, so a
changed output (a different tool-call argument included) is unlabelled again.
The file keeps one line per (case_id, model, output_sha256); a newer label replaces an older one.

Writes are serialized and atomic: an exclusive `flock` on the labels folder is held across
read-merge-write, the new file is written beside the old one (keeping its mode) and renamed
over it, so two writers (two viewer tabs, the viewer and `labels import`) never lose each
other's labels. A writer that passes `expect` (what it last saw) and finds the label changed
since gets a LabelConflict instead of silently replacing it. The file must resolve (links
followed) to a path inside the project.

    from llmctl.labels import add_labels, import_labels, LabelIndex
"""

from __future__ import annotations

import csv
import getpass
import io
import json
import os
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmctl import fmt
from llmctl.errors import InfraError, InputError
from llmctl.hashing import canonical_json, sha256_hex

if TYPE_CHECKING:
    from llmctl.store import Store

LABEL_VALUES = ("pass", "fail")
LABELS_DIR = Path("evalsets") / "labels"
PREFERENCES_SUFFIX = ".preferences.jsonl"  # pairwise human preferences, beside the labels
_FIELDS = ("case_id", "model", "output_sha256", "label", "score", "note", "by", "at")
LOCK_TIMEOUT_S = 10.0  # how long a writer waits for another one before it is told
MAX_BY = 200  # characters in a reviewer's name
CSV_FIELD_LIMIT = 131_072  # bytes in one CSV field (the csv module's own limit)


class LabelConflict(InputError):
    """A label changed on disk after the writer last saw it (the writer lost a race)."""


def _jsonish(value: Any) -> Any:
    if isinstance(value, (str, bytes, bytearray)):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _call_identity(call: Any, raw: bool) -> Any:
    """What a tool call said: its name and arguments (parsed, else the raw text; `raw`: the raw
    text always); not its provider-made id, which differs between two identical answers."""
    if not isinstance(call, Mapping):
        return call
    args = None if raw else call.get("arguments")
    if args is None:
        args = call.get("raw_arguments")
    return {"name": call.get("name"), "arguments": args}


def _calls_identity(calls: Any, raw: bool = False) -> list[Any] | None:
    calls = _jsonish(calls)
    if not calls:
        return None
    return [_call_identity(c, raw) for c in calls] if isinstance(calls, list) else calls


def output_sha256(text: str | None, tool_calls: Any = None, turns: Any = None) -> str:
    """The key a label is bound to (docs/viewer.md): the SHA-256 hex of
    the output's UTF-8 text when it is text only (no tool calls, no turns); otherwise of the
    canonical JSON (sorted keys, fixed separators) of `{content, tool_calls, turns}`.

    Tool calls count by name and arguments (not the provider's call id); each turn by what the
    model said in it (`user_turn`, `output`, `tool_calls`), not its tokens, cost or latency.
    `tool_calls` and `turns` may be lists or their JSON text (as the store keeps them).
    """
    steps = _jsonish(turns)
    if not _calls_identity(tool_calls) and not steps:
        return sha256_hex(text or "")
    try:
        return sha256_hex(canonical_json(_canonical_output(text, tool_calls, steps, raw=False)))
    except RecursionError:  # arguments nested too deeply to serialise: their raw text stands in
        return sha256_hex(canonical_json(_canonical_output(text, tool_calls, steps, raw=True)))


def _canonical_output(text: str | None, tool_calls: Any, steps: Any, *, raw: bool) -> dict[str, Any]:
    said = steps or None
    if isinstance(steps, list) and steps:
        said = [
            {
                "user_turn": t.get("user_turn"),
                "output": t.get("output"),
                "tool_calls": _calls_identity(t.get("tool_calls"), raw),
            }
            if isinstance(t, Mapping)
            else t
            for t in steps
        ]
    return {"content": text or "", "tool_calls": _calls_identity(tool_calls, raw), "turns": said}


def identity_of(row: Any) -> str:
    """`output_sha256` of a stored result (a mapping or an object with output, tool_calls, turns)."""
    get: Callable[[str], Any] = row.get if isinstance(row, Mapping) else (lambda k: getattr(row, k, None))
    return output_sha256(get("output"), get("tool_calls"), get("turns"))


def has_output(row: Mapping[str, Any]) -> bool:
    """Whether a stored result has an answer to label (text, or tool calls only)."""
    return row.get("output") is not None or bool(_jsonish(row.get("tool_calls")))


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
    def stamp(self) -> str:
        """What a writer saw of this label (for `add_labels(expect=...)`)."""
        return f"{self.label} {self.by} {self.at}"

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
    """`<root>/evalsets/labels/<evalset>.jsonl` (the evalset name must stay inside that folder,
    and the file, links followed, inside the project)."""
    parts = Path(evalset).parts
    if not evalset or Path(evalset).is_absolute() or ".." in parts or "\x00" in evalset:
        raise InputError(f"evalset name {evalset!r} cannot name a labels file")
    path = root / LABELS_DIR / f"{evalset}.jsonl"
    check_inside(root, path, what="labels file")
    return path


def check_inside(root: Path, path: Path, *, what: str, file: Any = None, line: int | None = None) -> Path:
    """`path` with links resolved, or an InputError when it leads outside the project (or into .git)."""
    from llmctl.sources import is_inside

    real = path.resolve()
    if not is_inside(real, root, None):
        shown = path.relative_to(root) if path.is_relative_to(root) else path
        raise InputError(
            f"{what} {str(shown)!r} leads outside the project (an absolute path, '..' or a symbolic link)",
            file=file,
            line=line,
        )
    return real


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
    tool_calls: Any = None,
    turns: Any = None,
) -> Label:
    """A label for one output (its text, tool calls and turns), checked."""
    return _checked(
        {"case_id": case_id, "model": model, "output_sha256": output_sha256(output, tool_calls, turns),
         "label": label, "score": score, "note": note, "by": by or default_reviewer(), "at": at or now_iso()},
        None,
        None,
    )  # fmt: skip


def _valid_time(text: str) -> bool:
    try:
        datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        return False
    return True


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
    for key in ("note", "by", "at"):
        if data.get(key) is not None and not isinstance(data.get(key), str):
            raise InputError(f"label {key!r} must be a string", file=file, line=line)
    by, at = str(data.get("by") or ""), str(data.get("at") or "")
    if len(by) > MAX_BY or not by.isprintable():
        raise InputError(
            f"label 'by' must be a printable name of at most {MAX_BY} characters, got {by[:40]!r}", file=file, line=line
        )
    if at and not _valid_time(at):
        raise InputError(f"label 'at' must be an ISO-8601 time, got {at[:40]!r}", file=file, line=line)
    return Label(
        case_id=str(data["case_id"]),
        model=str(data["model"]),
        output_sha256=sha,
        label=label,
        score=score,
        note=str(data.get("note") or ""),
        by=by,
        at=at,
    )


def json_line(raw: bytes, file: Any, line: int) -> Any:
    """One JSONL line's value: invalid UTF-8, bad JSON and nesting too deep are InputErrors at file:line."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 (byte {exc.start + 1} of the line)", file=file, line=line) from None
    if line == 1:
        text = text.removeprefix("\ufeff")
    try:
        return json.loads(text)
    except RecursionError:
        raise InputError("JSON nested too deeply", file=file, line=line) from None
    except ValueError as exc:
        raise InputError(f"not JSON: {exc}", file=file, line=line) from None


def _jsonl_lines(path: Path) -> Iterator[tuple[int, Any]]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read labels file: {exc.strerror or exc}", file=path) from None
    for n, raw in enumerate(data.split(b"\n"), start=1):
        if raw.strip():
            yield n, json_line(raw.rstrip(b"\r"), path, n)


def read_labels(path: Path) -> list[Label]:
    """The labels in a labels file (none when it does not exist); a bad line is an InputError at file:line."""
    if not path.exists():
        return []
    out: dict[tuple[str, str, str], Label] = {}
    for n, data in _jsonl_lines(path):
        lb = _checked(data, str(path), n)
        out[lb.key] = lb
    return list(out.values())


def write_labels(path: Path, labels: Iterable[Label]) -> None:
    """Write a labels file whole, sorted by case, model, output hash: a new file beside it
    (flushed to disk, with the old file's mode, else 0666 less the umask) renamed over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        json.dumps(lb.to_dict(), ensure_ascii=False, sort_keys=False) for lb in sorted(labels, key=lambda x: x.key)
    ]
    try:
        mode: int | None = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = None
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write("".join(line + "\n" for line in lines))
            fh.flush()
            if mode is not None:
                os.fchmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def _locked(folder: Path, timeout: float) -> Iterator[None]:
    """An exclusive advisory lock on the labels folder (flock on the directory itself, so no
    lock file appears in git), waiting up to `timeout` seconds."""
    from llmctl.locks import flock_exclusive

    fd = os.open(folder, os.O_RDONLY)
    try:
        if not flock_exclusive(fd, timeout):
            raise InfraError(f"another writer has held {folder} for over {timeout:g} s; nothing was written, try again")
        yield
    finally:
        os.close(fd)  # releases the lock


def add_labels(
    root: Path,
    evalset: str,
    new: Iterable[Label],
    store: Store | None = None,
    *,
    expect: Mapping[tuple[str, str, str], str | None] | None = None,
    timeout: float = LOCK_TIMEOUT_S,
) -> Path:
    """Merge `new` into the evalset's labels file (a newer label of the same output replaces the old)
    and mirror the whole file into the store, under the folder's lock. Returns the file's path.

    `expect`: output key -> the `stamp` of the label the writer saw (None: it saw none); when the
    file holds something else for that key, a LabelConflict is raised and nothing is written.
    """
    path = labels_path(root, evalset)
    new = list(new)
    path.parent.mkdir(parents=True, exist_ok=True)
    check_inside(root, path, what="labels file")  # again: the folder exists now
    with _locked(path.parent, timeout):
        merged = {lb.key: lb for lb in read_labels(path)}
        for key, seen in (expect or {}).items():
            now = merged.get(key)
            if (now.stamp if now else None) != (seen or None):
                who = f"{now.label} by {now.by or 'someone'} at {now.at or '?'}" if now else "removed"
                raise LabelConflict(
                    f"the label of case {key[0]!r} ({key[1]}) changed since it was shown ({who}); "
                    "reload and label again",
                    file=path,
                )
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


def lint_labels(root: Path) -> list[InputError]:
    """The problems of the labels files under `evalsets/labels/` (the first of each file, at
    file:line), and of a labels folder or file that leads outside the project."""
    folder = root / LABELS_DIR
    problems: list[InputError] = []
    try:
        if folder.exists() or folder.is_symlink():
            check_inside(root, folder, what="labels folder")
    except InputError as exc:
        return [exc]
    for path in _label_files(folder):
        shown = path.relative_to(root) if path.is_relative_to(root) else path
        try:
            check_inside(root, path, what="labels file")
            for n, data in _jsonl_lines(path):
                _checked(data, str(shown), n)
        except InputError as exc:
            if exc.file == str(path):
                exc.file = str(shown)
            problems.append(exc)
    return problems


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
    check_inside(root, path, what="preferences file")
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
    with _locked(path.parent, LOCK_TIMEOUT_S), path.open("a", encoding="utf-8", newline="\n") as fh:
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

    def get(
        self, case_id: str, model: str, output: str | None, tool_calls: Any = None, turns: Any = None
    ) -> Label | None:
        """The label of this output (its text, tool calls and turns), if any."""
        return self._by_key.get((case_id, model, output_sha256(output, tool_calls, turns)))

    def of(self, row: Any) -> Label | None:
        """The label of a stored result (a mapping or object with case_id, model, output, tool_calls, turns)."""
        get: Callable[[str], Any] = row.get if isinstance(row, Mapping) else (lambda k: getattr(row, k, None))
        return self._by_key.get((str(get("case_id")), str(get("model")), identity_of(row)))

    def __len__(self) -> int:
        return len(self._by_key)


# -- import ------------------------------------------------------------------------------


def _import_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        raise InputError(f"no labels file {path}")
    suffix = path.suffix.lower()
    rows: list[tuple[int, dict[str, Any]]] = []
    if suffix == ".jsonl":
        for n, data in _jsonl_lines(path):
            if not isinstance(data, dict):
                raise InputError("each line must be a JSON object", file=path, line=n)
            rows.append((n, data))
    elif suffix == ".csv":
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8-sig")  # a UTF-8 BOM (as spreadsheets write) is fine
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise InputError("not UTF-8", file=path, line=line) from None
        reader = csv.DictReader(io.StringIO(text, newline=""))
        try:
            if not reader.fieldnames or "case_id" not in reader.fieldnames or "label" not in reader.fieldnames:
                raise InputError("CSV needs the columns case_id,label[,model,score,note]", file=path, line=1)
            for row in reader:
                rows.append((reader.line_num, {k: v for k, v in row.items() if k and v not in (None, "")}))
        except csv.Error as exc:
            line = reader.line_num + 1  # the line being read when it failed
            if "field limit" in str(exc):
                raise InputError(
                    f"a CSV field is longer than {CSV_FIELD_LIMIT:,} bytes", file=path, line=line
                ) from None
            raise InputError(f"bad CSV: {exc}", file=path, line=line) from None
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
    run_evalset = str(run.evalset or evalset or "")
    if not run_evalset:
        raise InputError(f"run {run.id} has no evalset; labels are kept per evalset")
    outputs: dict[str, list[tuple[str, str]]] = {}  # case id -> (model, output_sha256)
    for o in store.results_table(str(run.id), with_scores=False).to_pylist():
        if has_output(o):
            outputs.setdefault(o["case_id"], []).append((o["model"], identity_of(o)))
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
                f"run {run.id} has no output for case {case_id!r}" + (f" and model {model!r}" if model else ""),
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
        for m, sha in matches:
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
    "LabelConflict",
    "LabelIndex",
    "add_labels",
    "add_preference",
    "check_inside",
    "has_output",
    "identity_of",
    "import_labels",
    "labels_path",
    "lint_labels",
    "make_label",
    "output_sha256",
    "preferences_path",
    "read_labels",
    "sync_store",
    "write_labels",
]

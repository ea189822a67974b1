"""Evalset files: which prompts and models to run, the cases, the checks and the gate."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmctl.config import check_gate
from llmctl.errors import InputError
from llmctl.hashing import canonical_json, sha256_hex
from llmctl.schema import EVALSET_SCHEMA, keys_of
from llmctl.sources import check_contained, is_inside, split_ref
from llmctl.suggest import did_you_mean, unknown_key
from llmctl.types import Case, EvaluatorSpec
from llmctl.yamlio import LineDict, LineList, load_yaml_file, plain

EVALSET_KEYS = keys_of(EVALSET_SCHEMA)
CASE_KEYS = keys_of(EVALSET_SCHEMA, "cases")
HISTORY_ROLES = ("user", "assistant", "tool", "system", "developer")
SOURCE_KEYS = keys_of(EVALSET_SCHEMA, "source")
COLUMN_KEYS = keys_of(EVALSET_SCHEMA, "source", "columns")
COMMON_EVALUATOR_KEYS = {"type", "not", "weight", "threshold", "metric", "scope"}
CHUNK = 2000  # source rows turned into cases at a time (Evalset.iter_cases)


@dataclass
class PromptRef:
    """`summarize` or `summarize@production` as written in an evalset."""

    name: str
    ref: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.name}@{self.ref}" if self.ref else self.name


@dataclass
class SourceSpec:
    path: str | None = None
    hf: str | None = None
    hf_name: str | None = None
    split: str = "train"
    columns: dict[str, Any] = field(default_factory=dict)
    limit: int | None = None
    line: int | None = None


@dataclass
class Evalset:
    name: str
    path: str  # as displayed (relative to the project root where possible)
    root: Path
    prompts: list[PromptRef]
    models: list[str] | None = None
    model_lines: list[int] = field(default_factory=list)  # the file line of each of `models`
    repeat: int = 1
    batch: bool = False  # `batch: true`: its uncached calls go through the providers' batch APIs
    evaluators: list[EvaluatorSpec] = field(default_factory=list)
    gate: dict[str, Any] | None = None
    defaults: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    inline_cases: list[Case] = field(default_factory=list)
    source: SourceSpec | None = None
    description: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    scope: str | None = None  # the folder its source files must stay in (None: the project)
    _cases: list[Case] | None = None
    _table: Any = None  # the source as read once (a pyarrow Table, or a dataset's rows): iter_cases

    def cases(self) -> list[Case]:
        """Inline cases plus the source's rows, with unique ids (loaded once, all held)."""
        if self._cases is None:
            self._cases = list(self.iter_cases())
        return self._cases

    def iter_cases(self) -> Iterator[Case]:
        """The same cases as `cases()`, in the same order, made `CHUNK` source rows at a time and
        not kept: `llmctl eval` streams them (a 100,000-row source is never held as cases).
        A duplicate id is an InputError when the second one is reached."""
        if self._cases is not None:
            yield from self._cases
            return
        seen: dict[str, int] = {}
        sources: list[Iterable[Case]] = [self.inline_cases]
        if self.source is not None:
            if self._table is None:
                self._table = _read_table(self, self.source)
            sources.append(iter_source_cases(self, self.source, self._table))
        idx = 0
        for cases in sources:
            for case in cases:
                first = seen.setdefault(case.id, idx)
                if first != idx:
                    raise InputError(
                        f"duplicate case id {case.id!r} (cases #{first + 1} and #{idx + 1})",
                        file=self.path,
                        line=case.metadata.get("_line"),
                    )
                idx += 1
                yield case

    def forget_cases(self) -> None:
        """Drop the cases loaded from the source (`cases()` loads them again if asked): a finished
        run is read back from the store, so a large evalset's cases need not stay in memory."""
        self._cases = None
        self._table = None


def derive_case_id(vars_: dict[str, Any], expected: Any) -> str:
    """A stable id from a case's content, so reordering a file does not re-pair cases."""
    digest = sha256_hex(canonical_json({"vars": vars_, "expected": expected}))
    return f"c-{digest[:10]}"


def parse_evaluator(item: Any, file: str, line: int | None) -> EvaluatorSpec:
    """`{type: contains, value: x}` or the shorthand `json_valid`."""
    if isinstance(item, str):
        return EvaluatorSpec(type=item, config={"type": item}, file=file, line=line)
    if not isinstance(item, dict) or "type" not in item or not isinstance(item["type"], str):
        raise InputError(
            "an evaluator must be a mapping with a 'type' (e.g. {type: contains, value: x})",
            file=file,
            line=line,
        )
    if isinstance(item, LineDict):
        line = item.line
    config = plain(item)
    return EvaluatorSpec(type=item["type"], config=config, file=file, line=line)


def _parse_prompt_ref(text: Any, file: str, line: int) -> PromptRef:
    if not isinstance(text, str) or not text.strip():
        raise InputError("'prompt' must be a prompt name like summarize or summarize@production", file=file, line=line)
    name, ref = split_ref(text.strip())
    if not name or ref == "":
        raise InputError(f"invalid prompt reference {text!r}", file=file, line=line)
    return PromptRef(name=name, ref=ref or None, line=line)


def display_path(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def load_evalset(path: Path, root: Path, evalsets_dir: str = "evalsets") -> Evalset:
    """Parse and validate an evalset file (cases from `source:` load lazily)."""
    scope = _scope_of(path, root, evalsets_dir)
    if path.absolute().is_relative_to(root.absolute()):
        check_contained(path, root, scope, shown=path.absolute().relative_to(root.absolute()).as_posix())
    shown = display_path(path, root)
    data = load_yaml_file(path, display=shown)
    if data is None:
        raise InputError("empty evalset file", file=shown, line=1)
    if not isinstance(data, LineDict):
        raise InputError("an evalset must be a YAML mapping", file=shown, line=1)
    for key in data:
        if key not in EVALSET_KEYS:
            message, hint = unknown_key(key, EVALSET_KEYS)
            raise InputError(message, file=shown, line=data.line_of(key), hint=hint)
    name = shown[: -len(path.suffix)] if path.suffix else shown
    if name.startswith("evalsets/"):
        name = name[len("evalsets/") :]
    prompt_field = data.get("prompt", data.get("prompts"))
    pkey = "prompt" if "prompt" in data else "prompts"
    if prompt_field is None:
        raise InputError("an evalset needs 'prompt:' (a prompt name, or a list)", file=shown, line=1)
    if isinstance(prompt_field, list):
        if not prompt_field:
            raise InputError("'prompt' list is empty", file=shown, line=data.line_of(pkey))
        prompts = [
            _parse_prompt_ref(p, shown, prompt_field.line_of(i) if isinstance(prompt_field, LineList) else 1)
            for i, p in enumerate(prompt_field)
        ]
    else:
        prompts = [_parse_prompt_ref(prompt_field, shown, data.line_of(pkey))]
    ev = Evalset(name=name, path=shown, root=root, prompts=prompts, data=plain(data), scope=scope)
    ev.description = str(data.get("description") or "")
    models = data.get("models")
    if models is not None:
        if isinstance(models, str):
            models = [models]
        if not isinstance(models, list) or not models or not all(isinstance(m, str) for m in models):
            raise InputError(
                "'models' must be a non-empty list of model names", file=shown, line=data.line_of("models")
            )
        ev.models = list(models)
        raw = data["models"]
        at = data.line_of("models")
        ev.model_lines = [raw.line_of(i) if isinstance(raw, LineList) else at for i in range(len(models))]
    repeat = data.get("repeat", 1)
    if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
        raise InputError("'repeat' must be a whole number >= 1", file=shown, line=data.line_of("repeat"))
    ev.repeat = repeat
    if "batch" in data:
        if not isinstance(data["batch"], bool):
            raise InputError("'batch' must be true or false", file=shown, line=data.line_of("batch"))
        ev.batch = data["batch"]
    for key in ("gate", "defaults", "params"):
        value = data.get(key)
        if value is not None and not isinstance(value, dict):
            raise InputError(f"{key!r} must be a mapping", file=shown, line=data.line_of(key))
    ev.gate = plain(data.get("gate")) if data.get("gate") else None
    if ev.gate:
        check_gate(data["gate"], shown)
    defaults = data.get("defaults") or {}
    if defaults and "vars" in defaults:
        ev.defaults = plain(defaults.get("vars") or {})
        extra = set(defaults) - {"vars"}
        if extra:
            message, hint = unknown_key(sorted(extra)[0], {"vars"}, "in defaults")
            raise InputError(message, file=shown, line=data.line_of("defaults"), hint=hint)
    else:
        ev.defaults = plain(defaults)
    ev.params = plain(data.get("params") or {})
    evaluators = data.get("evaluators") or []
    if not isinstance(evaluators, list):
        raise InputError("'evaluators' must be a list", file=shown, line=data.line_of("evaluators"))
    ev.evaluators = [
        parse_evaluator(item, shown, evaluators.line_of(i) if isinstance(evaluators, LineList) else None)
        for i, item in enumerate(evaluators)
    ]
    cases = data.get("cases") or []
    if not isinstance(cases, list):
        raise InputError("'cases' must be a list", file=shown, line=data.line_of("cases"))
    given_ids: dict[str, int] = {}
    for i, item in enumerate(cases):
        line = cases.line_of(i) if isinstance(cases, LineList) else None
        case = _parse_case(item, ev, shown, line)
        if case.id in given_ids:
            raise InputError(
                f"duplicate case id {case.id!r} (first at line {given_ids[case.id]})", file=shown, line=line
            )
        given_ids[case.id] = line or 0
        ev.inline_cases.append(case)
    if "source" in data:
        ev.source = _parse_source(data["source"], shown, data.line_of("source"))
    if not cases and ev.source is None:
        raise InputError("an evalset needs 'cases:' or 'source:'", file=shown, line=1)
    return ev


def _parse_case(item: Any, ev: Evalset, file: str, line: int | None) -> Case:
    if not isinstance(item, dict):
        raise InputError(
            "each case must be a mapping with 'vars' (and optionally id, expected, assert)",
            file=file,
            line=line,
        )
    for key in item:
        if key not in CASE_KEYS:
            message, hint = unknown_key(key, CASE_KEYS, "in case")
            raise InputError(
                message, file=file, line=item.line_of(key) if isinstance(item, LineDict) else line, hint=hint
            )
    vars_ = item.get("vars") or {}
    if not isinstance(vars_, dict):
        raise InputError(
            "case 'vars' must be a mapping",
            file=file,
            line=item.line_of("vars") if isinstance(item, LineDict) else line,
        )
    merged = {**ev.defaults, **plain(vars_)}
    expected = plain(item.get("expected"))
    case_id = item.get("id")
    if case_id is None:
        case_id = derive_case_id(merged, expected)
    elif isinstance(case_id, bool) or not isinstance(case_id, (str, int)) or not str(case_id).strip():
        raise InputError(
            "case 'id' must be a non-empty string",
            file=file,
            line=item.line_of("id") if isinstance(item, LineDict) else line,
        )
    asserts = item.get("assert") or []
    if not isinstance(asserts, list):
        raise InputError(
            "case 'assert' must be a list of evaluators",
            file=file,
            line=item.line_of("assert") if isinstance(item, LineDict) else line,
        )
    specs = [
        parse_evaluator(a, file, asserts.line_of(i) if isinstance(asserts, LineList) else line)
        for i, a in enumerate(asserts)
    ]
    metadata = plain(item.get("metadata") or {})
    if not isinstance(metadata, dict):
        raise InputError("case 'metadata' must be a mapping", file=file, line=line)
    metadata["_line"] = line
    if isinstance(vars_, LineDict):
        metadata["_var_lines"] = {k: vars_.line_of(k) for k in vars_}
    calls = None
    if item.get("expected_tool_calls") is not None:
        calls = plain(item["expected_tool_calls"])
        at = item.line_of("expected_tool_calls") if isinstance(item, LineDict) else line
        if not isinstance(calls, list) or any(
            not isinstance(c, dict)
            or not isinstance(c.get("name"), str)
            or not isinstance(c.get("args", {}), dict)
            or set(c) - {"name", "args"}
            for c in calls
        ):
            raise InputError("case 'expected_tool_calls' must be a list of {name, args}", file=file, line=at)
    case = Case(
        id=str(case_id), vars=merged, expected=expected, asserts=specs, metadata=metadata, expected_tool_calls=calls
    )
    _parse_conversation(case, item, file, line)
    return case


def _parse_conversation(case: Case, item: Any, file: str, line: int | None) -> None:
    """A case's `messages` (history), `tool_results` and `max_turns`, checked at file:line."""

    def at(key: str) -> int | None:
        return item.line_of(key) if isinstance(item, LineDict) else line

    history = item.get("messages")
    if history is not None:
        if not isinstance(history, list):
            raise InputError("case 'messages' must be a list of {role, content}", file=file, line=at("messages"))
        for i, msg in enumerate(history):
            where = history.line_of(i) if isinstance(history, LineList) else at("messages")
            if not isinstance(msg, dict) or msg.get("role") not in HISTORY_ROLES:
                raise InputError(
                    f"each case message needs a role ({', '.join(HISTORY_ROLES)}) and content", file=file, line=where
                )
            if not isinstance(msg.get("content"), str) and not (msg["role"] == "assistant" and msg.get("tool_calls")):
                raise InputError("a case message's 'content' must be a string", file=file, line=where)
        case.messages = plain(history)
    results = item.get("tool_results")
    if results is not None:
        if not isinstance(results, (dict, list)):
            raise InputError(
                "case 'tool_results' must be a mapping {tool: result} or a list of results in call order",
                file=file,
                line=at("tool_results"),
            )
        values = results.values() if isinstance(results, dict) else results
        for value in values:
            if (
                isinstance(value, dict)
                and "error" in value
                and (len(value) != 1 or not isinstance(value["error"], str))
            ):
                raise InputError('a failed tool result is {error: "message"}', file=file, line=at("tool_results"))
        case.tool_results = plain(results)
    turns = item.get("max_turns")
    if turns is not None:
        if isinstance(turns, bool) or not isinstance(turns, int) or not 1 <= turns <= 50:
            raise InputError("case 'max_turns' must be a whole number from 1 to 50", file=file, line=at("max_turns"))
        case.max_turns = turns
    scripted = item.get("turns")
    if scripted is not None:
        if not isinstance(scripted, list) or not all(isinstance(t, str) for t in scripted) or len(scripted) > 50:
            raise InputError("case 'turns' must be a list of user messages (strings)", file=file, line=at("turns"))
        case.turns = list(scripted)


def _parse_source(value: Any, file: str, line: int) -> SourceSpec:
    if isinstance(value, str):
        return SourceSpec(path=value, line=line)
    if not isinstance(value, dict):
        raise InputError("'source' must be a file path or a mapping {path|hf, split, columns}", file=file, line=line)
    for key in value:
        if key not in SOURCE_KEYS:
            message, hint = unknown_key(key, SOURCE_KEYS, "in source")
            raise InputError(
                message, file=file, line=value.line_of(key) if isinstance(value, LineDict) else line, hint=hint
            )
    if bool(value.get("path")) == bool(value.get("hf")):
        raise InputError("'source' needs exactly one of 'path' or 'hf'", file=file, line=line)
    columns = value.get("columns") or {}
    if not isinstance(columns, dict):
        raise InputError("source 'columns' maps id/expected/vars to column names", file=file, line=line)
    for key in columns:
        if key not in COLUMN_KEYS:
            message, hint = unknown_key(key, COLUMN_KEYS, "in source columns")
            at = columns.line_of(key) if isinstance(columns, LineDict) else line
            raise InputError(message, file=file, line=at, hint=hint)
    limit = value.get("limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InputError("source 'limit' must be a whole number >= 1", file=file, line=line)
    return SourceSpec(
        path=value.get("path"),
        hf=value.get("hf"),
        hf_name=value.get("name"),
        split=str(value.get("split") or "train"),
        columns=plain(columns),
        limit=limit,
        line=line,
    )


def resolve_source_path(ev: Evalset, spec: SourceSpec) -> Path:
    """The file of a `source: PATH`, relative to the project or to the evalset's folder.

    After resolving symbolic links it must lie inside the evalsets folder (or, for an
    evalset given by a path elsewhere in the project, inside that evalset's folder),
    never in a `.git` folder.
    """
    assert spec.path is not None
    raw = Path(spec.path)
    if raw.is_absolute():
        raise InputError(f"source path {spec.path!r} must be relative to the project", file=ev.path, line=spec.line)
    root = ev.root.resolve()

    def inside(candidate: Path) -> bool:
        return is_inside(candidate, root, ev.scope)

    for base in (root, (root / ev.path).parent):
        candidate = (base / raw).resolve()
        if inside(candidate) and candidate.is_file():
            return candidate
    where = f"{ev.scope}/" if ev.scope else "the project"
    for base in (root, (root / ev.path).parent):
        candidate = (base / raw).resolve()
        if not inside(candidate) and (candidate.exists() or (base / raw).is_symlink()):
            raise InputError(
                f"source path {spec.path!r} leads outside {where} (through '..' or a symbolic link)",
                file=ev.path,
                line=spec.line,
            )
    if not (root / raw).resolve().is_relative_to(root):
        raise InputError(f"source path {spec.path!r} escapes the project", file=ev.path, line=spec.line)
    raise InputError(f"source file not found: {spec.path}", file=ev.path, line=spec.line)


def _scope_of(path: Path, root: Path, evalsets_dir: str) -> str | None:
    """The folder (relative to the project) an evalset's files must stay in; None: the project."""
    try:
        rel = path.absolute().relative_to(root.absolute())
    except ValueError:
        return None
    folder = Path(evalsets_dir)
    if rel.parts[: len(folder.parts)] == folder.parts:
        return folder.as_posix()
    return None if rel.parent == Path(".") else rel.parent.as_posix()


def _read_table(ev: Evalset, spec: SourceSpec) -> Any:
    """The source as a pyarrow Table (columnar: a few bytes a cell), or a Hugging Face dataset's rows."""
    if spec.hf:
        try:
            import datasets
        except ImportError as exc:  # pragma: no cover - dependency
            raise InputError(f"the datasets package is needed for hf sources: {exc}") from None
        try:
            ds = datasets.load_dataset(spec.hf, spec.hf_name, split=spec.split)
        except Exception as exc:
            raise InputError(
                f"could not load Hugging Face dataset {spec.hf!r}: {exc}", file=ev.path, line=spec.line
            ) from None
        rows: list[dict[str, Any]] = (
            ds.to_list() if spec.limit is None else ds.select(range(min(spec.limit, len(ds)))).to_list()
        )
        return rows
    path = resolve_source_path(ev, spec)
    suffix = path.suffix.lower()
    shown = display_path(path, ev.root)
    if path.stat().st_size == 0:
        raise InputError("source file is empty", file=shown)
    try:
        if suffix in (".jsonl", ".ndjson", ".json"):
            import pyarrow.json as pj

            table = pj.read_json(path)
        elif suffix == ".csv":
            import pyarrow.csv as pc

            table = pc.read_csv(path)
        elif suffix == ".parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(path)
        else:
            raise InputError(
                f"unsupported source format {suffix!r} (use .jsonl, .csv or .parquet)",
                file=ev.path,
                line=spec.line,
            )
    except InputError:
        raise
    except Exception as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        line = _jsonl_error_line(path, message) if suffix in (".jsonl", ".ndjson") else None
        if line is not None:
            message = re.sub(r"\s*in row \d+$", "", message)
        raise InputError(f"could not read source: {message}", file=shown, line=line) from None
    if spec.limit is not None:
        table = table.slice(0, spec.limit)
    return table


def _jsonl_error_line(path: Path, message: str) -> int | None:
    """The 1-based line of a JSONL file that pyarrow rejected: the first line that is not a JSON
    object, else the line of the row its message names (`in row N` counts non-blank lines from 0)."""
    try:
        lines = path.read_bytes().splitlines()
    except OSError:
        return None
    rows: list[int] = []  # line number of each non-blank line
    for n, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        rows.append(n)
        try:
            if not isinstance(json.loads(raw), dict):
                return n
        except ValueError:
            return n
    match = re.search(r"in row (\d+)$", message)
    if match and int(match.group(1)) < len(rows):
        return rows[int(match.group(1))]
    return None


def _row_chunks(table: Any) -> Iterator[list[dict[str, Any]]]:
    """A pyarrow Table's rows as dicts, CHUNK at a time (a list of rows: as it is)."""
    if isinstance(table, list):
        yield table
        return
    for batch in table.to_batches(max_chunksize=CHUNK):
        yield batch.to_pylist()


def iter_source_cases(ev: Evalset, spec: SourceSpec, table: Any = None) -> Iterator[Case]:
    """Rows of a JSONL/CSV/Parquet file (pyarrow) or a Hugging Face dataset, as cases, made CHUNK
    rows at a time from `table` (`_read_table`'s, read now when None): the file is parsed once into
    a columnar pyarrow table and only the current chunk's rows exist as Python objects."""
    if table is None:
        table = _read_table(ev, spec)
    shown = spec.path or f"hf:{spec.hf}"
    id_col = spec.columns.get("id", "id")
    expected_col = spec.columns.get("expected", "expected")
    vars_cols = spec.columns.get("vars")
    if isinstance(table, list):
        columns, rows = (set(table[0]) if table else set()), len(table)
    else:
        columns, rows = set(table.column_names), table.num_rows
    if isinstance(vars_cols, str):
        vars_cols = [vars_cols]
    if vars_cols is not None and not (isinstance(vars_cols, list) and all(isinstance(c, str) for c in vars_cols)):
        raise InputError("source columns.vars must be a column name or a list", file=ev.path, line=spec.line)
    if rows:
        missing = [c for c in vars_cols or [] if c not in columns]
        for col in (spec.columns.get("id"), spec.columns.get("expected")):
            if col and col not in columns:
                missing.append(str(col))
        if missing:
            raise InputError(
                f"source {shown} has no column(s) {', '.join(missing)} (its columns: {', '.join(sorted(columns))})",
                file=ev.path,
                line=spec.line,
            )
    idx = -1
    for chunk in _row_chunks(table):
        for row in chunk:
            idx += 1
            yield _source_case(ev, row, idx, vars_cols, id_col, expected_col)


def _source_case(ev: Evalset, row: dict[str, Any], idx: int, vars_cols: Any, id_col: Any, expected_col: Any) -> Case:
    """One source row (0-based `idx`) as a case."""
    if isinstance(vars_cols, list):
        vars_ = {c: row[c] for c in vars_cols}
    elif isinstance(row.get("vars"), dict):
        vars_ = dict(row["vars"])
    else:
        vars_ = {k: v for k, v in row.items() if k not in (id_col, expected_col)}
    vars_ = {**ev.defaults, **vars_}
    expected = row.get(expected_col)
    raw_id = row.get(id_col)
    case_id = str(raw_id) if raw_id not in (None, "") else derive_case_id(vars_, expected)
    return Case(id=case_id, vars=vars_, expected=expected, metadata={"_row": idx + 1})


def _evalset_name(shown: str, evalsets_dir: str) -> str:
    """`evalsets/qa/extract.yaml` -> `qa/extract`: the name an evalset is given by."""
    name = shown[len(evalsets_dir) + 1 :] if shown.startswith(evalsets_dir + "/") else shown
    return name.rsplit(".", 1)[0] if name.endswith((".yaml", ".yml")) else name


def find_evalsets(root: Path, evalsets_dir: str, names: list[str] | None = None) -> list[Path]:
    """Evalset files by name or path; all of `evalsets/` (not its data/ folder) by default."""
    base = root / evalsets_dir
    if names:
        found = []
        for name in names:
            path = Path(name)
            candidates = [path, root / path, base / name, base / f"{name}.yaml", base / f"{name}.yml"]
            match = next((c for c in candidates if c.is_file()), None)
            if match is None:
                known = [display_path(p, root) for p in find_evalsets(root, evalsets_dir)]
                short = [_evalset_name(k, evalsets_dir) for k in known]
                guess = did_you_mean(name, short) or did_you_mean(name, known)
                listed = f"known: {', '.join(short) or '(none)'}"
                raise InputError(f"unknown evalset {name!r}", hint=f"{guess} ({listed})" if guess else listed)
            found.append(match)
        return found
    if not base.is_dir():
        return []
    return sorted(
        p
        for p in base.rglob("*")
        if p.suffix in (".yaml", ".yml") and p.is_file() and "data" not in p.relative_to(base).parts[:-1]
    )

"""`llmctl traces to-cases`: sample stored traces into an evalset's inline cases.

- Candidates: the prompt's traces (and `--where`), read in id order in short batches.
- Inputs: the trace's variables (`llmctl.prompt.vars` / `metadata.llmctl_vars`) mapped onto the
  prompt's declared inputs when it carries every required one; else its conversation (the input
  messages after the system prompt) as the case's `messages`, when the prompt needs no variables.
  Traces with neither are skipped and counted.
- Redaction (default): every email, phone, card, IBAN, SSN, IP (the `pii` evaluator's detectors)
  and every key or token (the `secrets` evaluator's) becomes `[REDACTED:<kind>]`, before the
  case's identity is taken; `--no-redact` keeps them and says so in the evalset's description.
- Identity: `trace-` + 12 hex of the sha256 of the case's canonical inputs, so the same inputs are
  one case (duplicates dropped, in the sample and against the file) and ids are stable.
- Sampling: seeded, stratified by (prompt version, outcome: error | failed | ok): a seeded
  reservoir per stratum, then `--sample` split over the strata in proportion to their sizes
  (largest remainder, at least one case from each stratum while the sample allows).
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmctl import fmt
from llmctl.errors import InputError

REDACTED = "[REDACTED:{kind}]"


@dataclass
class CasesResult:
    path: Path
    added: int = 0
    candidates: int = 0
    duplicates: int = 0
    skipped_no_inputs: int = 0
    strata: dict[str, int] = field(default_factory=dict)
    created: bool = False
    redacted: bool = True


class Redactor:
    """PII and secrets found by the project's own detectors, replaced in every string of a value."""

    def __init__(self) -> None:
        from llmctl.evaluators import build_evaluator
        from llmctl.types import EvaluatorSpec

        self.pii: Any = build_evaluator(EvaluatorSpec(type="pii", config={}))
        self.secrets: Any = build_evaluator(EvaluatorSpec(type="secrets", config={}))
        self.count = 0

    def text(self, value: str) -> str:
        findings = [*self.secrets.find(value), *self.pii.find(value)]
        for f in sorted(findings, key=lambda f: -len(f.value)):
            if f.value and f.value in value:
                value = value.replace(f.value, REDACTED.format(kind=f.kind.lower().replace(" ", "_")))
                self.count += 1
        return value

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        return value


def _loads(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _case_inputs(row: dict[str, Any], prompt: Any) -> dict[str, Any] | None:
    """{vars: ...} or {messages: ...} for the case, or None when the trace cannot be replayed."""
    declared = prompt.inputs
    required = {n for n, spec in declared.items() if spec.required and spec.default is None}
    vars_ = _loads(row.get("vars"))
    if isinstance(vars_, dict) and required <= set(vars_):
        return {"vars": {k: v for k, v in vars_.items() if k in declared}}
    if required:
        return None
    messages = [m for m in _loads(row.get("input_messages")) or [] if isinstance(m, dict)]
    while messages and messages[0].get("role") == "system":
        messages = messages[1:]
    if not messages:
        return None
    return {"messages": [{"role": m.get("role", "user"), "content": m.get("content") or ""} for m in messages]}


def _identity(inputs: dict[str, Any]) -> str:
    text = json.dumps(inputs, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return "trace-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def _allocate(sizes: dict[tuple[str, str], int], n: int) -> dict[tuple[str, str], int]:
    """`n` split over strata in proportion to `sizes` (largest remainder), one each first when n allows."""
    keys = sorted(k for k, s in sizes.items() if s > 0)
    total = sum(sizes[k] for k in keys)
    if total <= n:
        return {k: sizes[k] for k in keys}
    out = {k: 0 for k in keys}
    budget = n
    if n >= len(keys):
        for k in keys:
            out[k] = 1
        budget -= len(keys)
    rest = {k: sizes[k] - out[k] for k in keys}
    rest_total = sum(rest.values())
    if budget and rest_total:
        shares = {k: budget * rest[k] / rest_total for k in keys}
        for k in keys:
            out[k] += int(shares[k])
        left = n - sum(out.values())
        for k in sorted(keys, key=lambda k: (-(shares[k] - int(shares[k])), k))[:left]:
            out[k] += 1
    elif not out or sum(out.values()) == 0:  # fewer cases than strata: the largest strata
        for k in sorted(keys, key=lambda k: (-sizes[k], k))[:n]:
            out[k] = 1
    return out


def to_cases(
    cfg: Any,
    store: Any,
    *,
    evalset: str,
    prompt: str | None = None,
    sample: int = 50,
    seed: int = 0,
    where: str | None = None,
    redact: bool = True,
) -> CasesResult:
    from llmctl.release import worktree_library
    from llmctl.store import iter_traces
    from llmctl.traces._where import parse_where
    from llmctl.yamlio import load_yaml_file, plain

    if sample < 1:
        raise InputError("--sample must be at least 1")
    import re

    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_./-]*", evalset or "") or ".." in evalset:
        raise InputError(f"invalid evalset name {evalset!r} (letters, digits, _ . - and / for folders)")
    path = cfg.evalsets_path / f"{evalset}.yaml"
    if not path.resolve().is_relative_to(cfg.evalsets_path.resolve()):
        raise InputError(f"evalset {evalset!r} would be outside {cfg.evalsets_dir}/")
    existing: dict[str, Any] = {}
    if path.exists():
        existing = plain(load_yaml_file(path, display=str(path))) or {}
        if not isinstance(existing, dict):
            raise InputError("evalset must be a mapping", file=str(path), line=1)
        if existing.get("source") is not None:
            raise InputError(
                "this evalset reads its cases from `source:`; to-cases writes inline cases",
                file=str(path),
                hint="name a new evalset (--evalset NAME-traces)",
            )
        prompt = prompt or (existing.get("prompt") if isinstance(existing.get("prompt"), str) else None)
    if not prompt:
        raise InputError("which prompt's traces? pass --prompt NAME")
    prompt_name = prompt.split("@", 1)[0]
    spec = worktree_library(cfg).get(prompt_name)
    filt = parse_where(where) if where else None
    needs_eval = filt is not None and filt.evaluators
    if needs_eval and not cfg.monitor.evaluators:
        raise InputError("--where asks about evaluator failures, but llmctl.yaml has no monitor.evaluators")
    redactor = Redactor() if redact else None
    rng = random.Random(seed)
    seen_counts: dict[tuple[str, str], int] = {}
    reservoirs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    taken: set[str] = {str(c.get("id")) for c in existing.get("cases") or [] if isinstance(c, dict)}
    result = CasesResult(path=path, redacted=redact, created=not path.exists())
    seen_ids: set[str] = set()
    for rows in iter_traces(store, "prompt = ?", [prompt_name]):
        verdicts: list[dict[str, bool | None]] = [{} for _ in rows]
        if needs_eval:
            from llmctl.traces._evaluate import score_traces

            verdicts = score_traces(cfg.monitor.evaluators, rows, cfg)
        for row, verdict in zip(rows, verdicts, strict=True):
            failed_any = any(v is False for v in verdict.values())

            def failed(name: str | None, verdict: dict[str, bool | None] = verdict, any_: bool = failed_any) -> bool:
                return any_ if name is None else verdict.get(name) is False

            if filt is not None and not filt.matches(row, failed):
                continue
            result.candidates += 1
            inputs = _case_inputs(row, spec)
            if inputs is None:
                result.skipped_no_inputs += 1
                continue
            if redactor is not None:
                inputs = redactor.value(inputs)
            case_id = _identity(inputs)
            if case_id in seen_ids or case_id in taken:
                result.duplicates += 1
                continue
            seen_ids.add(case_id)
            outcome = "error" if row.get("error") else "failed" if failed_any else "ok"
            key = (str(row.get("version") or "-"), outcome)
            n = seen_counts[key] = seen_counts.get(key, 0) + 1
            case = {
                "id": case_id,
                **inputs,
                "metadata": {
                    k: v
                    for k, v in (
                        ("trace_id", row["id"]),
                        ("model", row.get("model")),
                        ("version", row.get("version")),
                        ("outcome", outcome),
                        ("ts", fmt.time(row["ts"]) if row.get("ts") else None),
                    )
                    if v is not None
                },
            }
            bucket = reservoirs.setdefault(key, [])
            if len(bucket) < sample:
                bucket.append(case)
            else:
                j = rng.randrange(n)
                if j < sample:
                    bucket[j] = case
    quota = _allocate(seen_counts, sample)
    picked: list[dict[str, Any]] = []
    for key in sorted(quota):
        bucket = list(reservoirs.get(key, []))
        rng.shuffle(bucket)
        chosen = bucket[: quota[key]]
        result.strata[f"{key[0]}/{key[1]}"] = len(chosen)
        picked.extend(chosen)
    picked.sort(key=lambda c: c["id"])
    result.added = len(picked)
    if picked:  # an evalset without cases would not lint: none is written
        _write(path, existing, prompt, picked, redact, cfg)
    return result


def _write(
    path: Path, existing: dict[str, Any], prompt: str, cases: list[dict[str, Any]], redact: bool, cfg: Any
) -> None:
    import os

    import yaml

    doc = dict(existing) if existing else {}
    state = "PII and secrets redacted" if redact else "NOT redacted (--no-redact): may hold personal data and secrets"
    note = f"Cases from production traces (llmctl traces to-cases); {state}."
    description = str(doc.get("description") or "")
    if "(llmctl traces to-cases)" not in description:
        doc["description"] = f"{description} {note}".strip()
    elif not redact and "NOT redacted" not in description:
        doc["description"] = f"{description} Some cases NOT redacted (--no-redact)."
    doc.setdefault("prompt", prompt)
    doc["cases"] = [*(doc.get("cases") or []), *cases]
    order = ["description", "prompt", "prompts", "models", "repeat", "evaluators", "gate"]
    ordered = {k: doc[k] for k in order if k in doc}
    ordered.update({k: v for k, v in doc.items() if k not in ordered and k != "cases"})
    ordered["cases"] = doc["cases"]
    header = f"# {note}\n"
    text = header + yaml.safe_dump(ordered, sort_keys=False, allow_unicode=True, width=100)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)

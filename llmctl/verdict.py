"""The gate's vocabulary: the verdict types a comparison produces and every report reads.

`llmctl.gate` is the engine that computes them (`compare`); this module holds only the
records (`Verdict` over `GroupVerdict`s over `MetricVerdict`s, with `FlippedCase` and
`FlakyCase`), their JSON round trip and the small phrases reports share, so a report,
the viewer or the store can read a verdict without importing the statistics.
Every record is built with keyword arguments.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

REPORT_ONLY = "report only"


def group_name(prompt: str, model: str) -> str:
    """How a prompt x model group is named in verdicts and reports."""
    return f"{prompt} × {model}"


@dataclass(kw_only=True)
class MetricVerdict:
    """One checked (or reported) metric of one group. `passed` is False only for a failed gate."""

    group: str
    metric: str
    baseline: float | None
    candidate: float | None
    delta: float | None
    interval: tuple[float, float] | None
    p_value: float | None
    threshold: str
    passed: bool
    note: str = ""
    cases: list[str] = field(default_factory=list)  # the failing cases a critical check names
    relative: bool = False  # delta and interval are relative changes (+0.22 is 22% higher), not differences
    mde: float | None = None  # pass rate: the drop these cases detect with 80% power (None: not computed)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["interval"] = list(self.interval) if self.interval is not None else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MetricVerdict:
        interval = data.get("interval")
        return cls(
            group=data["group"],
            metric=data["metric"],
            baseline=data.get("baseline"),
            candidate=data.get("candidate"),
            delta=data.get("delta"),
            interval=(float(interval[0]), float(interval[1])) if interval else None,
            p_value=data.get("p_value"),
            threshold=data.get("threshold", ""),
            passed=bool(data["passed"]),
            note=data.get("note", ""),
            cases=list(data.get("cases") or []),
            relative=bool(data.get("relative", False)),
            mde=data.get("mde"),
        )


@dataclass(kw_only=True)
class FlippedCase:
    """A case whose verdict changed between baseline and candidate, with both outputs."""

    prompt: str
    model: str
    case_id: str
    baseline_output: str | None
    candidate_output: str | None
    baseline_reasons: dict[str, str]
    candidate_reasons: dict[str, str]
    direction: str  # "pass->fail" or "fail->pass"
    repeat_index: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FlippedCase:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def flip_counts(flipped: list[FlippedCase], direction: str = "pass->fail") -> tuple[int, int]:
    """(cases, samples) that flipped in `direction`: with repeat > 1 a case's samples flip one by one."""
    mine = [f for f in flipped if f.direction == direction]
    return len({(f.prompt, f.model, f.case_id) for f in mine}), len(mine)


def flip_phrase(flipped: list[FlippedCase], direction: str = "pass->fail") -> str:
    """`3 case(s)`, or `3 case(s) (7 samples)` when some case flipped in more than one sample."""
    cases, samples = flip_counts(flipped, direction)
    return f"{cases} case(s)" + (f" ({samples} samples)" if samples != cases else "")


@dataclass(kw_only=True)
class FlakyCase:
    """A case whose verdict differs across its samples (repeat > 1) in one run."""

    prompt: str
    model: str
    case_id: str
    run: str  # "baseline" or "candidate"
    passes: int
    samples: int
    interval: tuple[float, float] | None = None  # Wilson interval of the case's pass rate, at gate.confidence

    @property
    def pass_rate(self) -> float:
        return self.passes / self.samples if self.samples else math.nan

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["interval"] = list(self.interval) if self.interval is not None else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FlakyCase:
        fields = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        if fields.get("interval") is not None:
            fields["interval"] = (float(fields["interval"][0]), float(fields["interval"][1]))
        return cls(**fields)


@dataclass(kw_only=True)
class GroupVerdict:
    """The verdict of one prompt x model group."""

    prompt: str
    model: str
    passed: bool
    metrics: list[MetricVerdict] = field(default_factory=list)
    flipped: list[FlippedCase] = field(default_factory=list)
    flaky: list[FlakyCase] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return group_name(self.prompt, self.model)

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "model": self.model,
            "name": self.name,
            "passed": self.passed,
            "metrics": [m.to_dict() for m in self.metrics],
            "flipped": [f.to_dict() for f in self.flipped],
            "flaky": [f.to_dict() for f in self.flaky],
            "counts": dict(self.counts),
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GroupVerdict:
        return cls(
            prompt=data["prompt"],
            model=data["model"],
            passed=bool(data["passed"]),
            metrics=[MetricVerdict.from_dict(m) for m in data.get("metrics", [])],
            flipped=[FlippedCase.from_dict(f) for f in data.get("flipped", [])],
            flaky=[FlakyCase.from_dict(f) for f in data.get("flaky", [])],
            counts=dict(data.get("counts", {})),
            notes=list(data.get("notes", [])),
        )


@dataclass(kw_only=True)
class Verdict:
    """The gate's decision over all groups. `metrics`, `flipped`, `flaky` are the groups' concatenated."""

    passed: bool
    groups: list[GroupVerdict]
    metrics: list[MetricVerdict]
    flipped: list[FlippedCase]
    flaky: list[FlakyCase]
    counts: dict[str, int]
    confidence: float
    has_baseline: bool = True
    notes: list[str] = field(default_factory=list)

    @property
    def failures(self) -> list[MetricVerdict]:
        """The metrics that failed their gate."""
        return [m for m in self.metrics if not m.passed]

    @property
    def checked(self) -> int:
        """How many metrics were held to a threshold (report-only ones are not checks)."""
        return sum(1 for m in self.metrics if m.threshold != REPORT_ONLY)

    def summary_line(self) -> str:
        """One line for the terminal: PASS/FAIL and what failed; a gate that checked nothing says so."""
        if self.passed and not self.checked:
            text = (
                "gate checked NOTHING: no threshold applies to these results "
                "(set gate.quality.min_pass_rate in llmctl.yaml, or compare with --baseline)"
            )
        elif self.passed:
            text = f"gate PASSED ({self.checked} check(s) over {len(self.groups)} group(s))"
        else:
            failed = ", ".join(f"{m.group}: {m.metric}{named_cases(m.cases)}" for m in self.failures)
            text = f"gate FAILED: {failed}"
        if not self.has_baseline:
            text += " [no baseline: absolute floors only]"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "has_baseline": self.has_baseline,
            "confidence": self.confidence,
            "counts": dict(self.counts),
            "notes": list(self.notes),
            "groups": [g.to_dict() for g in self.groups],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        groups = [GroupVerdict.from_dict(g) for g in data.get("groups", [])]
        return cls(
            passed=bool(data["passed"]),
            groups=groups,
            metrics=[m for g in groups for m in g.metrics],
            flipped=[f for g in groups for f in g.flipped],
            flaky=[f for g in groups for f in g.flaky],
            counts=dict(data.get("counts", {})),
            confidence=float(data.get("confidence", 0.95)),
            has_baseline=bool(data.get("has_baseline", True)),
            notes=list(data.get("notes", [])),
        )


def named_cases(cases: list[str], limit: int = 5) -> str:
    if not cases:
        return ""
    more = f" and {len(cases) - limit} more" if len(cases) > limit else ""
    return f" (case {', '.join(cases[:limit])}{more})"


def with_evalset(evalset: str, verdict: Verdict) -> Verdict:
    """A verdict whose rows name their evalset (two evalsets may share a prompt x model)."""
    return replace(verdict, metrics=[replace(m, group=f"{evalset}: {m.group}") for m in verdict.metrics])


def shared_notes(notes: list[tuple[str, list[str]]]) -> list[str]:
    """Each note once, prefixed with the evalsets it is about ("every evalset" when it is all of them)."""
    where: dict[str, list[str]] = {}
    for evalset, texts in notes:
        for text in texts:
            where.setdefault(text, []).append(evalset)
    return [
        text if len(sets) == len(notes) and len(notes) > 1 else f"{', '.join(sets)}: {text}"
        for text, sets in where.items()
    ]


def combine_verdicts(verdicts: list[Verdict]) -> Verdict | None:
    """The verdicts of one invocation's runs as one (None when there is none)."""
    if not verdicts:
        return None
    if len(verdicts) == 1:
        return verdicts[0]
    counts: dict[str, int] = {}
    for v in verdicts:
        for k, n in v.counts.items():
            counts[k] = counts.get(k, 0) + n
    return Verdict(
        passed=all(v.passed for v in verdicts),
        groups=[g for v in verdicts for g in v.groups],
        metrics=[m for v in verdicts for m in v.metrics],
        flipped=[f for v in verdicts for f in v.flipped],
        flaky=[f for v in verdicts for f in v.flaky],
        counts=counts,
        confidence=verdicts[0].confidence,
        has_baseline=any(v.has_baseline for v in verdicts),
        notes=[n for v in verdicts for n in v.notes],
    )

"""Judge calibration: how well each judge-type evaluator agrees with the human labels.

For every judge-type evaluator (`judge`, `pairwise`, or any evaluator with `calibrate: true`)
its stored verdicts are paired with the human labels of the same outputs (case, model,
output SHA-256). Positive class = "pass". Cohen's kappa and its 95% interval come from
statsmodels (`cohens_kappa`, asymptotic standard error). A calibration is recorded per
judge content hash: a changed rubric, judge model, threshold or judge prompt text is a
different judge that needs calibrating again.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmctl import fmt
from llmctl.hashing import content_hash

if TYPE_CHECKING:
    from llmctl.config import GateConfig
    from llmctl.store import Store
    from llmctl.verdict import MetricVerdict

JUDGE_TYPES = ("judge", "pairwise")
DEFAULT_MIN_LABELS = 30  # gate.judges.min_labels when only min_kappa is set (README, "The gate")
# options that do not change a verdict, left out of a judge's identity
_NOT_IDENTITY = ("weight", "metric", "calibrate", "severity")


def is_judge(config: dict[str, Any]) -> bool:
    """Whether a stored evaluator config is judge-type (calibrated against people)."""
    return config.get("type") in JUDGE_TYPES or config.get("calibrate") is True


def judge_hash(config: dict[str, Any]) -> str:
    """`sha256:` over the canonical JSON of the verdict-relevant evaluator config."""
    ident = {k: v for k, v in config.items() if k not in _NOT_IDENTITY}
    return content_hash(ident)


@dataclass
class Disagreement:
    evalset: str
    run_id: str
    case_id: str
    model: str
    judge: str  # "pass" | "fail"
    human: str
    note: str = ""


@dataclass
class Calibration:
    evaluator: str
    judge_hash: str
    config: dict[str, Any]
    evalsets: list[str]
    n: int
    tp: int
    fp: int
    tn: int
    fn: int
    tpr: float | None
    tnr: float | None
    accuracy: float | None
    kappa: float | None
    kappa_ci: list[float] | None
    disagreements: list[Disagreement] = field(default_factory=list)
    note: str = ""  # why kappa or its interval is missing or not to be trusted

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def kappa_with_ci(tp: int, fp: int, tn: int, fn: int) -> tuple[float | None, list[float] | None]:
    """Cohen's kappa of the 2x2 table and its 95% interval (statsmodels); None where undefined."""
    kappa, ci, _why = kappa_explained(tp, fp, tn, fn)
    return kappa, ci


def kappa_explained(tp: int, fp: int, tn: int, fn: int) -> tuple[float | None, list[float] | None, str]:
    """`kappa_with_ci` and, where kappa or its interval is missing, why.

    Kappa is undefined when the people or the judge gave one class only (agreement beyond
    chance cannot be measured: statsmodels would answer 0 with the interval [0, 0]); the
    interval is left out when its standard error is 0 (a handful of labels that all agree
    gives [1, 1], which is no interval)."""
    import warnings

    n = tp + fp + tn + fn
    if n == 0:
        return None, None, "no labelled verdicts"
    judge_pass, human_pass = tp + fp, tp + fn
    for who, passes in (("the people", human_pass), ("the judge", judge_pass)):
        if passes in (0, n):
            only = "pass" if passes == n else "fail"
            return (
                None,
                None,
                (f"kappa undefined: {who} gave one class only ({only} on all {n}); label outputs of both classes"),
            )
    from statsmodels.stats.inter_rater import cohens_kappa

    # rows: human pass/fail; columns: judge pass/fail
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a degenerate table is explained below, not warned about raw
        res = cohens_kappa([[tp, fn], [fp, tn]], return_results=True)
    kappa = float(res.kappa)
    low, high = float(res.kappa_low), float(res.kappa_upp)
    if not (math.isfinite(low) and math.isfinite(high)) or high - low <= 1e-12:
        return kappa, None, f"no interval: its standard error is 0 on {n} label(s) (too few to say how sure)"
    return kappa, [max(-1.0, low), min(1.0, high)], ""


def calibrate(store: Store, root: Path, evalsets: list[str] | None = None, *, record: bool = True) -> list[Calibration]:
    """Compare every judge-type evaluator's stored verdicts with the labels under `root`.

    Each labelled output counts once per judge (its most recent verdict). With `record`,
    each calibration is stored under its judge hash.
    """
    from llmctl.labels import LabelIndex, sync_store

    index = LabelIndex.from_folder(root)
    if record:
        sync_store(root, store)
    # judge hash -> output key -> (row, verdict)
    pairs: dict[str, dict[tuple[str, str, str], tuple[dict[str, Any], bool, Any]]] = {}
    configs: dict[str, tuple[str, dict[str, Any]]] = {}
    for row in store.judge_scores(evalsets):
        config = row["config"]
        if not isinstance(config, dict) or not is_judge(config) or row["error"] is not None or row["passed"] is None:
            continue
        label = index.of(row)
        if label is None:
            continue
        h = judge_hash(config)
        configs.setdefault(h, (str(row["evaluator"]), config))
        pairs.setdefault(h, {})[label.key] = (row, bool(row["passed"]), label)
    out: list[Calibration] = []
    for h, items in pairs.items():
        name, config = configs[h]
        tp = fp = tn = fn = 0
        wrong: list[Disagreement] = []
        for row, judged, label in items.values():
            human = label.passed
            if judged and human:
                tp += 1
            elif judged and not human:
                fp += 1
            elif not judged and not human:
                tn += 1
            else:
                fn += 1
            if judged != human:
                wrong.append(
                    Disagreement(
                        evalset=str(row["evalset"] or ""),
                        run_id=str(row["run_id"]),
                        case_id=str(row["case_id"]),
                        model=str(row["model"]),
                        judge="pass" if judged else "fail",
                        human=label.label,
                        note=label.note,
                    )
                )
        n = tp + fp + tn + fn
        kappa, ci, why = kappa_explained(tp, fp, tn, fn)
        if n < DEFAULT_MIN_LABELS:
            few = f"only {n} label(s), fewer than {DEFAULT_MIN_LABELS}: kappa is not reliable yet"
            why = f"{few}; {why}" if why else few
        cal = Calibration(
            evaluator=name,
            judge_hash=h,
            config=config,
            evalsets=sorted({str(r["evalset"] or "") for r, _, _ in items.values()}),
            n=n,
            tp=tp,
            fp=fp,
            tn=tn,
            fn=fn,
            tpr=_ratio(tp, tp + fn),
            tnr=_ratio(tn, tn + fp),
            accuracy=_ratio(tp + tn, n),
            kappa=kappa,
            kappa_ci=ci,
            disagreements=sorted(wrong, key=lambda d: (d.evalset, d.case_id, d.model)),
            note=why,
        )
        if record:
            store.put_calibration(cal.to_dict())
        out.append(cal)
    return sorted(out, key=lambda c: (c.evaluator, c.judge_hash))


def run_judges(store: Store, run_id: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    """The judge-type evaluators scored in a run: (name, judge hash, latest calibration or None)."""
    seen: dict[str, str] = {}
    for name, config in store.run_evaluators(run_id):
        if is_judge(config):
            seen.setdefault(judge_hash(config), name)
    return [(name, h, store.latest_calibration(h)) for h, name in seen.items()]


def describe(name: str, cal: dict[str, Any] | None) -> str:
    """One line on a judge's calibration, for the terminal."""
    if cal is None:
        return f"judge {name}: not calibrated"

    kappa = "undefined" if cal["kappa"] is None else fmt.score(cal["kappa"])
    ci = (
        f" {fmt.interval((cal['kappa_low'], cal['kappa_high']), fmt.score)}" if cal.get("kappa_low") is not None else ""
    )
    return f"judge {name}: kappa {kappa}{ci} on {cal['n']} label(s)"


def judge_gate(store: Store, run_id: str, gate: GateConfig) -> list[MetricVerdict]:
    """`gate.judges`: one verdict per judge-type evaluator of the run; a failed one when the judge
    is uncalibrated, has fewer than `min_labels` labels (DEFAULT_MIN_LABELS when only `min_kappa`
    is set: a kappa on a handful of labels proves nothing), or a kappa below `min_kappa`
    (an undefined kappa never clears it)."""
    from llmctl.verdict import MetricVerdict

    min_kappa, min_labels = gate.judge_min_kappa, gate.judge_min_labels
    if min_kappa is None and min_labels is None:
        return []
    if min_labels is None:
        min_labels = DEFAULT_MIN_LABELS
    out = []
    bar = []
    if min_kappa is not None:
        bar.append(f"kappa >= {min_kappa:g}")
    if min_labels is not None:
        bar.append(f">= {min_labels} labels")
    for name, h, cal in run_judges(store, run_id):
        kappa = cal["kappa"] if cal else None
        why = ""
        if cal is None:
            why = f"judge {name} ({h[:19]}) is not calibrated: label outputs and run llmctl judge calibrate"
        elif min_labels is not None and cal["n"] < min_labels:
            why = f"judge {name} is calibrated on {cal['n']} label(s), fewer than min_labels {min_labels}"
        elif min_kappa is not None and (kappa is None or kappa < min_kappa):
            shown = "undefined" if kappa is None else fmt.score(kappa)
            why = f"judge {name} agrees with people at kappa {shown}, below min_kappa {min_kappa:g}"
        out.append(
            MetricVerdict(
                group="judges",
                metric=f"calibration: {name}",
                baseline=None,
                candidate=kappa,
                delta=None,
                interval=(cal["kappa_low"], cal["kappa_high"])
                if cal and cal["kappa_low"] is not None and cal["kappa_high"] is not None
                else None,
                p_value=None,
                threshold=", ".join(bar),
                passed=not why,
                note=why or f"n={cal['n'] if cal else 0}",
            )
        )
    return out


__all__ = [
    "JUDGE_TYPES",
    "Calibration",
    "Disagreement",
    "calibrate",
    "describe",
    "is_judge",
    "judge_gate",
    "judge_hash",
    "kappa_explained",
    "kappa_with_ci",
    "run_judges",
]

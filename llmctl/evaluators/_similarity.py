"""Scored text similarity: levenshtein/similarity (rapidfuzz), rouge (rouge-score), bleu (sacrebleu).

Each compares the output with `value` (a string, or a list of references for
bleu/rouge), else the case's `expected`, and scores in 0..1. Heavy libraries
are imported when such an evaluator is built, never at package import.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llmctl import fmt
from llmctl.evaluators._base import CheckError, Evaluator, Raw, opt, short
from llmctl.evaluators._registry import evaluator
from llmctl.types import EvalInput


def _references(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        return list(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [str(value)]
    raise CheckError(f"expected a reference string or list of strings, got {short(value)}")


_METHODS = ("levenshtein", "indel", "ratio", "partial_ratio", "token_sort_ratio", "token_set_ratio", "jaro_winkler")


@evaluator("levenshtein", aliases=["similarity", "similar"])
class Similarity(Evaluator):
    """Normalized string similarity (0..1) of output and reference; default threshold 0.8."""

    offload = True  # CPU-heavy on a long output: scored off the event loop

    options = {
        "value": opt(str, list, help="the reference text(s) (default: the case's expected); best match counts"),
        "method": opt(str, default="levenshtein", help=f"one of {', '.join(_METHODS)}"),
        "ignore_case": opt(bool, default=False, help="compare case-insensitively"),
    }
    default_threshold = 0.8

    def setup(self, *, resolve: bool = True) -> None:
        method = str(self.option("method"))
        if method not in _METHODS:
            raise self.error(f"unknown method {method!r} (known: {', '.join(_METHODS)})", "method")
        from rapidfuzz import fuzz
        from rapidfuzz.distance import Indel, JaroWinkler, Levenshtein

        scale = 1.0
        func: Callable[..., float]
        if method == "levenshtein":
            func = Levenshtein.normalized_similarity
        elif method == "indel":
            func = Indel.normalized_similarity
        elif method == "jaro_winkler":
            func = JaroWinkler.normalized_similarity
        else:
            func, scale = getattr(fuzz, method), 100.0
        self._func = func
        self._scale = scale
        self.ignore_case = bool(self.option("ignore_case"))
        value = self.config.get("value")
        if value is not None and not (isinstance(value, str) or all(isinstance(v, str) for v in value)):
            raise self.error("'value' must be a string or a list of strings", "value")
        self._fixed = None if value is None else [self._norm(v) for v in _references(value)]

    def _norm(self, text: str) -> str:
        return text.casefold() if self.ignore_case else text

    def check(self, inp: EvalInput) -> Raw:
        refs = self._fixed if self._fixed is not None else [self._norm(r) for r in _references(self.reference(inp))]
        out = self._norm(inp.output.strip())
        best = max(self._func(out, ref.strip()) for ref in refs) / self._scale
        return best, None, f"similarity {fmt.score(best)} to {short(refs[0])}"


_ROUGE_VARIANTS = ("rouge1", "rouge2", "rouge3", "rouge4", "rougeL", "rougeLsum")
_ROUGE_MEASURES = ("fmeasure", "precision", "recall")


@evaluator("rouge", aliases=["rouge_n", "rouge_l"])
class Rouge(Evaluator):
    """ROUGE of output vs reference (rougeL F1 by default); default threshold 0.5.

    The rouge-score tokenizer keeps only ASCII letters and digits, so text in
    other scripts scores 0: use `levenshtein` or `bleu` (tokenize: intl/char) there.
    """

    offload = True  # CPU-heavy on a long output: scored off the event loop

    options = {
        "value": opt(str, list, help="the reference text(s) (default: the case's expected)"),
        "variant": opt(str, default="rougeL", help=f"one of {', '.join(_ROUGE_VARIANTS)}"),
        "measure": opt(str, default="fmeasure", help="fmeasure, precision or recall"),
        "use_stemmer": opt(bool, default=False, help="Porter-stem words before matching"),
    }
    default_threshold = 0.5

    def setup(self, *, resolve: bool = True) -> None:
        variant = str(self.option("variant"))
        matched = {v.lower(): v for v in _ROUGE_VARIANTS}.get(variant.lower())
        if matched is None:
            raise self.error(f"unknown rouge variant {variant!r} (known: {', '.join(_ROUGE_VARIANTS)})", "variant")
        measure = str(self.option("measure"))
        if measure not in _ROUGE_MEASURES:
            raise self.error(f"unknown measure {measure!r} (known: {', '.join(_ROUGE_MEASURES)})", "measure")
        self.variant = matched
        self._measure = measure
        from rouge_score import rouge_scorer

        self._scorer = rouge_scorer.RougeScorer([matched], use_stemmer=bool(self.option("use_stemmer")))
        value = self.config.get("value")
        self._fixed = None if value is None else _references(value)

    def check(self, inp: EvalInput) -> Raw:
        refs = self._fixed if self._fixed is not None else _references(self.reference(inp))
        # score_multi takes the best reference by F1; pick the configured measure from it
        result = self._scorer.score_multi(refs, inp.output)[self.variant]
        value = float(getattr(result, self._measure))
        return value, None, f"{self.variant} {self._measure} {fmt.score(value)}"


@evaluator("bleu", aliases=["sacrebleu"])
class Bleu(Evaluator):
    """Sentence BLEU (sacrebleu, effective order) / 100 against the reference(s); default threshold 0.3."""

    offload = True  # CPU-heavy on a long output: scored off the event loop

    options = {
        "value": opt(str, list, help="the reference text(s) (default: the case's expected)"),
        "tokenize": opt(str, help="sacrebleu tokenizer: 13a (default), intl, char, zh, ja-mecab, none, ..."),
        "lowercase": opt(bool, default=False, help="lowercase before scoring"),
        "smooth_method": opt(str, default="exp", help="exp, floor, add-k or none"),
    }
    default_threshold = 0.3

    def setup(self, *, resolve: bool = True) -> None:
        from sacrebleu.metrics.bleu import _TOKENIZERS, BLEU

        smooth = str(self.option("smooth_method"))
        if smooth not in BLEU.SMOOTH_DEFAULTS:
            known = ", ".join(BLEU.SMOOTH_DEFAULTS)
            raise self.error(f"unknown smooth_method {smooth!r} (known: {known})", "smooth_method")
        kwargs: dict[str, Any] = {
            "effective_order": True,
            "lowercase": bool(self.option("lowercase")),
            "smooth_method": smooth,
        }
        tokenize = self.config.get("tokenize")
        if tokenize is not None:
            if tokenize not in _TOKENIZERS:
                raise self.error(f"unknown tokenize {tokenize!r} (known: {', '.join(_TOKENIZERS)})", "tokenize")
            kwargs["tokenize"] = tokenize
        try:
            self._bleu = BLEU(**kwargs)
        except Exception as exc:  # e.g. ja-mecab without its extra package
            raise self.error(f"cannot set up BLEU: {type(exc).__name__}: {exc}", "tokenize") from None
        value = self.config.get("value")
        self._fixed = None if value is None else _references(value)

    def check(self, inp: EvalInput) -> Raw:
        refs = self._fixed if self._fixed is not None else _references(self.reference(inp))
        value = self._bleu.sentence_score(inp.output, refs).score / 100.0
        return value, None, f"BLEU {fmt.score(value)}"

"""LLM-as-judge: the `judge` evaluator, its prompt rendering and its strict verdict parsing.

The judge prompt is a prompt file (YAML with `messages:`), rendered in an
immutable sandboxed Jinja environment with strict undefined variables. The
untrusted texts (case input, output, reference) are placed inside tags, and any
delimiter tag inside them is neutralised first, so an output cannot close its
`<output>` block and speak as the grader. The verdict must be strict JSON;
anything else is an error, never a pass.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from llmctl import fmt
from llmctl.errors import InputError
from llmctl.evaluators._base import CallModel, CheckError, Evaluator, Raw, errored, opt, short
from llmctl.evaluators._json import strip_json_fence
from llmctl.evaluators._registry import evaluator
from llmctl.hashing import digest_of
from llmctl.images import content_text  # an image reads as its placeholder
from llmctl.types import EvalInput, Messages, ScoreResult

DEFAULT_JUDGE_PROMPT = "judge_prompt.yaml"
DEFAULT_PAIRWISE_PROMPT = "pairwise_prompt.yaml"
PROJECT_JUDGE_PROMPT = "judges/rubric"  # prompts/judges/rubric.yaml overrides the packaged one
PROJECT_PAIRWISE_PROMPT = "judges/pairwise"

DELIMITER_TAGS = ("input", "output", "expected", "reference", "rubric", "criteria", "response_a", "response_b")
_TAG_RE = re.compile(r"<(?=\s*/?\s*(?:" + "|".join(DELIMITER_TAGS) + r")\b)", re.IGNORECASE)


def neutralise_tags(text: str) -> str:
    """Defuse delimiter tags (`<output>`, `</ OUTPUT >`, ...) in untrusted text: `&lt;/output>`."""
    if "<" not in text:
        return text
    return _TAG_RE.sub("&lt;", text)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def input_text(inp: EvalInput) -> str:
    """What the model was asked: its rendered user messages, else the case's vars as JSON."""
    users = [content_text(m.get("content")) for m in inp.messages if m.get("role") == "user"]
    if users:
        return "\n\n".join(users)
    if inp.messages:
        return "\n\n".join(content_text(m.get("content")) for m in inp.messages)
    return json.dumps(inp.vars, ensure_ascii=False, sort_keys=True, default=str) if inp.vars else ""


# -- templates ---------------------------------------------------------------------------


@dataclass(frozen=True)
class JudgeTemplate:
    """A compiled judge prompt: (role, template) pairs and default params."""

    messages: tuple[tuple[str, Any], ...]
    params: dict[str, Any]

    def render(self, variables: dict[str, str]) -> Messages:
        from jinja2 import TemplateError

        from llmctl import sandbox

        started = sandbox.start()  # a judge prompt from the repository is as untrusted as a prompt
        try:
            return [{"role": role, "content": tpl.render(**variables).strip()} for role, tpl in self.messages]
        except TemplateError as exc:
            raise CheckError(f"judge prompt failed to render: {exc}") from None
        except sandbox.RenderLimit as exc:
            raise CheckError(f"judge prompt exceeds a render limit: {exc}") from None
        finally:
            if started:
                sandbox.stop()


@functools.lru_cache(maxsize=1)
def _environment() -> Any:
    from jinja2 import StrictUndefined

    from llmctl.sandbox import LimitedEnvironment

    return LimitedEnvironment(undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True)


@functools.lru_cache(maxsize=64)
def compile_template(template_text: str, source: str = "<judge prompt>") -> JudgeTemplate:
    """Parse a judge prompt file's text (YAML with `messages:`) and compile its templates.

    Raises InputError naming `source` when the file is malformed.
    """
    import yaml
    from jinja2 import TemplateSyntaxError

    try:
        data = yaml.safe_load(template_text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(
            f"judge prompt is not valid YAML: {exc}", file=source, line=mark.line + 1 if mark else None
        ) from None
    messages = data.get("messages") if isinstance(data, dict) else None
    if not isinstance(messages, list) or not messages:
        raise InputError("judge prompt needs a non-empty 'messages:' list", file=source)
    compiled = []
    env = _environment()
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            raise InputError(f"judge prompt message {i + 1} needs 'role' and 'content'", file=source)
        role = str(message.get("role", "user"))
        if role not in ("system", "user", "assistant"):
            raise InputError(f"judge prompt message {i + 1} has unknown role {role!r}", file=source)
        try:
            compiled.append((role, env.from_string(message["content"])))
        except TemplateSyntaxError as exc:
            raise InputError(f"judge prompt message {i + 1}: {exc.message}", file=source, line=exc.lineno) from None
    params = data.get("params") or {}
    if not isinstance(params, dict):
        raise InputError("judge prompt 'params' must be a mapping", file=source)
    return JudgeTemplate(messages=tuple(compiled), params=dict(params))


def packaged_prompt(name: str = DEFAULT_JUDGE_PROMPT) -> str:
    """The text of a judge prompt shipped inside the package."""
    return resources.files("llmctl.evaluators").joinpath(name).read_text(encoding="utf-8")


def prompt_file_candidates(prompt: str | None, prompts_dir: Path | None, default_name: str) -> list[Path]:
    """Where a judge prompt is looked for, in order: for `prompt:` (a path from the project root,
    a name under prompts/ with or without `.yaml`), else `prompts/<default_name>.yaml`."""
    if prompt is None:
        return [prompts_dir / f"{default_name}.yaml"] if prompts_dir is not None else []
    path = Path(prompt)
    root = prompts_dir.parent if prompts_dir is not None else Path.cwd()
    candidates = [path if path.is_absolute() else root / path]
    if prompts_dir is not None and not path.is_absolute():
        candidates += [prompts_dir / f"{prompt}.yaml", prompts_dir / prompt]
    return candidates


def find_prompt_file(
    prompt: str | None,
    prompts_dir: Path | None,
    default_name: str,
    is_file: Callable[[Path], bool] = Path.is_file,
) -> Path | None:
    """The judge prompt file for `prompt:` (a path, or a name under prompts/), else the project default.

    Returns None when the packaged prompt should be used. Raises InputError
    (without a location: the caller adds it) for a `prompt:` that does not exist.
    `is_file` decides existence (`llmctl eval --changed-only` asks a git ref instead of the work tree).
    """
    from llmctl.sources import is_inside

    candidates = prompt_file_candidates(prompt, prompts_dir, default_name)
    root = prompts_dir.parent if prompts_dir is not None else Path.cwd()
    if prompt is not None:
        # like includes: a judge prompt from the repository stays inside the project
        if Path(prompt).is_absolute() or not is_inside((root / prompt).resolve(), root, None):
            raise InputError(f"judge prompt {prompt!r} must be a path inside the project (no absolute path or '..')")
    for candidate in candidates:
        if is_file(candidate):
            if prompt is not None and not is_inside(candidate.resolve(), root, None):
                raise InputError(f"judge prompt {prompt!r} leads outside the project (through a symbolic link)")
            return candidate
    if prompt is None:
        return None
    raise InputError(f"judge prompt {prompt!r} not found (looked for {', '.join(map(str, candidates))})")


def render_judge_messages(
    rubric: str, inp: EvalInput, template_text: str | None = None, *, source: str = "<judge prompt>"
) -> Messages:
    """The judge's messages for one result: `rubric`, `inp.output`, its input and `expected`.

    `template_text` is a judge prompt file's text (default: the packaged
    `judge_prompt.yaml`). Untrusted values have delimiter tags neutralised.
    """
    template = compile_template(template_text if template_text is not None else packaged_prompt(), source)
    return template.render(_judge_vars(rubric, inp))


def _judge_vars(rubric: str, inp: EvalInput) -> dict[str, str]:
    return {
        "rubric": rubric,
        "input": neutralise_tags(input_text(inp)),
        "output": neutralise_tags(inp.output or ""),
        "expected": neutralise_tags(_text(inp.expected)),
    }


# -- verdicts ----------------------------------------------------------------------------


@dataclass(frozen=True)
class JudgeVerdict:
    """One parsed judge verdict."""

    score: float
    passed: bool
    reason: str


def parse_verdict(text: str | None) -> JudgeVerdict:
    """Parse a strict `{"score": 0..1, "pass": bool, "reason": str}` verdict (a ```json fence is allowed).

    Anything else raises CheckError("unparseable judge verdict: ...").
    """

    def bad(why: str) -> CheckError:
        return CheckError(f"unparseable judge verdict: {why}: {short(text or '', 120)}")

    if not text:
        raise bad("empty reply")
    try:
        data = json.loads(strip_json_fence(text))
    except ValueError:
        raise bad("not JSON") from None
    if not isinstance(data, dict):
        raise bad("not a JSON object")
    keys = set(data)
    if keys != {"score", "pass", "reason"}:
        raise bad("expected exactly the keys score, pass, reason")
    score, passed, reason = data["score"], data["pass"], data["reason"]
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not 0.0 <= score <= 1.0:
        raise bad("'score' must be a number from 0 to 1")
    if not isinstance(passed, bool):
        raise bad("'pass' must be true or false")
    if not isinstance(reason, str):
        raise bad("'reason' must be a string")
    return JudgeVerdict(score=float(score), passed=passed, reason=reason.strip())


# -- shared by judge and pairwise --------------------------------------------------------


class _ModelJudge(Evaluator):
    """Common options and setup for the model-backed evaluators."""

    is_async = True
    prompt_default_name = PROJECT_JUDGE_PROMPT
    packaged_prompt_name = DEFAULT_JUDGE_PROMPT

    def prompt_file(self, is_file: Callable[[Path], bool] = Path.is_file) -> Path | None:
        """The prompt file this judge loads (None: the packaged one); `is_file` decides existence."""
        return find_prompt_file(self.config.get("prompt"), self.prompts_dir, self.prompt_default_name, is_file)

    def setup(self, *, resolve: bool = True) -> None:
        model = self.config.get("model")
        if not model:
            raise self.error("no judge model: set 'model:' on the evaluator, or judge.model in llmctl.yaml")
        self.model = str(model)
        try:
            path = self.prompt_file()
        except InputError as exc:
            raise self.error(exc.message, "prompt") from None
        if path is None:
            self.template_source = f"llmctl/evaluators/{self.packaged_prompt_name}"
            text = packaged_prompt(self.packaged_prompt_name)
        else:
            self.template_source = str(path)
            text = path.read_text(encoding="utf-8")
        self.template_text = text
        # recorded with every score: a judge's identity (for calibration) covers its prompt's text
        self.config["prompt_sha256"] = digest_of(text)
        self.template = compile_template(text, self.template_source)
        self.params = {"temperature": 0, **self.template.params, **dict(self.config.get("params") or {})}


_AGGREGATES = ("majority", "mean")


@evaluator("judge", aliases=["llm_rubric", "rubric", "model_graded"])
class Judge(_ModelJudge):
    """LLM-as-judge: a model grades the output against `rubric`; default threshold 0.5.

    With `samples: n` the judge is called n times: `aggregate: majority` (default)
    passes when most samples pass (a sample passes when its verdict says pass and
    its score >= threshold); `mean` passes when the mean score >= threshold. The
    score is the mean score; a call error or unparseable verdict counts as a
    failing sample scored 0, and when every sample fails so, the result is an error.
    """

    options = {
        "rubric": opt(str, required=True, help="what a good output is, in words"),
        "model": opt(str, help="the judge model (default: judge.model in llmctl.yaml)"),
        "samples": opt(int, default=1, help="how many judge calls to aggregate"),
        "aggregate": opt(str, default="majority", help="majority or mean"),
        "params": opt(dict, help="call parameters (default: {temperature: 0})"),
        "prompt": opt(str, help="the judge prompt file (default: prompts/judges/rubric.yaml, else built in)"),
    }
    default_threshold = 0.5

    def setup(self, *, resolve: bool = True) -> None:
        super().setup(resolve=resolve)
        self.rubric = str(self.config["rubric"])
        if not self.rubric.strip():
            raise self.error("'rubric' must not be empty", "rubric")
        samples = int(self.option("samples"))
        if not 1 <= samples <= 50:
            raise self.error("'samples' must be between 1 and 50", "samples")
        self.samples = samples
        aggregate = str(self.option("aggregate"))
        if aggregate not in _AGGREGATES:
            raise self.error(f"unknown aggregate {aggregate!r} (known: {', '.join(_AGGREGATES)})", "aggregate")
        self.aggregate = aggregate

    def messages(self, inp: EvalInput) -> Messages:
        """The judge messages for one result."""
        return self.template.render(_judge_vars(self.rubric, inp))

    async def _sample(self, messages: Messages, call_model: CallModel) -> JudgeVerdict | str:
        result = await call_model(self.model, messages, dict(self.params))
        if result.error is not None or result.output is None:
            return f"judge call to {self.model} failed: {result.error or 'no output'}"
        try:
            return parse_verdict(result.output)
        except CheckError as exc:
            return str(exc)

    async def acheck(self, inp: EvalInput, call_model: CallModel) -> Raw | ScoreResult:
        import asyncio

        messages = self.messages(inp)
        outcomes = await asyncio.gather(*(self._sample(messages, call_model) for _ in range(self.samples)))
        verdicts = [o for o in outcomes if isinstance(o, JudgeVerdict)]
        errors = [o for o in outcomes if isinstance(o, str)]
        if not verdicts:
            return errored(errors[0])
        n = len(outcomes)
        score = sum(v.score for v in verdicts) / n
        votes = sum(1 for v in verdicts if v.passed and v.score >= self.threshold)
        passed = votes * 2 > n if self.aggregate == "majority" else score >= self.threshold
        if n == 1:
            reason = verdicts[0].reason
        else:
            shown = next((v.reason for v in verdicts if v.passed != passed), verdicts[0].reason)
            reason = f"{votes}/{n} samples passed, mean {fmt.score(score)}"
            if errors:
                reason += f", {len(errors)} failed ({errors[0][:80]})"
            reason += f": {shown}"
        if not passed and n == 1 and verdicts[0].passed:
            reason = f"score {fmt.score(score)} < threshold {self.threshold:g}: {reason}"
        return score, passed, reason


__all__ = [
    "DELIMITER_TAGS",
    "Judge",
    "JudgeTemplate",
    "JudgeVerdict",
    "compile_template",
    "input_text",
    "neutralise_tags",
    "packaged_prompt",
    "parse_verdict",
    "render_judge_messages",
]

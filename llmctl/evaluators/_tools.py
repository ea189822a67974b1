"""Tool-call and structured-output checks: tool_call, tool_sequence, tool_call_f1,
valid_tool_calls, json_path (README, "Tools, structured output, conversations").

They read `EvalInput.tool_calls` (each `{id, name, arguments, raw_arguments}`;
`arguments` is None when the model's argument text was not JSON).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

from llmctl import fmt
from llmctl.evaluators._base import CheckError, Evaluator, Raw, opt, short
from llmctl.evaluators._json import parse_json_output
from llmctl.evaluators._registry import evaluator
from llmctl.types import EvalInput

_MATCHES = ("subset", "exact", "schema")
_ARG_TESTS = ("regex", "icontains")
_REGEX_TIMEOUT_S = 1.0


def _names(inp: EvalInput) -> list[str]:
    return [str(c.get("name")) for c in inp.tool_calls]


def _shown(inp: EvalInput) -> str:
    if not inp.tool_calls:
        return "no tool calls"
    return "calls: " + ", ".join(
        f"{c.get('name')}({short(c.get('raw_arguments', ''), 80)[1:-1]})" for c in inp.tool_calls
    )


def _validator(schema: Any, ev: Evaluator, key: str) -> Any:
    import jsonschema  # deferred: only when a schema check is configured

    cls = jsonschema.validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ev.error(f"invalid JSON schema: {exc.message}", key) from None
    return cls(schema)


@evaluator("tool_call")
class ToolCall(Evaluator):
    """The response calls tool `name` with `args` (match subset|exact|schema); `not: true`: must not call it."""

    options = {
        "name": opt(str, help="the tool's name (absent: any tool)"),
        "args": opt(dict, help="expected arguments; a value {regex: P} or {icontains: S} tests that argument"),
        "match": opt(str, default="subset", help="subset (default) | exact | schema"),
        "schema": opt(dict, help="with match: schema, a JSON Schema the arguments must validate against"),
        "count": opt(int, help="exactly this many matching calls (default: at least one)"),
    }

    def setup(self, *, resolve: bool = True) -> None:
        import regex

        self.match = self.option("match")
        if self.match not in _MATCHES:
            raise self.error(f"'match' must be one of {', '.join(_MATCHES)}, got {self.match!r}", "match")
        if self.match == "schema":
            if self.config.get("schema") is None:
                raise self.error("match: schema needs 'schema' (a JSON Schema for the arguments)", "schema")
            self._schema = _validator(self.config["schema"], self, "schema")
        elif self.config.get("schema") is not None:
            raise self.error("'schema' is used with match: schema only", "schema")
        count = self.config.get("count")
        if count is not None and count < 0:
            raise self.error("'count' must be >= 0", "count")
        self.args: dict[str, Any] = dict(self.config.get("args") or {})
        self._tests: dict[str, tuple[str, Any]] = {}
        for key, value in self.args.items():
            if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in _ARG_TESTS:
                kind, needle = next(iter(value.items()))
                if not isinstance(needle, str):
                    raise self.error(f"args.{key}.{kind} must be a string", "args")
                if kind == "regex":
                    try:
                        needle = regex.compile(needle)
                    except regex.error as exc:
                        raise self.error(f"args.{key}: invalid regex {needle!r}: {exc}", "args") from None
                self._tests[key] = (kind, needle)

    def _arg_ok(self, key: str, want: Any, got: Any) -> bool:
        test = self._tests.get(key)
        if test is None:
            return bool(_canon(want) == _canon(got))
        kind, needle = test
        text = got if isinstance(got, str) else json.dumps(got, ensure_ascii=False)
        if kind == "icontains":
            return str(needle).lower() in text.lower()
        try:
            return needle.search(text, timeout=_REGEX_TIMEOUT_S) is not None
        except TimeoutError:
            raise CheckError(f"tool_call: args.{key} regex took more than {_REGEX_TIMEOUT_S:g} s") from None

    def _matches(self, call: dict[str, Any]) -> bool:
        name = self.config.get("name")
        if name is not None and call.get("name") != name:
            return False
        args = call.get("arguments")
        if self.match == "schema":
            return args is not None and next(iter(self._schema.iter_errors(args)), None) is None
        if not self.args:
            return self.match != "exact" or (not args and call.get("raw_arguments", "").strip() in ("", "{}"))
        if not isinstance(args, dict):
            return False
        if self.match == "exact" and set(args) != set(self.args):
            return False
        return all(key in args and self._arg_ok(key, want, args[key]) for key, want in self.args.items())

    def check(self, inp: EvalInput) -> Raw:
        found = sum(1 for call in inp.tool_calls if self._matches(call))
        count = self.config.get("count")
        what = f"call to {self.config['name']!r}" if self.config.get("name") else "tool call"
        if self.args or self.match == "schema":
            what += " with matching arguments"
        ok = found == count if count is not None else found > 0
        need = f"{count}" if count is not None else "at least 1"
        return (1.0 if ok else 0.0), ok, f"{found} {what} (wanted {need}); {_shown(inp)}"


@evaluator("tool_sequence")
class ToolSequence(Evaluator):
    """The tools called, by name, are `names` in order (`order: strict`) or in any order (`any`)."""

    options = {
        "names": opt(list, required=True, help="tool names"),
        "order": opt(str, default="strict", help="strict (default): in this order | any"),
        "extra": opt(bool, default=True, help="other calls may come in between (default true)"),
    }

    def setup(self, *, resolve: bool = True) -> None:
        if not all(isinstance(n, str) for n in self.config["names"]):
            raise self.error("'names' must be a list of tool names", "names")
        if self.option("order") not in ("strict", "any"):
            raise self.error(f"'order' must be strict or any, got {self.option('order')!r}", "order")

    def check(self, inp: EvalInput) -> Raw:
        want: list[str] = list(self.config["names"])
        got = _names(inp)
        extra = bool(self.option("extra"))
        if self.option("order") == "strict":
            if extra:
                rest = iter(got)
                ok = all(name in rest for name in want)  # a subsequence
            else:
                ok = got == want
        else:
            missing = Counter(want) - Counter(got)
            ok = not missing and (extra or Counter(got) == Counter(want))
        return (1.0 if ok else 0.0), ok, f"called {got or 'nothing'}; wanted {want}"


@evaluator("tool_call_f1")
class ToolCallF1(Evaluator):
    """F1 over (name, arguments) pairs against the case's `expected_tool_calls` (or `expected:`)."""

    options = {
        "expected": opt(list, help="[{name, args}] (default: the case's expected_tool_calls)"),
        "args": opt(bool, default=True, help="compare arguments too (false: names only)"),
    }
    default_threshold = 1.0

    def check(self, inp: EvalInput) -> Raw:
        expected = self.config.get("expected")
        if expected is None:
            expected = inp.expected_tool_calls
        if expected is None:
            raise CheckError("tool_call_f1: the case has no expected_tool_calls and no 'expected' is configured")
        with_args = bool(self.option("args"))

        def key(name: Any, args: Any) -> str:
            return json.dumps([name, _canon(args) if with_args else None], sort_keys=True, default=str)

        want = Counter(key(c.get("name"), c.get("args") or {}) for c in expected if isinstance(c, dict))
        got = Counter(key(c.get("name"), c.get("arguments")) for c in inp.tool_calls)
        if not want and not got:
            return 1.0, None, "no calls expected, none made"
        hits = sum((want & got).values())
        precision = hits / sum(got.values()) if got else 0.0
        recall = hits / sum(want.values()) if want else 0.0
        f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
        return (
            f1,
            None,
            f"F1 {fmt.score(f1)} (precision {fmt.score(precision)}, recall {fmt.score(recall)}); {_shown(inp)}",
        )


@evaluator("valid_tool_calls")
class ValidToolCalls(Evaluator):
    """Every call names a tool the prompt declares and its arguments validate against that tool's schema."""

    def check(self, inp: EvalInput) -> Raw:
        if inp.tools is None:
            raise CheckError("valid_tool_calls: the prompt declares no tools")
        import jsonschema

        for call in inp.tool_calls:
            name = call.get("name")
            if name not in inp.tools:
                return 0.0, False, f"call to undeclared tool {short(name)} (declared: {', '.join(inp.tools)})"
            args = call.get("arguments")
            if not isinstance(args, dict):
                return 0.0, False, f"{name}: arguments are not a JSON object: {short(call.get('raw_arguments'))}"
            schema = inp.tools[str(name)]
            error = next(iter(jsonschema.validators.validator_for(schema)(schema).iter_errors(args)), None)
            if error is not None:
                where = "/".join(str(p) for p in error.absolute_path) or "(root)"
                return 0.0, False, f"{name}: arguments invalid at {where}: {short(error.message, 120)[1:-1]}"
        return 1.0, True, f"{len(inp.tool_calls)} valid call(s)"


_STEP = re.compile(r"""\.([A-Za-z_][\w-]*)|\[(-?\d+)\]|\[(['"])(.*?)\3\]|\[\*\]|\.\*""")


def parse_path(path: str) -> list[Any]:
    """`$.items[0].sku` as steps: str keys, int indexes, None for a wildcard. ValueError if malformed."""
    if not path.startswith("$"):
        raise ValueError("a path starts with '$'")
    steps: list[Any] = []
    pos = 1
    while pos < len(path):
        m = _STEP.match(path, pos)
        if m is None:
            raise ValueError(f"cannot read the path at {path[pos:]!r}")
        if m.group(1) is not None:
            steps.append(m.group(1))
        elif m.group(2) is not None:
            steps.append(int(m.group(2)))
        elif m.group(4) is not None:
            steps.append(m.group(4))
        else:
            steps.append(None)
        pos = m.end()
    return steps


def select(data: Any, steps: list[Any]) -> list[Any]:
    """The values at `steps` in `data` (several with a wildcard; none when absent)."""
    values = [data]
    for step in steps:
        out: list[Any] = []
        for value in values:
            if step is None:
                out.extend(value.values() if isinstance(value, dict) else value if isinstance(value, list) else ())
            elif isinstance(step, int):
                if isinstance(value, list) and -len(value) <= step < len(value):
                    out.append(value[step])
            elif isinstance(value, dict) and step in value:
                out.append(value[step])
        values = out
    return values


@evaluator("json_path")
class JsonPath(Evaluator):
    """A path of the (structured) JSON output, e.g. `$.items[0].sku`, `equals` / matches `regex` / `exists`."""

    options = {
        "path": opt(str, required=True, help="$.key[0].other, ['quoted key'], [*]"),
        "equals": opt(str, int, float, bool, list, dict, help="the value there equals this"),
        "regex": opt(str, help="the value there (as text) matches this regex"),
        "exists": opt(bool, help="the path exists (true) or not (false)"),
    }

    def setup(self, *, resolve: bool = True) -> None:
        import regex

        try:
            self.steps = parse_path(self.config["path"])
        except ValueError as exc:
            raise self.error(f"invalid path {self.config['path']!r}: {exc}", "path") from None
        tests = [k for k in ("equals", "regex", "exists") if self.config.get(k) is not None]
        if len(tests) != 1:
            raise self.error("give exactly one of 'equals', 'regex', 'exists'")
        self._regex = None
        if self.config.get("regex") is not None:
            try:
                self._regex = regex.compile(self.config["regex"])
            except regex.error as exc:
                raise self.error(f"invalid regex: {exc}", "regex") from None

    def check(self, inp: EvalInput) -> Raw:
        path = self.config["path"]
        try:
            data = parse_json_output(inp.output)
        except ValueError as exc:
            return 0.0, False, f"output is not valid JSON: {exc}"
        values = select(data, self.steps)
        if self.config.get("exists") is not None:
            ok = bool(values) == self.config["exists"]
            return (1.0 if ok else 0.0), ok, f"{path} {'exists' if values else 'does not exist'}"
        if not values:
            return 0.0, False, f"{path} does not exist"
        if self._regex is not None:
            for value in values:
                text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                try:
                    if self._regex.search(text, timeout=_REGEX_TIMEOUT_S):
                        return 1.0, True, f"{path} = {short(value)} matches"
                except TimeoutError:
                    raise CheckError(f"json_path: regex took more than {_REGEX_TIMEOUT_S:g} s") from None
            return 0.0, False, f"{path} = {short(values[0])} does not match /{self.config['regex']}/"
        want = _canon(self.config["equals"])
        ok = any(_canon(v) == want for v in values)
        return (1.0 if ok else 0.0), ok, f"{path} = {short(values[0])}" + ("" if ok else f", wanted {short(want)}")


def _canon(value: Any) -> Any:
    """Arguments compared as JSON values (1 == 1.0; a YAML mapping is a plain dict)."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))

"""Prompt files: parsing, content-addressed identity and sandboxed rendering.

A prompt is `prompts/<name>.yaml` (a mapping with `messages` or `template`)
or `prompts/<name>.jinja` (YAML front matter between `---` lines, then a Jinja
body). Rendering happens in Jinja's immutable sandbox with strict undefined
variables, and `{% include %}`/`{% import %}` resolve only inside `prompts/`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from llmctl import images, sandbox
from llmctl.errors import InputError, RenderError
from llmctl.hashing import content_hash
from llmctl.schema import INPUT_TYPES, PROMPT_SCHEMA, keys_of
from llmctl.sources import Source, safe_join
from llmctl.suggest import did_you_mean, unknown_key
from llmctl.yamlio import LineDict, LineList, decode_text, load_yaml_text, plain

PROMPT_SUFFIXES = (".yaml", ".yml", ".jinja")
NOT_PROMPTS = ("llmctl.lock",)
PROMPT_KEYS = keys_of(PROMPT_SCHEMA)
INPUT_KEYS = keys_of(PROMPT_SCHEMA, "inputs")
ROLES = {"system", "user", "assistant", "developer", "tool"}
_SAFE_GLOBALS = ("range", "dict", "namespace")


def _type_ok(value: Any, type_name: str) -> bool:
    """Whether `value` is of the declared input type (a bool is not a number)."""
    allowed = INPUT_TYPES.get(type_name, (object,))
    return isinstance(value, allowed) and not (type_name in ("number", "integer") and isinstance(value, bool))


@dataclass
class InputSpec:
    name: str
    type: str = "string"
    default: Any = None
    required: bool = True
    description: str = ""
    enum: list[Any] | None = None
    line: int | None = None


@dataclass
class MessageTemplate:
    role: str
    content: str
    line: int  # file line where the content's text starts


class _SourceLoader(jinja2.BaseLoader):
    """Loads includes from the prompts folder of a Source; nothing else is reachable."""

    def __init__(self, source: Source, prompts_dir: str) -> None:
        self.source = source
        self.prompts_dir = prompts_dir

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        relpath = safe_join(self.prompts_dir, template)
        data = self.source.read(relpath, within=self.prompts_dir)
        if data is None:
            raise jinja2.TemplateNotFound(template)
        return decode_text(data, relpath), relpath, lambda: True


def make_environment(source: Source, prompts_dir: str = "prompts") -> ImmutableSandboxedEnvironment:
    """The sandboxed Jinja environment every prompt renders in."""
    env = sandbox.LimitedEnvironment(
        loader=_SourceLoader(source, prompts_dir),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    for name in list(env.globals):
        if name not in _SAFE_GLOBALS:
            del env.globals[name]
    env.filters["tojson"] = sandbox.limited_filter(
        "tojson", lambda value, indent=None: json.dumps(value, indent=indent, ensure_ascii=False)
    )
    return env


@dataclass
class Prompt:
    """A parsed prompt at one version. `hash` identifies its content (with includes)."""

    name: str
    path: str
    source: Source
    prompts_dir: str = "prompts"
    description: str = ""
    model: str | None = None
    model_line: int | None = None
    params: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, InputSpec] = field(default_factory=dict)
    messages: list[MessageTemplate] = field(default_factory=list)
    is_template: bool = False  # a single `template`/body rendered as one user message
    output_schema: dict[str, Any] | None = None
    output_schema_line: int | None = None
    structured: bool = False  # output.structured: send output_schema as response_format (strict)
    tools: list[dict[str, Any]] = field(default_factory=list)  # OpenAI function tools, full form
    tool_choice: Any = None  # OpenAI form: "auto" | "required" | "none" | {type: function, ...}
    data: dict[str, Any] = field(default_factory=dict)  # the canonical (plain) file content
    includes: dict[str, str] = field(default_factory=dict)  # relpath -> text
    hash: str = ""
    _env: ImmutableSandboxedEnvironment | None = None
    _compiled: list[jinja2.Template] | None = None

    @property
    def short_hash(self) -> str:
        return self.hash.split(":", 1)[-1][:12]

    @property
    def env(self) -> ImmutableSandboxedEnvironment:
        if self._env is None:
            self._env = make_environment(self.source, self.prompts_dir)
        return self._env

    def _templates(self) -> list[jinja2.Template]:
        if self._compiled is None:
            compiled = []
            for msg in self.messages:
                try:
                    compiled.append(self.env.from_string(msg.content))
                except jinja2.TemplateSyntaxError as exc:
                    raise _syntax_error(exc, self.path, msg) from None
            self._compiled = compiled
        return self._compiled

    def resolve_vars(self, values: dict[str, Any] | None) -> dict[str, Any]:
        """Apply defaults, check required inputs and types."""
        values = dict(values or {})
        out: dict[str, Any] = {}
        for name, spec in self.inputs.items():
            if name in values:
                value = values.pop(name)
                if not _type_ok(value, spec.type):
                    raise RenderError(
                        f"variable {name!r} must be of type {spec.type}, got {type(value).__name__}",
                        file=self.path,
                        line=spec.line,
                    )
                if spec.enum is not None and value not in spec.enum:
                    raise RenderError(
                        f"variable {name!r} must be one of {spec.enum}, got {value!r}",
                        file=self.path,
                        line=spec.line,
                    )
                out[name] = value
            elif not spec.required:
                out[name] = spec.default
            else:
                raise RenderError(
                    f"missing required variable {name!r}",
                    file=self.path,
                    line=spec.line,
                    hint=f"pass it with --var {name}=... or give it a default in inputs:",
                )
        out.update(values)  # extra values are visible but need no declaration
        return out

    def render(
        self,
        variables: dict[str, Any] | None = None,
        *,
        image_loader: images.ImageResolver | None = None,
        **kwargs: Any,
    ) -> list[dict[str, Any]]:
        """Render to chat messages: `[{"role": ..., "content": ...}, ...]`.

        Inputs of `type: image` are attached to the last user message as image content parts
        (its content becomes a list: the text, then the images). `image_loader(name, value)`
        turns a value into the URL sent (`llmctl eval` reads files relative to the evalset,
        inside `evalsets/`); without one a file path is read relative to the working directory.
        In the template an image variable is the value as written (the path or URL).
        """
        values = dict(variables or {})
        values.update(kwargs)
        context = self.resolve_vars(values)
        templates = self._templates()
        started = sandbox.start()
        try:
            messages: list[dict[str, Any]] = [
                {"role": msg.role, "content": self._render_one(msg, template, context)}
                for msg, template in zip(self.messages, templates, strict=True)
            ]
        finally:
            if started:
                sandbox.stop()
        return images.attach(messages, self._image_urls(context, image_loader))

    def image_inputs(self) -> list[str]:
        """The names of the inputs of `type: image`, in declared order."""
        return [name for name, spec in self.inputs.items() if spec.type == "image"]

    def _image_urls(self, context: dict[str, Any], loader: images.ImageResolver | None) -> list[str]:
        urls = []
        for name in self.image_inputs():
            value = context.get(name)
            if value is None:
                continue  # an optional image the case does not give
            resolve = loader or images.ImageLoader(base=Path.cwd(), file=self.path, line=self.inputs[name].line)
            urls.append(resolve(name, value))
        return urls

    def _render_one(self, msg: MessageTemplate, template: jinja2.Template, context: dict[str, Any]) -> str:
        """One message under the sandbox's limits; every failure is a RenderError at file:line."""
        try:
            return template.render(context)
        except sandbox.RenderLimit as exc:
            file, line = self._where(exc, msg)
            if sandbox.is_deadline(exc):
                raise sandbox.DeadlineExceeded(str(exc), file=file, line=line) from None
            raise RenderError(f"template exceeds a render limit: {exc}", file=file, line=line) from None
        except RecursionError as exc:
            file, line = self._where(exc, msg)
            raise RenderError(
                "template recursion is too deep (a macro that calls itself?)", file=file, line=line
            ) from None
        except MemoryError:
            raise RenderError("template needs too much memory", file=self.path, line=msg.line) from None
        except SecurityError as exc:
            raise RenderError(
                f"template tried an unsafe operation (blocked by the sandbox): {exc}",
                file=self.path,
                line=msg.line,
            ) from None
        except jinja2.UndefinedError as exc:
            raise RenderError(f"undefined variable: {exc.message}", file=self.path, line=msg.line) from None
        except jinja2.TemplateNotFound as exc:
            raise RenderError(f"included file not found: {exc.name}", file=self.path, line=msg.line) from None
        except InputError as exc:
            raise RenderError(exc.message, file=self.path, line=msg.line) from None
        except jinja2.TemplateError as exc:
            raise RenderError(f"template error: {exc}", file=self.path, line=msg.line) from None
        except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
            raise RenderError(f"template error: {type(exc).__name__}: {exc}", file=self.path, line=msg.line) from None

    def _where(self, exc: BaseException, msg: MessageTemplate) -> tuple[str, int | None]:
        """The file and line a render failure happened at (an included file, or the prompt's)."""
        found = sandbox.template_location(exc, self.includes)
        if found is None:
            return self.path, msg.line
        name, line = found
        if name == "<template>":
            return self.path, msg.line + line - 1
        return name, line

    def variables_used(self) -> dict[str, int]:
        """Variables a template reads without defining them, with the line that uses them."""
        used: dict[str, int] = {}
        for msg in self.messages:
            ast = _parse(self.env, msg.content, self.path, msg)
            for var in meta.find_undeclared_variables(ast):
                used.setdefault(var, msg.line)
        for relpath, text in self.includes.items():
            try:
                ast = self.env.parse(text)
            except jinja2.TemplateSyntaxError as exc:
                raise InputError(f"template syntax error: {exc.message}", file=relpath, line=exc.lineno) from None
            for var in meta.find_undeclared_variables(ast):
                used.setdefault(var, self.messages[0].line if self.messages else 1)
        for name in _SAFE_GLOBALS:
            used.pop(name, None)
        return used

    def request_params(self) -> dict[str, Any]:
        """What the prompt adds to every request: `tools`, `tool_choice`, `response_format`."""
        out: dict[str, Any] = {}
        if self.tools:
            out["tools"] = self.tools
        if self.tool_choice is not None:
            out["tool_choice"] = self.tool_choice
        if self.structured and self.output_schema is not None:
            out["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": _schema_name(self.name), "schema": self.output_schema, "strict": True},
            }
        return out

    def tool_schemas(self) -> dict[str, dict[str, Any]]:
        """Declared tool name -> its parameters schema ({} when it declares none)."""
        return {t["function"]["name"]: t["function"].get("parameters") or {} for t in self.tools}

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": self.path,
            "hash": self.hash,
            "content": self.data,
            "includes": sorted(self.includes),
        }


_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_TOOL_KEYS = ("name", "description", "parameters", "strict")


def _schema_name(name: str) -> str:
    """A response_format schema name (OpenAI: [A-Za-z0-9_-], at most 64) from the prompt's name."""
    return (re.sub(r"[^A-Za-z0-9_-]", "_", name) or "output")[:64]


def parse_tools(value: Any, relpath: str, line: int | None) -> list[dict[str, Any]]:
    """`tools:` (short `{name, description, parameters}` or full `{type: function, function: {...}}`)
    as OpenAI function tools in full form; InputError at file:line for anything else."""
    if not isinstance(value, list) or not value:
        raise InputError("'tools' must be a non-empty list of {name, description, parameters}", file=relpath, line=line)
    tools: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, item in enumerate(value):
        at = value.line_of(i) if isinstance(value, LineList) else line
        if not isinstance(item, dict):
            raise InputError("each tool must be a mapping {name, description, parameters}", file=relpath, line=at)
        fn: Any = item
        if "function" in item or "type" in item:
            extra = sorted(set(item) - {"type", "function"})
            if item.get("type") != "function" or not isinstance(item.get("function"), dict) or extra:
                raise InputError(
                    "a full-form tool is {type: function, function: {name, description, parameters}}",
                    file=relpath,
                    line=at,
                )
            fn = item["function"]
            at = item.line_of("function") if isinstance(item, LineDict) else at
        for key in fn:
            if key not in _TOOL_KEYS:
                message, hint = unknown_key(key, _TOOL_KEYS, "in tool")
                raise InputError(
                    message, file=relpath, line=fn.line_of(key) if isinstance(fn, LineDict) else at, hint=hint
                )
        name = fn.get("name")
        if not isinstance(name, str) or not _TOOL_NAME.match(name):
            raise InputError(f"tool name must be 1-64 letters, digits, '_' or '-', got {name!r}", file=relpath, line=at)
        if name in seen:
            raise InputError(f"tool {name!r} is declared twice", file=relpath, line=at)
        seen.add(name)
        description = fn.get("description")
        if description is not None and not isinstance(description, str):
            raise InputError(f"tool {name!r}: 'description' must be a string", file=relpath, line=at)
        params = fn.get("parameters")
        if params is not None:
            p_line = fn.line_of("parameters") if isinstance(fn, LineDict) else at
            if not isinstance(params, dict):
                raise InputError(
                    f"tool {name!r}: 'parameters' must be a JSON Schema mapping", file=relpath, line=p_line
                )
            _check_schema(plain(params), f"tool {name!r}: parameters", relpath, p_line)
        if "strict" in fn and not isinstance(fn["strict"], bool):
            raise InputError(f"tool {name!r}: 'strict' must be true or false", file=relpath, line=at)
        tools.append({"type": "function", "function": plain({k: fn[k] for k in _TOOL_KEYS if k in fn})})
    return tools


def parse_tool_choice(value: Any, tools: list[dict[str, Any]], relpath: str, line: int | None) -> Any:
    """`tool_choice:` auto | required | none | {name: X} | the OpenAI form, in the OpenAI form."""
    names = [t["function"]["name"] for t in tools]
    if not tools:
        raise InputError("'tool_choice' needs 'tools'", file=relpath, line=line)
    if value in ("auto", "required", "none"):
        return value
    name = None
    if isinstance(value, dict):
        if set(value) == {"name"}:
            name = value["name"]
        elif value.get("type") == "function" and isinstance(value.get("function"), dict):
            name = value["function"].get("name")
    if name is None:
        raise InputError(
            f"'tool_choice' must be auto, required, none or {{name: TOOL}}, got {plain(value)!r}",
            file=relpath,
            line=line,
        )
    if name not in names:
        raise InputError(
            f"'tool_choice' names {name!r}, which is not a declared tool ({', '.join(names)})",
            file=relpath,
            line=line,
        )
    return {"type": "function", "function": {"name": name}}


def _check_schema(schema: Any, what: str, relpath: str, line: int | None) -> None:
    import jsonschema  # deferred: only prompts that declare tools pay for it

    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise InputError(f"{what} is not a valid JSON Schema: {exc.message}", file=relpath, line=line) from None


def _syntax_error(exc: jinja2.TemplateSyntaxError, path: str, msg: MessageTemplate) -> InputError:
    line = msg.line + (exc.lineno or 1) - 1
    return InputError(f"template syntax error: {exc.message}", file=path, line=line)


def _parse(env: jinja2.Environment, text: str, path: str, msg: MessageTemplate) -> nodes.Template:
    try:
        return env.parse(text)
    except jinja2.TemplateSyntaxError as exc:
        raise _syntax_error(exc, path, msg) from None


def _content_line(lines: list[str], key_line: int) -> int:
    """Line where a scalar's text starts: the next line for block scalars (`|`, `>`)."""
    if 0 < key_line <= len(lines):
        text = lines[key_line - 1].rstrip()
        if text.endswith(("|", ">", "|-", ">-", "|+", ">+")):
            return key_line + 1
    return key_line


def name_from_path(relpath: str, prompts_dir: str = "prompts") -> str:
    rel = relpath[len(prompts_dir) + 1 :] if relpath.startswith(prompts_dir + "/") else relpath
    for suffix in PROMPT_SUFFIXES:
        if rel.endswith(suffix):
            return rel[: -len(suffix)]
    return rel


def split_front_matter(text: str, relpath: str) -> tuple[str | None, str, int]:
    """(front matter, body, line number where the body starts) of a .jinja file."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return None, text, 1
    for i in range(1, len(lines)):
        if lines[i].strip() == "---":
            return "".join(lines[1:i]), "".join(lines[i + 1 :]), i + 2
    raise InputError("front matter opened with '---' is never closed", file=relpath, line=1)


def is_prompt_file(relpath: str, source: Source | None = None, prompts_dir: str = "prompts") -> bool:
    """Prompt files are .yaml/.yml, and .jinja with front matter (others are partials)."""
    base = relpath.rsplit("/", 1)[-1]
    if base in NOT_PROMPTS or not relpath.endswith(PROMPT_SUFFIXES):
        return False
    if relpath.endswith(".jinja"):
        if source is None:
            return True
        data = source.read(relpath, within=prompts_dir) or b""
        return data.lstrip(b"\xef\xbb\xbf").startswith(b"---")
    return True


def parse_prompt(source: Source, relpath: str, prompts_dir: str = "prompts") -> Prompt:
    """Parse and validate one prompt file; every problem names the file and line."""
    data_bytes = source.read(relpath, within=prompts_dir)
    if data_bytes is None:
        raise InputError("file not found", file=relpath)
    text = decode_text(data_bytes, relpath)
    stem = relpath.rsplit("/", 1)[-1]
    if stem.startswith(".") or name_from_path(relpath, prompts_dir).endswith("/") or stem.split(".")[0] == "":
        raise InputError("prompt file has no name (e.g. prompts/summarize.yaml)", file=relpath, line=1)
    body: str | None = None
    body_line = 1
    if relpath.endswith(".jinja"):
        front, body, body_line = split_front_matter(text, relpath)
        data = load_yaml_text(front or "", relpath, line_offset=1) if front else LineDict()
        if data is None:
            data = LineDict()
        if not isinstance(data, LineDict):
            raise InputError("front matter must be a YAML mapping", file=relpath, line=2)
        if "messages" in data or "template" in data:
            raise InputError(
                "a .jinja prompt's body is its template; remove 'messages'/'template' from the front matter",
                file=relpath,
                line=data.line_of("messages" if "messages" in data else "template"),
            )
    else:
        if not text.strip():
            raise InputError("empty prompt file", file=relpath, line=1)
        data = load_yaml_text(text, relpath)
        if not isinstance(data, LineDict):
            raise InputError("a prompt file must be a YAML mapping", file=relpath, line=1)
    lines = text.splitlines()
    prompt = Prompt(name=name_from_path(relpath, prompts_dir), path=relpath, source=source, prompts_dir=prompts_dir)
    _fill_prompt(prompt, data, relpath, lines)
    if body is not None:
        if not body.strip():
            raise InputError(
                "the template after the front matter is empty",
                file=relpath,
                line=min(body_line, max(1, len(text.splitlines()))),
            )
        prompt.messages = [MessageTemplate("user", body.strip("\n"), body_line)]
        prompt.is_template = True
    if not prompt.messages:
        raise InputError("a prompt needs 'messages' (a chat) or 'template'", file=relpath, line=1)
    canonical = plain(data)
    if body is not None:
        canonical["template"] = body.strip("\n")
    prompt.data = canonical
    prompt.includes = _collect_includes(prompt)
    prompt.hash = content_hash(
        {"prompt": canonical, "includes": {p: prompt.includes[p] for p in sorted(prompt.includes)}}
    )
    return prompt


def _fill_prompt(prompt: Prompt, data: LineDict, relpath: str, lines: list[str]) -> None:
    for key in data:
        if key not in PROMPT_KEYS:
            message, hint = unknown_key(key, PROMPT_KEYS)
            raise InputError(message, file=relpath, line=data.line_of(key), hint=hint)

    def want(key: str, kind: type | tuple[type, ...], what: str) -> Any:
        value = data.get(key)
        if value is not None and not isinstance(value, kind):
            raise InputError(f"{key!r} must be {what}", file=relpath, line=data.line_of(key))
        return value

    name = want("name", str, "a string")
    if name is not None:
        if not name.strip() or any(c.isspace() for c in name) or "@" in name:
            raise InputError("'name' must be non-empty with no spaces or '@'", file=relpath, line=data.line_of("name"))
        prompt.name = name
    prompt.description = want("description", str, "a string") or ""
    prompt.model = want("model", str, "a litellm model id or alias (a string)")
    prompt.model_line = data.line_of("model") if prompt.model is not None else None
    prompt.params = dict(want("params", dict, "a mapping (e.g. {temperature: 0})") or {})
    want("tags", list, "a list")
    want("metadata", dict, "a mapping")
    inputs = want("inputs", dict, "a mapping of variable name to {type, default}") or {}
    for var, spec in inputs.items():
        line = inputs.line_of(var) if isinstance(inputs, LineDict) else data.line_of("inputs")
        if not var.isidentifier():
            raise InputError(f"input name {var!r} is not a valid identifier", file=relpath, line=line)
        if spec is None:
            spec = {}
        if isinstance(spec, str):
            spec = {"type": spec}
        if not isinstance(spec, dict):
            raise InputError(f"input {var!r} must be a mapping like {{type: string}}", file=relpath, line=line)
        for key in spec:
            if key not in INPUT_KEYS:
                message, hint = unknown_key(key, INPUT_KEYS, f"in input {var!r}")
                raise InputError(
                    message, file=relpath, line=spec.line_of(key) if isinstance(spec, LineDict) else line, hint=hint
                )
        vtype = spec.get("type", "string")
        if vtype not in INPUT_TYPES:
            raise InputError(
                f"input {var!r} has unknown type {vtype!r} (one of: {', '.join(INPUT_TYPES)})",
                file=relpath,
                line=line,
                hint=did_you_mean(str(vtype), INPUT_TYPES),
            )
        has_default = "default" in spec
        required = spec.get("required", not has_default)
        if not isinstance(required, bool):
            raise InputError(f"input {var!r}: 'required' must be true or false", file=relpath, line=line)
        enum = spec.get("enum")
        if enum is not None and (not isinstance(enum, list) or not enum):
            raise InputError(f"input {var!r}: 'enum' must be a non-empty list", file=relpath, line=line)
        default = plain(spec.get("default"))
        if default is not None:
            if not _type_ok(default, vtype):
                raise InputError(f"input {var!r}: default {default!r} is not of type {vtype}", file=relpath, line=line)
            if enum is not None and default not in enum:
                raise InputError(
                    f"input {var!r}: default {default!r} is not one of {plain(enum)}", file=relpath, line=line
                )
        prompt.inputs[var] = InputSpec(
            name=var,
            type=vtype,
            default=default,
            required=required,
            description=str(spec.get("description", "")),
            enum=plain(enum),
            line=line,
        )
    output = want("output", dict, "a mapping (e.g. {json_schema: {...}})")
    if output:
        for key in output:
            if key not in ("json_schema", "structured"):
                message, hint = unknown_key(key, ("json_schema", "structured"), "in output")
                raise InputError(
                    message,
                    file=relpath,
                    line=output.line_of(key) if isinstance(output, LineDict) else data.line_of("output"),
                    hint=hint,
                )
        schema = output.get("json_schema")
        if schema is not None:
            if not isinstance(schema, dict):
                raise InputError("output.json_schema must be a mapping", file=relpath, line=data.line_of("output"))
            prompt.output_schema = plain(schema)
            prompt.output_schema_line = (
                output.line_of("json_schema") if isinstance(output, LineDict) else data.line_of("output")
            )
        structured = output.get("structured", False)
        out_line = output.line_of("structured") if isinstance(output, LineDict) else data.line_of("output")
        if not isinstance(structured, bool):
            raise InputError("output.structured must be true or false", file=relpath, line=out_line)
        if structured and prompt.output_schema is None:
            raise InputError("output.structured needs output.json_schema", file=relpath, line=out_line)
        prompt.structured = structured
    if "tools" in data:
        prompt.tools = parse_tools(data["tools"], relpath, data.line_of("tools"))
    if "tool_choice" in data:
        prompt.tool_choice = parse_tool_choice(data["tool_choice"], prompt.tools, relpath, data.line_of("tool_choice"))
    if "messages" in data and "template" in data:
        raise InputError("use either 'messages' or 'template', not both", file=relpath, line=data.line_of("template"))
    if "template" in data:
        template = data["template"]
        if not isinstance(template, str):
            raise InputError("'template' must be a string", file=relpath, line=data.line_of("template"))
        prompt.messages = [MessageTemplate("user", template, _content_line(lines, data.line_of("template")))]
        prompt.is_template = True
    elif "messages" in data:
        messages = data["messages"]
        if not isinstance(messages, LineList) or not messages:
            raise InputError(
                "'messages' must be a non-empty list of {role, content}",
                file=relpath,
                line=data.line_of("messages"),
            )
        for i, msg in enumerate(messages):
            line = messages.line_of(i)
            if not isinstance(msg, LineDict):
                raise InputError("each message must be a mapping {role, content}", file=relpath, line=line)
            for key in msg:
                if key not in ("role", "content"):
                    message, hint = unknown_key(key, ("role", "content"), "in message")
                    raise InputError(message, file=relpath, line=msg.line_of(key), hint=hint)
            role = msg.get("role")
            if role not in ROLES:
                raise InputError(
                    f"message role must be one of {', '.join(sorted(ROLES))}, got {role!r}",
                    file=relpath,
                    line=msg.line_of("role"),
                )
            content = msg.get("content")
            if not isinstance(content, str):
                raise InputError(
                    "message 'content' must be a string",
                    file=relpath,
                    line=msg.line_of("content") if "content" in msg else line,
                )
            prompt.messages.append(MessageTemplate(role, content, _content_line(lines, msg.line_of("content"))))


def _template_refs(ast: nodes.Template) -> list[tuple[str | None, int]]:
    """(name, line) of every include/import/extends in a template (None: not a literal name)."""
    refs: list[tuple[str | None, int]] = []
    for node in ast.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)):
        target = node.template  # type: ignore[attr-defined]
        name = target.value if isinstance(target, nodes.Const) and isinstance(target.value, str) else None
        refs.append((name, node.lineno))
    return refs


def _collect_includes(prompt: Prompt) -> dict[str, str]:
    """Every file the prompt includes or imports, transitively (relpath -> text).

    Includes must name a file literally, may not form a cycle (a file that includes
    itself, directly or through others) and may not nest deeper than
    `sandbox.MAX_INCLUDE_DEPTH`: each is an InputError at the include's file and line.
    """
    found: dict[str, str] = {}
    edges: dict[str, list[tuple[str, int]]] = {}
    pending: list[tuple[str, str, MessageTemplate]] = [(m.content, prompt.path, m) for m in prompt.messages]
    while pending:
        text, origin, msg = pending.pop()
        try:
            ast = prompt.env.parse(text)
        except jinja2.TemplateSyntaxError as exc:
            if origin == prompt.path:
                raise _syntax_error(exc, prompt.path, msg) from None
            raise InputError(f"template syntax error: {exc.message}", file=origin, line=exc.lineno) from None
        for ref, ref_line in _template_refs(ast):
            line = msg.line + ref_line - 1 if origin == prompt.path else ref_line
            if ref is None:
                raise InputError(
                    "includes must name a file literally (dynamic includes cannot be versioned)",
                    file=origin,
                    line=line,
                )
            relpath = safe_join(prompt.prompts_dir, ref, file=origin, line=line)
            edges.setdefault(origin, []).append((relpath, line))
            if relpath in found:
                continue
            data = prompt.source.read(relpath, within=prompt.prompts_dir)
            if data is None:
                raise InputError(f"included file not found: {ref} (looked for {relpath})", file=origin, line=line)
            included = decode_text(data, relpath)
            found[relpath] = included
            pending.append((included, relpath, msg))
    _check_include_graph(prompt.path, edges)
    return found


def _check_include_graph(top: str, edges: dict[str, list[tuple[str, int]]]) -> None:
    """Refuse include cycles and chains deeper than the sandbox allows (iteratively: no recursion)."""
    limit = sandbox.MAX_INCLUDE_DEPTH
    chain: list[str] = [top]
    on_chain = {top}
    done: set[str] = set()
    stack: list[Iterator[tuple[str, int]]] = [iter(edges.get(top, []))]
    while stack:
        child = next(stack[-1], None)
        if child is None:
            stack.pop()
            done.add(chain[-1])
            on_chain.discard(chain.pop())
            continue
        target, line = child
        parent = chain[-1]
        if target in on_chain:
            cycle = " -> ".join([*chain[chain.index(target) :], target])
            raise InputError(f"include cycle: {cycle}", file=parent, line=line)
        if target in done:
            continue
        if len(chain) >= limit:
            raise InputError(f"includes nested more than {limit} deep (through {target})", file=parent, line=line)
        chain.append(target)
        on_chain.add(target)
        stack.append(iter(edges.get(target, [])))


class PromptLibrary:
    """The prompts of one Source (a work tree or a commit), looked up by name."""

    def __init__(self, source: Source, prompts_dir: str = "prompts") -> None:
        self.source = source
        self.prompts_dir = prompts_dir
        self._cache: dict[str, Prompt] = {}

    def files(self) -> list[str]:
        return [p for p in self.source.list_files(self.prompts_dir) if is_prompt_file(p, self.source, self.prompts_dir)]

    def load_path(self, relpath: str) -> Prompt:
        if relpath not in self._cache:
            self._cache[relpath] = parse_prompt(self.source, relpath, self.prompts_dir)
        return self._cache[relpath]

    def get(self, name: str) -> Prompt:
        """The prompt called `name` (path-derived, or its `name:` field)."""
        for suffix in PROMPT_SUFFIXES:
            relpath = f"{self.prompts_dir}/{name}{suffix}"
            if self.source.read(relpath, within=self.prompts_dir) is not None and is_prompt_file(
                relpath, self.source, self.prompts_dir
            ):
                prompt = self.load_path(relpath)
                if prompt.name == name:
                    return prompt
        names: set[str] = set()  # what each prompt is called (its `name:`, else its path)
        for relpath in self.files():
            try:
                prompt = self.load_path(relpath)
            except InputError:
                continue
            if prompt.name == name:
                return prompt
            names.add(prompt.name)
        known = sorted(names)
        guess = did_you_mean(name, known)
        listed = f"known prompts: {', '.join(known) or '(none)'}"
        raise InputError(
            f"unknown prompt {name!r}" + (f" at {self.source.label[:12]}" if self.source.label != "WORKTREE" else ""),
            hint=f"{guess} ({listed})" if guess else listed,
        )

    def all(self) -> list[Prompt]:
        return [self.load_path(p) for p in self.files()]

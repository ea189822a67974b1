"""Shared CLI plumbing: error reporting, exit codes, consoles, --var parsing."""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmctl.errors import EXIT_INFRA, EXIT_INTERRUPTED, EXIT_USAGE, InputError, Interrupted, LlmctlError

if TYPE_CHECKING:
    import typer
    from rich.console import Console

    from llmctl.config import Config

DEBUG = False
_console: Console | None = None
_err_console: Console | None = None


def console() -> Console:
    global _console
    if _console is None:
        from rich.console import Console

        _console = Console(highlight=False, width=_width(sys.stdout.isatty()))
    return _console


def _width(tty: bool) -> int | None:
    """`COLUMNS` when set; a terminal's own width; else wide enough that logs are never hard-wrapped."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    return None if tty else 1000


def err_console() -> Console:
    global _err_console
    if _err_console is None:
        from rich.console import Console

        _err_console = Console(stderr=True, highlight=False, width=_width(sys.stderr.isatty()))
    return _err_console


def error(message: str) -> None:
    """Print one error message to stderr (plain text; never rich markup from inputs)."""
    from llmctl.safetext import terminal_safe

    # Messages quote names from files (evaluator metrics, model aliases, keys): no escapes.
    sys.stderr.write(f"error: {terminal_safe(message)}\n")
    sys.stderr.flush()


def _is_click_exception(exc: BaseException) -> bool:
    """Click's (or typer's vendored click's) usage errors: they know how to show themselves."""
    return hasattr(exc, "show") and hasattr(exc, "exit_code") and hasattr(exc, "format_message")


def _interrupt_in(exc: BaseException) -> KeyboardInterrupt | None:
    """The Ctrl-C (or SIGTERM) behind an exception that click/typer raised in its place."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return None
        if isinstance(seen, KeyboardInterrupt):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _interrupted(exc: BaseException | None) -> None:
    """Say that the command was interrupted and, where a run was going, how to finish it."""
    hint = getattr(exc, "hint", None)
    sys.stderr.write("interrupted\n" + (f"  hint: {hint}\n" if hint else ""))
    sys.stderr.flush()


def invoke(app: typer.Typer, argv: list[str]) -> int:
    """Run the app and turn every outcome into an exit code (README, "Commands")."""
    try:
        result = app(args=argv, prog_name="llmctl", standalone_mode=False)
    except Interrupted as exc:
        _interrupted(exc)
        return EXIT_INTERRUPTED
    except LlmctlError as exc:
        if DEBUG:
            traceback.print_exc()
        error(exc.located())
        return exc.exit_code
    except KeyboardInterrupt as exc:
        _interrupted(exc)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0
    except Exception as exc:
        name = type(exc).__name__
        interrupt = _interrupt_in(exc)
        if interrupt is not None or name == "Abort":  # click/typer turn Ctrl-C into Abort or Exit(130)
            _interrupted(interrupt)
            return EXIT_INTERRUPTED
        if name == "Exit":
            return int(getattr(exc, "exit_code", 0) or 0)
        if _is_click_exception(exc):
            if DEBUG:
                traceback.print_exc()
            exc.show()  # type: ignore[attr-defined]
            return EXIT_USAGE
        if DEBUG:
            raise
        error(
            f"internal error: {name}: {exc}\n"
            "  this is a bug in llmctl; run again with --debug for the traceback and report it"
        )
        return EXIT_INFRA
    # Without standalone mode, click returns the code of a `typer.Exit` instead of raising it.
    if result == EXIT_INTERRUPTED:  # typer turns a Ctrl-C outside a run into Exit(130)
        _interrupted(None)
    return result if isinstance(result, int) else 0


def load_config(path: Path | None = None) -> Config:
    """The project's config; no llmctl.yaml here or in a parent folder is an input error (exit 2)."""
    from llmctl.config import find_config
    from llmctl.config import load_config as _load

    if find_config(path) is None:
        where = (path or Path.cwd()).resolve()
        raise InputError(
            f"no llmctl.yaml in {where} or any parent folder",
            hint="run `llmctl init` to create a project here, or cd into one",
        )
    return _load(path)


def parse_vars(pairs: list[str] | None, vars_file: Path | None) -> dict[str, Any]:
    """`--var k=v` (v parsed as YAML scalar when it looks like one) and `--vars-file f.yaml`."""
    values: dict[str, Any] = {}
    if vars_file is not None:
        from llmctl.yamlio import load_yaml_file

        data = load_yaml_file(vars_file)
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise InputError("a vars file must be a YAML mapping", file=str(vars_file), line=1)
        values.update(data)
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--var expects KEY=VALUE, got {pair!r}")
        values[key.strip()] = value
    return values


def coerce_cli_vars(inputs: dict[str, Any], values: dict[str, Any], cli_keys: set[str]) -> dict[str, Any]:
    """`--var n=3` gives the text "3": parse it (JSON, then YAML) where the input is not a string.

    Only values typed on the command line are converted, and only when the result has the
    declared type (integer, number, boolean, array, object); otherwise the text is kept and
    rendering reports the type error.
    """
    import json

    import yaml

    from llmctl.prompt import _type_ok

    out = dict(values)
    for key in cli_keys:
        spec = inputs.get(key)
        text = out.get(key)
        if spec is None or spec.type in ("string", "any") or not isinstance(text, str):
            continue
        for parse in (json.loads, yaml.safe_load):
            try:
                parsed = parse(text)
            except (ValueError, yaml.YAMLError):
                continue
            if _type_ok(parsed, spec.type):
                out[key] = parsed
                break
    return out


def echo_json(data: Any) -> None:
    import json

    from llmctl import fmt

    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=fmt.json_default) + "\n")

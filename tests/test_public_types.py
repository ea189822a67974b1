"""No `Any` in the public signatures of llmctl.store and llmctl.run (issue 28), except those listed
here with the reason; `mypy` (strict, pyproject) checks the rest of both packages."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "llmctl"

# Still `Any`, and why. Shrink this list; never grow it without a reason.
ALLOWED = {
    "store/_lake.py: LakeCursor.__getattr__",  # a proxy of DuckDB's cursor (the shared-store module)
    "store/_lake.py: LakeCursor.execute",
    "store/_traces.py: query_traces",  # ad-hoc trace rows (the traces module)
    "store/_traces.py: iter_traces",
    "store/_monitor.py: monitor_groups",  # the monitor's rows, as query_traces returns them
    "store/_monitor.py: monitor_daily",
    "store/_monitor.py: monitor_sample",
    "store/_monitor.py: monitor_daily_sample",
    "store/_writer.py: arrow_array",  # any Python value a column may hold, converted for Arrow
    "store/_writer.py: coerce_value",
    "store/_writer.py: arrow_array_strict",
    "run/_limits.py: cap_calls",  # tool calls: llmctl.types.CallResult.tool_calls is list[dict[str, Any]]
    "run/_limits.py: cap_turns",
    "run/_plan.py: Job.params",  # model parameters as the prompt and evalset wrote them
}


def _public_any(path: Path) -> list[str]:
    found = []

    def walk(body: list[ast.stmt], prefix: str, private: bool) -> None:
        for node in body:
            if isinstance(node, ast.ClassDef):
                walk(node.body, prefix + node.name + ".", private or node.name.startswith("_"))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if private or (node.name.startswith("_") and not node.name.startswith("__")):
                    continue
                args = node.args
                anns = [a.annotation for a in [*args.posonlyargs, *args.args, *args.kwonlyargs] if a.annotation]
                anns += [a.annotation for a in (args.vararg, args.kwarg) if a is not None and a.annotation]
                anns += [node.returns] if node.returns is not None else []
                if any("Any" in ast.unparse(a) for a in anns):
                    found.append(prefix + node.name)
            elif isinstance(node, ast.AnnAssign) and prefix and not private and isinstance(node.target, ast.Name):
                if not node.target.id.startswith("_") and "Any" in ast.unparse(node.annotation):
                    found.append(prefix + node.target.id)

    walk(ast.parse(path.read_text(encoding="utf-8")).body, "", False)
    return [f"{path.relative_to(ROOT)}: {name}" for name in found]


def test_no_any_in_the_public_signatures_of_store_and_run() -> None:
    found = {hit for pkg in ("store", "run") for path in sorted((ROOT / pkg).glob("*.py")) for hit in _public_any(path)}
    assert found - ALLOWED == set(), "Any in a public signature: give it its type (or say why above)"
    assert ALLOWED - found == set(), "typed now: drop it from ALLOWED"

"""The package's import structure: no cycles, leaves stay leaves, the core never reaches up.

Read from the source with `ast` (module-level imports, and separately every
import, lazy ones inside functions included), plus one fresh interpreter for
what importing the core modules really loads.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "llmctl"


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _targets(node: ast.stmt) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        # `from llmctl.release import lockfile` imports the submodule; `... import promote` the package
        return [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module for a in node.names]
    return []


def _imports(path: Path, *, lazy: bool) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[str] = []
    if lazy:
        # every import statement that can run, inside functions included; `if TYPE_CHECKING:`
        # blocks never run (annotations only), so they are no edge of the runtime graph

        def walk(node: ast.AST) -> None:
            if isinstance(node, ast.If) and _is_type_checking(node.test):
                for child in node.orelse:
                    walk(child)
                return
            if isinstance(node, ast.stmt):
                found.extend(_targets(node))
            for child in ast.iter_child_nodes(node):
                walk(child)

        walk(tree)
    else:

        def visit(body: list[ast.stmt]) -> None:
            for node in body:
                if isinstance(node, ast.If) and not _is_type_checking(node.test):
                    visit(node.body)
                    visit(node.orelse)
                elif isinstance(node, ast.Try):
                    visit(node.body)
                else:
                    found.extend(_targets(node))

        visit(tree.body)
    return {name for name in found if name in MODULES}


def _graph(*, lazy: bool) -> dict[str, set[str]]:
    return {name: _imports(path, lazy=lazy) - {name} for name, path in MODULES.items()}


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in graph[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen


def test_module_level_imports_have_no_cycle() -> None:
    graph = _graph(lazy=False)
    for name in graph:
        assert name not in _reachable(graph, name), f"{name} imports itself through {sorted(_reachable(graph, name))}"


def test_prompts_and_evalsets_never_reach_the_release_package_or_the_runner() -> None:
    """Not even lazily: a prompt is parsed and rendered without knowing about releases (this
    was the prompt -> versions -> evalset -> prompt cycle), and hashing is a leaf."""
    graph = _graph(lazy=True)
    for core in ("llmctl.prompt", "llmctl.evalset", "llmctl.sources", "llmctl.hashing"):
        reached = _reachable(graph, core)
        assert not {m for m in reached if m.startswith(("llmctl.release", "llmctl.run", "llmctl.api"))}, core
    assert _graph(lazy=True)["llmctl.hashing"] == set()


def test_importing_the_core_loads_neither_releases_nor_litellm() -> None:
    code = (
        "import sys, llmctl.prompt, llmctl.evalset, llmctl.hashing\n"
        "bad = sorted(m for m in sys.modules if m.startswith(('llmctl.release', 'llmctl.run', 'litellm', 'git')))\n"
        "print(','.join(bad))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == ""


def _in_a_lazy_cycle(prefix: str) -> list[str]:
    graph = _graph(lazy=True)
    return sorted(name for name in graph if name.startswith(prefix) and name in _reachable(graph, name))


def test_the_model_layer_has_no_cycle_even_through_lazy_imports() -> None:
    """llmctl.models was a knot (_cost, _litellm, _resolve, _routing, _scrub importing each
    other, some inside functions); now each of its modules is reached only downwards."""
    assert _in_a_lazy_cycle("llmctl.models") == []
    assert _in_a_lazy_cycle("llmctl.verdict") == [] and _in_a_lazy_cycle("llmctl.gate") == []


def test_no_module_is_in_an_import_cycle_even_through_lazy_imports() -> None:
    """The whole package: an import inside a function is still a dependency, and a cycle through
    one (store -> run -> release -> store, as it once was) is a knot even when it happens not to
    bite at import time. Annotations under `if TYPE_CHECKING:` are not imports that run."""
    assert _in_a_lazy_cycle("llmctl") == []


def test_the_lazy_graph_sees_imports_inside_functions_and_skips_type_checking_blocks(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from llmctl.store import Store\n"
        "def f():\n    if True:\n        from llmctl.gate import compare\n"
        "try:\n    import llmctl.fmt\nexcept ImportError:\n    pass\n",
        encoding="utf-8",
    )
    assert _imports(source, lazy=True) == {"llmctl.gate", "llmctl.fmt"}
    assert _imports(source, lazy=False) == {"llmctl.fmt"}


def test_every_module_imports_on_its_own() -> None:
    """Each llmctl module imported first, in an interpreter where no other llmctl module is loaded
    yet: an import cycle that only bites in one order ("partially initialized module") fails here."""
    code = (
        "import importlib, sys, traceback\n"
        "failed = []\n"
        "for name in sys.argv[1:]:\n"
        "    for loaded in [m for m in sys.modules if m == 'llmctl' or m.startswith('llmctl.')]:\n"
        "        del sys.modules[loaded]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        failed.append(f'{name}: {type(exc).__name__}: {exc}')\n"
        "print('\\n'.join(failed))\n"
    )
    names = sorted(name for name in MODULES if not name.startswith("llmctl.templates"))
    proc = subprocess.run([sys.executable, "-c", code, *names], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == ""

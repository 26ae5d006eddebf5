"""Every module imports on its own, whatever was imported before it: a user's first command
(``csbot demo`` imports ``bot.tour`` first) must not hit an import cycle that the test suite's
import order happens to hide. Each case is a fresh interpreter."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Modules that were broken when imported first (tools.alert_actions -> tools.outbox ->
# tools.alerts -> tools.alerts.policy -> tools.alert_actions), and the CLI's entry points.
FIRST = [
    "tools.alert_actions",
    "bot.tour",
    "bot.policy",
    "bot.cli",
    "tools.outbox",
    "tools.results",
]


@pytest.mark.parametrize("module", FIRST)
def test_module_imports_first_in_a_fresh_interpreter(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]


# A package's __init__ importing its own submodules (and a submodule importing its package) is
# how Python packages work; any other cycle among module-level imports works or fails depending
# on which module a user's command happens to import first (``import tools.results`` alone
# failed: results -> onboarding -> facts -> definitions -> results). The one allowed cycle: the
# table modules, which ``tools.models`` imports last so that every table is registered.
ALLOWED_CYCLES = [{"tools.models", "tools.models_cache", "tools.models_followup"}]


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for top in ("tools", "bot"):
        for path in (ROOT / top).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Modules ``name`` runs when it is imported (module-level imports, parents included)."""
    direct: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            direct |= {alias.name for alias in node.names if alias.name in known}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            direct |= {f"{node.module}.{a.name}" for a in node.names} & known
            direct |= {node.module} & known
    runs: set[str] = set()
    for dep in direct:
        parts = dep.split(".")
        for i in range(1, len(parts) + 1):
            parent = ".".join(parts[:i])
            if parent in known and parent != name and not name.startswith(parent + "."):
                runs.add(parent)
    return runs


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component: set[str] = set()
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.add(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_between_modules() -> None:
    modules = _modules()
    known = set(modules)
    graph = {name: _imports(name, path, known) for name, path in modules.items()}
    cycles = [c for c in _cycles(graph) if c not in ALLOWED_CYCLES]
    assert cycles == [], [sorted(c) for c in cycles]


def test_the_cycle_check_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [{"a", "b", "c"}]

"""The house reads top-down: every module imports only from its own floor or the floors below
(data, backbones and stores; tasks and analysis; the engine; evaluation, distillation and
scaling; experiments; the command line), no modules import each other in a loop, and the
training loop knows nothing of pretext tasks. Read from the source, so nothing is run."""

from __future__ import annotations

import ast
from pathlib import Path

import sslvid

PACKAGE = Path(sslvid.__file__).parent
FLOORS = {
    "data": 1,
    "backbones": 1,
    "store": 1,
    "pretext": 2,
    "analysis": 2,
    "engine": 3,
    "evaluate": 4,
    "distill": 4,
    "scale": 4,
    "experiments": 5,
    "cli": 6,
    "book": 6,
    "bookcheck": 6,
    "__main__": 6,
}
"""Floor of each sub-package or top-level module; the others (errors, registry, paths...) are floor 1."""
TASK_FREE = (
    "sslvid.engine.trainer",
    "sslvid.engine.runner",
    "sslvid.engine.step",
    "sslvid.engine.optim",
    "sslvid.engine.loading",
    "sslvid.engine.distributed",
    "sslvid.engine.configparts",
)
"""Engine modules that must not know pretext tasks (the loop, the run skeleton and their parts)."""


def _modules() -> dict[str, ast.Module]:
    trees = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(("sslvid", *path.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(".__init__")
        trees[name] = ast.parse(path.read_text())
    return trees


def _imports(tree: ast.Module) -> set[str]:
    """Every sslvid module ``tree`` imports, at module level or inside a function."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sslvid"):
            found |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("sslvid")}
    return found


def _floor(module: str) -> int:
    parts = module.split(".")
    return FLOORS.get(parts[1], 1) if len(parts) > 1 else 0


def test_every_import_goes_down_or_stays_on_its_floor():
    trees = _modules()
    upward = sorted(
        (name, target)
        for name, tree in trees.items()
        for target in _imports(tree) & set(trees)
        if _floor(target) > _floor(name)
    )
    assert upward == []


def test_no_modules_import_each_other_in_a_loop():
    trees = _modules()
    graph = {
        name: {t for t in _imports(tree) & set(trees) if t != name and not _is_package(t, trees)}
        for name, tree in trees.items()
    }
    assert _loops(graph) == []


def test_the_training_loop_knows_no_pretext_task():
    trees = _modules()
    for name in TASK_FREE:
        assert not {t for t in _imports(trees[name]) if t.startswith("sslvid.pretext")}, name


def _is_package(name: str, trees: dict[str, ast.Module]) -> bool:
    return any(other.startswith(name + ".") for other in trees)


def _loops(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    loops: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while group[-1:] != [node]:
                group.append(stack.pop())
            if len(group) > 1:
                loops.append(sorted(group))

    for node in graph:
        if node not in index:
            visit(node)
    return loops

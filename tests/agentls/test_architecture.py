"""The shape the code keeps: no import circles, and front ends that only use the core API.

Read from the source with `ast`, every import counts: module level, inside functions and
under `TYPE_CHECKING` alike, since each is an arrow a reader has to follow.
"""

from __future__ import annotations

import ast
from pathlib import Path

import agentls

PACKAGE = Path(agentls.__file__).parent
FRONT_ENDS = ("agentls.lsp", "agentls.acp")
# what a front end may take from the core: the API, its results and the small protocols
CORE_API = {
    "agentls.agent.service",
    "agentls.agent.results",
    "agentls.agent.approvals",
    "agentls.agent.editor",
    "agentls.agent.tasks",
    "agentls.agent.instructions",
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(path: Path, known: dict[str, Path]) -> set[str]:
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        targets.update(name for name in names if name in known)
    return targets


def _graph() -> dict[str, set[str]]:
    known = _modules()
    return {name: _imports(path, known) - {name} for name, path in known.items()}


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_the_circle_finder_finds_a_circle() -> None:
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_imports_itself_back() -> None:
    assert _circles(_graph()) == []


def test_front_ends_use_only_the_core_api() -> None:
    graph = _graph()
    reaching_in = {
        (name, target)
        for name, targets in graph.items()
        if name.startswith(FRONT_ENDS)
        for target in targets
        if target.startswith("agentls.agent") and target not in CORE_API
    }
    assert reaching_in == set()

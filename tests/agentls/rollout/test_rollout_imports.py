"""The import arrow between `agentls.rollout` and `agentls.history` runs one way only.

The rollout readers render, check and title items with the history logic; the history
logic never reads files. Both share the item shapes through `history/items.py`, a leaf.
Imports are read with `ast`, so imports inside functions count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import agentls

PACKAGE = Path(agentls.__file__).parent


def _imported(path: Path) -> set[str]:
    """Every `agentls...` module `path` imports, wherever the import statement is."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {name for name in found if name.startswith("agentls.")}


def _arrows(source: str, target: str) -> list[str]:
    """`module -> import` for every import of package `target` by a module of `source`."""
    return sorted(
        f"{path.relative_to(PACKAGE)} -> {name}"
        for path in (PACKAGE / source).glob("*.py")
        for name in _imported(path)
        if name == f"agentls.{target}" or name.startswith(f"agentls.{target}.")
    )


def test_history_imports_nothing_from_rollout() -> None:
    assert _arrows("history", "rollout") == []


def test_the_arrow_between_rollout_and_history_runs_one_way() -> None:
    forward = _arrows("rollout", "history")
    backward = _arrows("history", "rollout")
    assert forward, "rollout is expected to use the history logic"
    assert not (forward and backward), backward


def test_the_items_module_is_a_leaf() -> None:
    imported = _imported(PACKAGE / "history" / "items.py")
    assert imported == set(), imported

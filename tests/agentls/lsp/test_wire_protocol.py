"""The wire protocol has one definition (`agentls.protocol`); these keep everything else to it:
the server's code, the docs, and the VS Code client's generated types and event handling."""

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args, get_type_hints

import pytest
from tests.e2e.harness import event_shape_errors

from agentls.protocol import EVENTS, LIVE_DELTAS, EventType
from agentls.protocol.typescript import DEFAULT_OUTPUT, render

ROOT = Path(__file__).resolve().parents[3]
SERVER = ROOT / "server" / "agentls"
CLIENT = ROOT / "client-vscode" / "src"
EVENT_NAMES = {member.value for member in EventType}
EVENT_KEYS = {"sessionId", "turnId", "seq"}


def _modules(*folders: str) -> Iterator[tuple[Path, ast.Module]]:
    roots = [SERVER / folder for folder in folders] if folders else [SERVER]
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            yield path, ast.parse(path.read_text(), str(path))


def _event_name(node: ast.expr) -> str | None:
    """A string constant, or `EventType.X` (by its value; an unknown member is kept as is)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "EventType"
    ):
        member = getattr(EventType, node.attr, None)
        return member.value if member is not None else f"EventType.{node.attr}"
    return None


def event_types_in(tree: ast.Module) -> Iterator[tuple[str, int]]:
    """The event types a module sends, with their lines: `emit("name", ...)` calls (on
    anything called `emit`) and dict literals shaped like an event (`"type"` beside
    `sessionId`/`turnId`/`seq`)."""
    for node in ast.walk(tree):
        name: str | None = None
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called == "emit":
                name = _event_name(node.args[0])
        elif isinstance(node, ast.Dict):
            keys = [k.value if isinstance(k, ast.Constant) else None for k in node.keys]
            if "type" in keys and EVENT_KEYS & set(keys):
                name = _event_name(node.values[keys.index("type")])
        if name is not None:
            yield name, node.lineno


def emitted_event_types() -> dict[str, list[str]]:
    """Every event type the server's code sends, and where."""
    found: dict[str, list[str]] = {}
    for path, tree in _modules():
        for name, line in event_types_in(tree):
            found.setdefault(name, []).append(f"{path.relative_to(ROOT)}:{line}")
    return found


def test_every_event_the_server_emits_is_an_event_type() -> None:
    emitted = emitted_event_types()
    unknown = {name: where for name, where in emitted.items() if name not in EVENT_NAMES}
    assert not unknown, f"events missing from agentls.protocol.EventType: {unknown}"
    # the scan itself works: it finds the turn's own events and the steering one
    assert {"turnStarted", "textDelta", "steered", "turnCompleted", "compaction"} <= set(emitted)


def test_the_scan_finds_each_way_of_sending_an_event() -> None:
    source = (
        "def f(scope, emit):\n"
        "    scope.emit('madeUp', x=1)\n"
        "    emit(EventType.STEERED, text='x')\n"
        "    emit(EventType.NOT_A_MEMBER)\n"
        "    sink({'sessionId': 's', 'type': 'other'})\n"
        "    item = {'type': 'message', 'role': 'user'}\n"
    )
    found = [name for name, _line in event_types_in(ast.parse(source))]
    assert sorted(found) == ["EventType.NOT_A_MEMBER", "madeUp", "other", "steered"]


def _string_constants(tree: ast.Module) -> Iterator[ast.Constant]:
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or id(node) in docstrings:
            continue
        if isinstance(node.value, str):
            yield node


def test_lsp_and_chat_name_events_by_their_enum() -> None:
    literal = [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}"
        for path, tree in _modules("lsp", "chat")
        for node in _string_constants(tree)
        if node.value in EVENT_NAMES
    ]
    assert not literal, f"use EventType members, not strings: {literal}"


def test_every_event_type_has_its_shape() -> None:
    assert set(EVENTS) == set(EventType)
    for event_type, cls in EVENTS.items():
        assert get_args(get_type_hints(cls)["type"]) == (event_type,), cls.__name__
        assert cls.__required_keys__ >= EVENT_KEYS, cls.__name__
    assert {EventType.TEXT_DELTA, EventType.TOOL_OUTPUT_DELTA} == LIVE_DELTAS


def test_the_docs_list_every_event_type() -> None:
    text = (ROOT / "docs" / "protocol.md").read_text()
    section = text.split("## Notifications from the server", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(\w+)` \|", section, re.MULTILINE))
    assert documented == EVENT_NAMES


def test_the_client_types_are_generated_from_the_protocol() -> None:
    assert DEFAULT_OUTPUT == CLIENT / "protocolTypes.ts"
    assert DEFAULT_OUTPUT.read_text() == render(), (
        "client-vscode/src/protocolTypes.ts is stale: run "
        "`PYTHONPATH=server python -m agentls.protocol.typescript`"
    )


def test_the_client_handles_every_event_type() -> None:
    """The chat panel's reducer has a case for each event (its `never` check makes the type
    check say so too; this says it without a TypeScript build)."""
    source = (CLIENT / "state.ts").read_text()
    body = source.split("function reduceEvent(", 1)[1].split("\nfunction ", 1)[0]
    cases = set(re.findall(r"case '(\w+)':", body))
    assert cases == EVENT_NAMES, f"missing in reduceEvent: {EVENT_NAMES - cases}"


@pytest.mark.parametrize(
    ("event", "errors"),
    [
        ({"sessionId": "s", "turnId": "t", "seq": 0, "type": "steered", "text": "x"}, []),
        (
            {"sessionId": "s", "turnId": "t", "seq": 0, "type": "steered", "txt": "x"},
            ["steered lacks text", "steered has unknown txt"],
        ),
        ({"type": "nope"}, ["unknown event type 'nope'"]),
    ],
)
def test_event_shape_errors(event: dict[str, Any], errors: list[str]) -> None:
    assert sorted(event_shape_errors(event)) == sorted(errors)

from typing import Any

import pytest

from agentls.history.validate import drop_invalid, item_problem

GOOD: list[dict[str, Any]] = [
    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
    {"type": "message", "role": "user", "content": "plain"},
    {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "x"}]},
    {"type": "function_call", "call_id": "c1", "name": "shell", "arguments": "{}"},
    {"type": "function_call_output", "call_id": "c1", "output": "ok"},
    {"type": "reasoning", "summary": [], "encrypted_content": "e"},
]


@pytest.mark.parametrize("item", GOOD)
def test_valid_items_pass(item: dict[str, Any]) -> None:
    assert item_problem(item) is None


@pytest.mark.parametrize(
    "item",
    [
        {"type": "message", "role": "assistanu", "content": []},
        {"type": "message", "role": "assistant", "content": [{"type": "output_texu", "text": "x"}]},
        {"type": "message", "role": "user", "content": [{"type": "output_text", "text": "x"}]},
        {"type": "message", "role": "user", "content": 5},
        {"type": "function_cal", "call_id": "c1"},
        {"type": "function_call", "call_id": "c1", "name": 5, "arguments": "{}"},
        {"type": "function_call", "call_id": "c1", "name": "sh ell", "arguments": "{}"},
        {"type": "function_call", "call_id": 7, "name": "shell", "arguments": "{}"},
        {"type": "function_call", "call_id": "c1", "name": "shell", "arguments": {}},
        {"type": "function_call_output", "call_id": 7, "output": "x"},
        {"type": "function_call_output", "call_id": "c1", "output": 3},
    ],
)
def test_damaged_items_are_named(item: dict[str, Any]) -> None:
    assert item_problem(item)


def test_drop_invalid_keeps_order_and_reports() -> None:
    bad = {"type": "message", "role": "robot", "content": "x"}
    kept, warnings = drop_invalid([GOOD[0], bad, GOOD[3], bad])
    assert kept == [GOOD[0], GOOD[3]]
    assert warnings == ["skipped 2 damaged item(s): a message with unknown role 'robot'"]

from typing import Any

from agentls.history.repair import normalize_for_request, pending_call_ids


def call(cid: str) -> dict[str, Any]:
    return {"type": "function_call", "call_id": cid, "name": "shell", "arguments": "{}"}


def out(cid: str, text: str = "ok") -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": cid, "output": text}


def user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": text}


def test_pending_calls() -> None:
    assert pending_call_ids([call("a"), out("a"), call("b"), call("c"), out("c")]) == ["b"]


def test_missing_outputs_are_answered_right_after_their_calls() -> None:
    items = [user("1"), call("a"), call("b"), out("b"), user("2")]
    fixed, added, dropped = normalize_for_request(items)
    assert (added, dropped) == (1, 0)
    assert fixed == [user("1"), call("a"), call("b"), out("b"), out("a", "aborted"), user("2")]


def test_trailing_call_gets_an_output() -> None:
    fixed, added, _ = normalize_for_request([user("1"), call("a")])
    assert fixed[-1] == out("a", "aborted")
    assert added == 1


def test_orphan_and_duplicate_outputs_are_dropped() -> None:
    items = [out("ghost"), call("a"), out("a"), out("a", "again"), user("x")]
    fixed, added, dropped = normalize_for_request(items)
    assert fixed == [call("a"), out("a"), user("x")]
    assert (added, dropped) == (0, 2)


def test_output_before_its_call_is_dropped_and_call_answered() -> None:
    fixed, added, dropped = normalize_for_request([out("a"), call("a")])
    assert fixed == [call("a"), out("a", "aborted")]
    assert (added, dropped) == (1, 1)


def test_untouched_history_is_identical() -> None:
    items = [user("1"), call("a"), out("a"), user("2")]
    assert normalize_for_request(items) == (items, 0, 0)


def test_stateless_input_strips_ids_and_unreplayable_reasoning() -> None:
    from agentls.history.repair import stateless_input

    items = [
        user("1"),
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {"type": "reasoning", "id": "rs_2", "summary": [], "encrypted_content": "xyz"},
        {"id": "fc_1", **call("a")},
        {"type": "message", "id": "msg_1", "role": "assistant", "content": []},
    ]
    result, added, _ = stateless_input(items)
    assert [i["type"] for i in result] == [
        "message",
        "reasoning",
        "function_call",
        "function_call_output",
        "message",
    ]
    assert result[1]["encrypted_content"] == "xyz"
    assert "id" not in result[2] and "id" not in result[4]
    assert items[3]["id"] == "fc_1"
    assert added == 1


def test_server_side_input_answers_known_calls_first() -> None:
    from agentls.history.repair import server_side_input

    items = [user("1"), call("a"), call("b"), out("b"), user("2")]
    # the service stored up to and including the calls (index 3)
    tail = server_side_input(items, 3)
    assert tail == [out("a", "aborted"), out("b"), user("2")]
    assert server_side_input(items, len(items)) == [out("a", "aborted")]


def test_stateless_input_is_extended_while_valid_and_rebuilt_when_not() -> None:
    from agentls.history.repair import StatelessInput, stateless_input

    history: list[dict[str, Any]] = [user("1"), {"id": "fc_1", **call("a")}]
    cache = StatelessInput()
    first, added, _ = cache.build(history)  # a call without output: repaired
    assert added == 1 and first[-1] == out("a", "aborted")
    # from here appends keep it in step, as Session.append_item does
    for item in (user("2"), {"id": "fc_2", **call("b")}, out("b")):
        history.append(item)
        cache.append(item)
    fast, added, dropped = cache.build(history)
    assert (added, dropped) == (0, 0)
    assert fast[-3:] == [user("2"), call("b"), out("b")]  # ids stripped
    # an output nobody asked for makes it fall back to the full repair
    stray = out("ghost")
    history.append(stray)
    cache.append(stray)
    rebuilt, _, dropped = cache.build(history)
    assert dropped >= 1
    assert rebuilt == stateless_input(history)[0]

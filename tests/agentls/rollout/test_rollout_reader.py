from pathlib import Path

import orjson
from tests.agentls.rollout.reference_reader import (
    build_model_history,
    model_response_chain,
    parse_rollout,
    read_rollout,
)

from agentls.history.items import summary_message
from agentls.rollout.records import compacted_payload, encode_line


def _lines() -> bytes:
    return b"".join(
        [
            encode_line("session_meta", {"id": "s", "timestamp": "t"}),
            encode_line("turn_context", {"turn_id": "t1"}),
            encode_line("event_msg", {"type": "turn_started", "turn_id": "t1"}),
            encode_line(
                "response_item",
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "hi"}],
                },
            ),
            encode_line(
                "response_item", {"type": "function_call", "call_id": "c1", "name": "shell"}
            ),
        ]
    )


def test_reads_every_kind_of_line() -> None:
    rollout = parse_rollout(_lines())
    assert rollout.meta == {"id": "s", "timestamp": "t"}
    assert [i["type"] for i in rollout.items] == ["message", "function_call"]
    assert rollout.events[0]["type"] == "turn_started"
    assert rollout.turn_contexts == [{"turn_id": "t1"}]
    assert rollout.warnings == []


def test_torn_last_line_is_skipped_and_reported() -> None:
    data = _lines() + b'{"timestamp": "x", "type": "response_item", "payload": {"ty'
    rollout = parse_rollout(data)
    assert len(rollout.items) == 2
    assert rollout.torn_tail
    assert "cut off" in rollout.warnings[0]


def test_bom_blank_and_corrupt_lines() -> None:
    lines = _lines().split(b"\n")
    lines.insert(2, b"")
    lines.insert(3, b"not json at all")
    lines.insert(4, b"   ")
    lines.insert(5, b'["a list"]')
    lines.insert(6, orjson.dumps({"timestamp": "x", "type": "some_future_kind", "payload": {}}))
    lines.insert(7, orjson.dumps({"timestamp": "x", "type": "compacted", "payload": {}}))
    data = b"\xef\xbb\xbf" + b"\n".join(lines)
    rollout = parse_rollout(data)
    assert rollout.meta is not None
    assert len(rollout.items) == 2
    assert any("line 4: not valid JSON" in w for w in rollout.warnings)
    assert any("not a rollout record" in w for w in rollout.warnings)
    assert any("unknown type" in w for w in rollout.warnings)
    assert any("compaction without its history" in w for w in rollout.warnings)
    assert rollout.compactions == []
    assert not rollout.torn_tail


def test_every_truncation_of_a_real_file_parses(tmp_path: Path) -> None:
    data = _lines()
    whole = parse_rollout(data)
    for cut in range(len(data) + 1):
        rollout = parse_rollout(data[:cut])
        # never more than what was written, and every item that was fully written is back
        assert len(rollout.items) <= len(whole.items)
        complete = data[:cut].count(b"\n")
        expected = sum(1 for line in data.split(b"\n")[:complete] if b"response_item" in line)
        assert len(rollout.items) >= expected
    path = tmp_path / "s.jsonl"
    path.write_bytes(data)
    assert read_rollout(path).items == whole.items


def _user(text: str) -> dict[str, object]:
    return summary_message(text)


def test_model_history_starts_at_the_last_compaction() -> None:
    first = _user("first")
    second = _user("second")
    third = _user("third")
    replacement_one = [_user("first"), _user("SUMMARY one")]
    replacement_two = [_user("second"), _user("SUMMARY two")]
    data = b"".join(
        [
            encode_line("session_meta", {"id": "s"}),
            encode_line("response_item", first),
            encode_line("state", {"previous_response_id": "resp_old"}),
            encode_line("compacted", compacted_payload("SUMMARY one", replacement_one)),
            encode_line("response_item", second),
            encode_line("compacted", compacted_payload("SUMMARY two", replacement_two)),
            encode_line("response_item", third),
            encode_line("state", {"previous_response_id": "resp_new"}),
        ]
    )
    rollout = parse_rollout(data)
    assert rollout.items == [first, second, third]  # the panel still has everything
    assert [c["_item_index"] for c in rollout.compactions] == [1, 2]
    assert build_model_history(rollout) == [*replacement_two, third]
    # The chain covers the replacement history and `third`.
    assert model_response_chain(rollout) == ("resp_new", 3)


def test_compaction_ends_the_stored_chain() -> None:
    data = b"".join(
        [
            encode_line("response_item", _user("a")),
            encode_line("state", {"previous_response_id": "resp_1"}),
            encode_line("compacted", compacted_payload("S", [_user("S")])),
            encode_line("response_item", _user("b")),
        ]
    )
    rollout = parse_rollout(data)
    assert model_response_chain(rollout) is None
    assert build_model_history(rollout) == [_user("S"), _user("b")]


def test_without_compaction_the_model_sees_every_item() -> None:
    rollout = parse_rollout(_lines() + encode_line("state", {"previous_response_id": "r"}))
    assert build_model_history(rollout) == rollout.items
    assert model_response_chain(rollout) == ("r", 2)


def test_compaction_without_history_falls_back_to_its_summary() -> None:
    data = encode_line("compacted", {"message": "the summary"}) + encode_line(
        "response_item", _user("next")
    )
    rollout = parse_rollout(data)
    assert build_model_history(rollout) == [_user("the summary"), _user("next")]

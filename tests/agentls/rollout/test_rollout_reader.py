from pathlib import Path

import orjson

from agentls.rollout.reader import parse_rollout, read_rollout
from agentls.rollout.records import encode_line


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
    lines.insert(6, orjson.dumps({"timestamp": "x", "type": "compacted", "payload": {}}))
    data = b"\xef\xbb\xbf" + b"\n".join(lines)
    rollout = parse_rollout(data)
    assert rollout.meta is not None
    assert len(rollout.items) == 2
    assert any("line 4: not valid JSON" in w for w in rollout.warnings)
    assert any("not a rollout record" in w for w in rollout.warnings)
    assert any("unknown type" in w for w in rollout.warnings)
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

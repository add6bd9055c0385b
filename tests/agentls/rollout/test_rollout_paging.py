"""The paging reader must agree with the whole-file reader while reading only the ends."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.agentls.rollout.reference_reader import (
    build_model_history,
    model_response_chain,
    parse_rollout,
)

from agentls.history.items import summary_message
from agentls.history.repair import pending_call_ids
from agentls.history.view import render_history
from agentls.rollout.paging import (
    ResumeView,
    decode_history_cursor,
    encode_history_cursor,
    history_page,
    load_model_history,
    open_resume,
)
from agentls.rollout.records import compacted_payload, encode_line

Item = dict[str, Any]
META = {"id": "sess", "timestamp": "2026-11-29T00:00:00.000Z", "cwd": "/w"}


def user(text: str) -> Item:
    return summary_message(text)


def turn(n: int, *, output: str | None = None, finished: bool = True) -> bytes:
    """One turn: user message, shell call, its output and status, answer, turn end."""
    call_id = f"call_{n}"
    lines = [
        encode_line("turn_context", {"turn_id": f"t{n}", "model": "m"}),
        encode_line("event_msg", {"type": "turn_started", "turn_id": f"t{n}"}),
        encode_line("response_item", user(f"show part {n}")),
        encode_line(
            "response_item",
            {
                "type": "function_call",
                "id": f"fc_{n}",
                "call_id": call_id,
                "name": "shell",
                "arguments": orjson.dumps({"command": ["cat", f"part-{n}"]}).decode(),
            },
        ),
    ]
    if not finished:
        return b"".join(lines)
    text = output if output is not None else f"contents of part {n}\n" * 5
    lines += [
        encode_line(
            "response_item", {"type": "function_call_output", "call_id": call_id, "output": text}
        ),
        encode_line(
            "event_msg",
            {"type": "tool_call_completed", "call_id": call_id, "status": "failed", "exit_code": 1},
        ),
        encode_line(
            "response_item",
            {
                "type": "message",
                "role": "assistant",
                "id": f"msg_{n}",
                "content": [{"type": "output_text", "text": f"part {n} read", "annotations": []}],
            },
        ),
        encode_line("event_msg", {"type": "turn_completed", "turn_id": f"t{n}"}),
    ]
    return b"".join(lines)


def compaction(summary: str, keep: list[str]) -> bytes:
    replacement = [*(user(text) for text in keep), user(f"SUMMARY: {summary}")]
    return encode_line("compacted", compacted_payload(summary, replacement))


def session(turns: int, *, start: int = 0) -> bytes:
    return b"".join(turn(n) for n in range(start, start + turns))


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "rollout.jsonl"
    path.write_bytes(data)
    return path


def full_entries(data: bytes) -> list[dict[str, Any]]:
    rollout = parse_rollout(data)
    return render_history(rollout.items, rollout.events)


def all_pages(path: Path, view: ResumeView, limit: int) -> list[dict[str, Any]]:
    entries = list(view.entries)
    cursor = view.history_cursor
    while cursor is not None:
        page, cursor = history_page(path, cursor, limit)
        assert page, "a cursor is only handed out when older entries exist"
        entries = page + entries
    return entries


# --------------------------------------------------------------------------- equivalence


@pytest.mark.parametrize("turns", [0, 1, 3, 40])
def test_model_history_equals_the_whole_reader_without_compaction(
    tmp_path: Path, turns: int
) -> None:
    data = encode_line("session_meta", META) + session(turns)
    data += encode_line("state", {"previous_response_id": "resp_9"})
    path = write(tmp_path, data)
    view = open_resume(path, 5)
    model = load_model_history(view)
    rollout = parse_rollout(data)
    assert view.model_start == 0
    assert view.replacement_history is None
    assert model.items == rollout.items
    assert model.response_chain == model_response_chain(rollout)
    assert model.warnings == []


def test_model_history_equals_the_whole_reader_with_compactions(tmp_path: Path) -> None:
    data = b"".join(
        [
            encode_line("session_meta", META),
            session(3),
            encode_line("state", {"previous_response_id": "resp_old"}),
            compaction("first", ["show part 2"]),
            session(2, start=3),
            compaction("second", ["show part 4"]),
            session(2, start=5),
            encode_line("state", {"previous_response_id": "resp_new"}),
            turn(7),
        ]
    )
    path = write(tmp_path, data)
    view = open_resume(path, 4)
    model = load_model_history(view)
    rollout = parse_rollout(data)
    assert model.items == build_model_history(rollout)
    assert model.items[:2] == [user("show part 4"), user("SUMMARY: second")]
    assert model.response_chain == model_response_chain(rollout) == ("resp_new", 2 + 8)
    assert view.model_start == data.index(b"\n", data.index(b'"second"')) + 1
    # The panel still pages through everything, compactions notwithstanding.
    assert all_pages(path, view, 5) == full_entries(data)


@pytest.mark.parametrize("limit", [0, 1, 2, 3, 7, 30, 500])
def test_newest_entries_and_paging_match_the_whole_render(tmp_path: Path, limit: int) -> None:
    data = encode_line("session_meta", META) + session(30)
    path = write(tmp_path, data)
    everything = full_entries(data)
    view = open_resume(path, limit)
    assert view.entries == (everything[-limit:] if limit else [])
    assert (view.history_cursor is None) == (limit >= len(everything))
    assert all_pages(path, view, max(limit, 1)) == everything
    # pages carry the outputs and statuses of their calls, written after the page
    assert all(e["status"] == "failed" and e["exitCode"] == 1 for e in everything[1::3])


def test_a_page_boundary_between_a_call_and_its_output(tmp_path: Path) -> None:
    data = encode_line("session_meta", META) + session(2)
    path = write(tmp_path, data)
    view = open_resume(path, 1)
    assert [e["role"] for e in view.entries] == ["assistant"]
    page, cursor = history_page(path, str(view.history_cursor), 1)
    assert page == [full_entries(data)[-2]]
    assert page[0]["output"].startswith("contents of part 1")
    assert cursor is not None


# --------------------------------------------------------------------------- what the file holds


def test_meta_and_title_come_from_the_head(tmp_path: Path) -> None:
    path = write(tmp_path, encode_line("session_meta", META) + session(100))
    view = open_resume(path, 3)
    assert view.meta == META
    assert view.title == "show part 0"
    assert view.warnings == []


def test_crash_repair_facts(tmp_path: Path) -> None:
    data = encode_line("session_meta", META) + session(5) + turn(5, finished=False)
    path = write(tmp_path, data)
    view = open_resume(path, 2)
    assert view.unfinished_turns == ["t5"]
    assert view.pending_calls == ["call_5"]
    rollout = parse_rollout(data)
    assert view.pending_calls == pending_call_ids(build_model_history(rollout))
    assert load_model_history(view).pending_calls == ["call_5"]
    # after repair (output + turn_aborted appended) nothing is left to repair
    data += encode_line(
        "response_item", {"type": "function_call_output", "call_id": "call_5", "output": "aborted"}
    )
    data += encode_line("event_msg", {"type": "turn_aborted", "turn_id": "t5"})
    view = open_resume(write(tmp_path, data), 2)
    assert (view.unfinished_turns, view.pending_calls) == ([], [])


def test_a_turn_compacted_midway_then_cut_off(tmp_path: Path) -> None:
    """Auto compaction happens between a turn's requests: the turn began before it."""
    data = b"".join(
        [
            encode_line("session_meta", META),
            session(2),
            turn(2, finished=False),  # call_2 was compacted away without output
            compaction("midway", ["show part 2"]),
            encode_line(
                "response_item",
                {"type": "function_call", "call_id": "call_x", "name": "shell", "arguments": "{}"},
            ),
        ]
    )
    view = open_resume(write(tmp_path, data), 10)
    assert view.unfinished_turns == ["t2"]
    assert view.pending_calls == ["call_x"]  # call_2 is not in the model's history any more
    assert load_model_history(view).pending_calls == ["call_x"]


def test_torn_last_line(tmp_path: Path) -> None:
    whole = encode_line("session_meta", META) + session(4)
    data = whole + b'{"timestamp":"x","type":"response_item","payload":{"ty'
    path = write(tmp_path, data)
    view = open_resume(path, 3)
    assert view.torn_tail
    assert any("cut off mid-write" in w for w in view.warnings)
    assert view.entries == full_entries(whole)[-3:]
    model = load_model_history(view)
    assert model.items == parse_rollout(data).items
    assert model.warnings == []  # already reported by the view


def test_every_truncation_parses_like_the_whole_reader(tmp_path: Path) -> None:
    data = encode_line("session_meta", META) + session(2) + compaction("s", ["a"]) + turn(2)
    step = max(1, len(data) // 150)
    for cut in [*range(0, len(data), step), len(data)]:
        path = write(tmp_path, data[:cut])
        view = open_resume(path, 4)
        rollout = parse_rollout(data[:cut])
        assert load_model_history(view).items == build_model_history(rollout), cut
        assert view.torn_tail == rollout.torn_tail, cut
        assert view.entries == full_entries(data[:cut])[-4:], cut


def test_bom_blank_and_corrupt_lines(tmp_path: Path) -> None:
    lines = (encode_line("session_meta", META) + session(6)).split(b"\n")
    lines.insert(3, b"")
    lines.insert(4, b"not json at all")
    lines.insert(5, b"   ")
    lines.insert(6, b'["a list"]')
    lines.insert(20, encode_line("compacted", {}).rstrip(b"\n"))
    data = b"\xef\xbb\xbf" + b"\n".join(lines)
    path = write(tmp_path, data)
    view = open_resume(path, 100)
    assert view.meta == META
    assert view.entries == full_entries(data)
    assert view.model_start == 0  # the compaction without history is skipped, as by the reader
    model = load_model_history(view)
    assert model.items == parse_rollout(data).items
    assert any("not valid JSON" in w for w in view.warnings)
    assert any("not a rollout record" in w for w in view.warnings)
    assert any("compaction without its history" in w for w in view.warnings)
    assert not view.torn_tail


def test_corrupt_lines_before_the_tail_are_reported_by_the_model_load(tmp_path: Path) -> None:
    data = encode_line("session_meta", META) + session(3) + b"garbage\n" + session(30, start=3)
    view = open_resume(write(tmp_path, data), 3)
    assert view.warnings == []
    model = load_model_history(view)
    assert len(model.warnings) == 1
    assert "not valid JSON" in model.warnings[0]


def test_the_word_compacted_in_content_is_not_a_compaction(tmp_path: Path) -> None:
    tricky = [
        encode_line("response_item", user("compacted")),
        encode_line(
            "response_item",
            {"type": "message", "role": "user", "content": [{"type": "compacted", "text": "x"}]},
        ),
    ]
    data = encode_line("session_meta", META) + session(2) + b"".join(tricky) + session(1, start=2)
    view = open_resume(write(tmp_path, data), 5)
    assert view.model_start == 0
    assert load_model_history(view).items == parse_rollout(data).items
    real = data + compaction("real", ["x"]) + b"".join(tricky)
    view = open_resume(write(tmp_path, real), 5)
    assert view.model_start == len(data) + len(compaction("real", ["x"]))
    assert load_model_history(view).items == build_model_history(parse_rollout(real))


def test_lines_longer_than_a_block(tmp_path: Path) -> None:
    big = "x" * 700_000 + "\n"
    data = (
        encode_line("session_meta", META) + session(2) + turn(2, output=big) + session(2, start=3)
    )
    path = write(tmp_path, data)
    view = open_resume(path, 2)
    assert all_pages(path, view, 2) == full_entries(data)
    assert load_model_history(view).items == parse_rollout(data).items


def test_items_appended_after_opening_are_the_callers(tmp_path: Path) -> None:
    data = encode_line("session_meta", META) + session(3)
    path = write(tmp_path, data)
    view = open_resume(path, 2)
    with path.open("ab") as fh:
        fh.write(turn(3))
    assert load_model_history(view).items == parse_rollout(data).items


def test_empty_and_meta_only_files(tmp_path: Path) -> None:
    view = open_resume(write(tmp_path, b""), 10)
    assert (view.entries, view.history_cursor, view.meta, view.title) == ([], None, None, "")
    assert any("session_meta" in w for w in view.warnings)
    assert load_model_history(view).items == []
    view = open_resume(write(tmp_path, encode_line("session_meta", META)), 10)
    assert view.meta == META
    assert view.warnings == []


def test_summary_only_compaction_falls_back_like_the_reader(tmp_path: Path) -> None:
    data = session(2) + encode_line("compacted", {"message": "old style"}) + turn(2)
    view = open_resume(write(tmp_path, data), 2)
    assert load_model_history(view).items == build_model_history(parse_rollout(data))
    assert view.replacement_history == [user("old style")]


# --------------------------------------------------------------------------- cursors


def test_cursors_are_checked(tmp_path: Path) -> None:
    data = encode_line("session_meta", META) + session(3)
    path = write(tmp_path, data)
    assert decode_history_cursor(encode_history_cursor(1234)) == 1234
    for bad in ("", "not a cursor", encode_history_cursor(len(data) + 1), "aDE6LTE"):
        with pytest.raises(ValueError, match="cursor"):
            history_page(path, bad, 5)
    with pytest.raises(ValueError, match="cursor"):
        history_page(path, encode_history_cursor(5), 5)  # not the start of a line
    assert history_page(path, encode_history_cursor(0), 5) == ([], None)


@pytest.mark.parametrize("compact", [None, 30])
def test_the_benchmark_sessions(tmp_path: Path, compact: int | None) -> None:
    """The generated files `make bench` resumes read the same through both readers."""
    from bench.sessions import write_session

    workspace = tmp_path / "ws"
    workspace.mkdir()
    write_session(tmp_path / "home", workspace, 1_000, compact_before_last=compact)
    path = next((tmp_path / "home").glob("workspaces/*/sessions/*.jsonl"))
    data = path.read_bytes()
    view = open_resume(path, 200)
    rollout = parse_rollout(data)
    assert load_model_history(view).items == build_model_history(rollout)
    assert len(load_model_history(view).items) == (1_000 if compact is None else 21 + 4 * 30)
    assert view.entries == full_entries(data)[-200:]
    assert all_pages(path, view, 200) == full_entries(data)
    assert view.title == "show part 0"
    assert (view.unfinished_turns, view.pending_calls) == ([], [])


def test_a_torn_only_line_after_a_bom(tmp_path: Path) -> None:
    data = b"\xef\xbb\xbf" + b'{"timestamp":"x","type":"session_meta","payload":{"id'
    view = open_resume(write(tmp_path, data), 3)
    assert view.torn_tail == parse_rollout(data).torn_tail is True


def test_the_head_limit_does_not_report_a_cut_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentls.rollout import paging

    data = encode_line("session_meta", META) + session(20)
    monkeypatch.setattr(paging, "HEAD_LIMIT", len(encode_line("session_meta", META)) + 50)
    view = open_resume(write(tmp_path, data), 3)
    assert view.meta == META
    assert view.title == ""  # not within the head's reach
    assert view.warnings == []


_PIECES = st.sampled_from(["turn", "cut_turn", "compaction", "blank", "garbage", "state", "big"])


@settings(max_examples=60, deadline=None)
@given(
    pieces=st.lists(_PIECES, max_size=14),
    limit=st.integers(min_value=0, max_value=12),
    tear=st.integers(min_value=0, max_value=40),
    bom=st.booleans(),
)
def test_random_files_read_the_same_both_ways(
    pieces: list[str], limit: int, tear: int, bom: bool
) -> None:
    parts = [b"\xef\xbb\xbf" if bom else b"", encode_line("session_meta", META)]
    for n, piece in enumerate(pieces):
        if piece == "turn":
            parts.append(turn(n))
        elif piece == "cut_turn":
            parts.append(turn(n, finished=False))
        elif piece == "compaction":
            parts.append(compaction(f"s{n}", [f"show part {n - 1}"]))
        elif piece == "blank":
            parts.append(b"  \n")
        elif piece == "garbage":
            parts.append(b'{"type": "response_item", "payload": {"type": 3}}\nnope\n')
        elif piece == "state":
            parts.append(encode_line("state", {"previous_response_id": f"resp_{n}"}))
        else:
            parts.append(turn(n, output="y" * 300_000))
    data = b"".join(parts)
    data = data[: len(data) - tear]
    with tempfile.TemporaryDirectory() as tmp:
        path = write(Path(tmp), data)
        view = open_resume(path, limit)
        rollout = parse_rollout(data)
        model = load_model_history(view)
        assert model.items == build_model_history(rollout)
        assert model.response_chain == model_response_chain(rollout)
        assert view.torn_tail == rollout.torn_tail
        everything = full_entries(data)
        assert view.entries == (everything[-limit:] if limit else [])
        assert all_pages(path, view, max(1, limit)) == everything
        # The same lines are skipped, and reported once read: resume does not read what lies
        # before the last compaction. (The reader counts unknown types in one line; the view
        # says when session_meta is missing, as a session does when it opens.)
        found = [w for w in view.warnings + model.warnings if "session_meta" not in w]
        expected = [w for w in rollout.warnings if "unknown type" not in w]
        assert len(found) <= len(expected)
        if view.model_start == 0:
            assert len(found) == len(expected)


def test_a_compaction_on_the_first_line_after_a_bom(tmp_path: Path) -> None:
    data = b"\xef\xbb\xbf" + compaction("s", ["a"]) + turn(1)
    view = open_resume(write(tmp_path, data), 3)
    assert view.model_start == 3 + len(compaction("s", ["a"]))
    assert load_model_history(view).items == build_model_history(parse_rollout(data))


def test_loading_to_the_end_includes_what_was_written_since(tmp_path: Path) -> None:
    """The crash repair appends after `open_resume`; the model must see those outputs."""
    torn = b'{"timestamp":"x","type":"response_item","pay'
    data = encode_line("session_meta", META) + session(2) + turn(2, finished=False) + torn
    path = write(tmp_path, data)
    view = open_resume(path, 3)
    assert view.torn_tail and view.pending_calls == ["call_2"]
    repair = b"\n" + encode_line(
        "response_item", {"type": "function_call_output", "call_id": "call_2", "output": "aborted"}
    )
    repair += encode_line("event_msg", {"type": "turn_aborted", "turn_id": "t2"})
    with path.open("ab") as fh:
        fh.write(repair)
    model = load_model_history(view, to_end=True)
    assert model.items == parse_rollout(data + repair).items
    assert model.pending_calls == []
    assert model.warnings == []  # the torn line was reported by the view already
    later = compaction("later", ["x"]) + encode_line("response_item", user("after"))
    with path.open("ab") as fh:
        fh.write(later)
    model = load_model_history(view, to_end=True)
    assert model.items == [user("x"), user("SUMMARY: later"), user("after")]

"""Rollbacks in the rollout: every reader passes over the same undone lines, the turn scan
agrees with them, and the session list honours renames and rollbacks."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.agentls.rollout.reference_reader import build_model_history, parse_rollout

from agentls.history.items import summary_message
from agentls.history.view import render_history
from agentls.rollout.paging import history_page, load_model_history, open_resume
from agentls.rollout.paths import WorkspaceLayout
from agentls.rollout.records import encode_line
from agentls.rollout.store import SessionStore
from agentls.rollout.turns import scan_turns

META = {"id": "sess", "timestamp": "2026-11-29T00:00:00.000Z", "cwd": "/w"}


def turn(n: int, *, status: str = "completed") -> bytes:
    """One turn: user message, a call and its output, an answer, its end."""
    call_id = f"call_{n}"
    end: dict[str, Any] = {"type": "turn_completed", "turn_id": f"t{n}", "status": status}
    if status == "interrupted":
        end = {"type": "turn_aborted", "turn_id": f"t{n}", "reason": "interrupted"}
    if status == "failed":
        end["error"] = {"message": f"failure {n}"}
    end["usage"] = {"input_tokens": n + 1}
    arguments = orjson.dumps({"command": ["cat", f"part-{n}"]}).decode()
    lines = [
        encode_line("turn_context", {"turn_id": f"t{n}", "model": "m"}),
        encode_line("event_msg", {"type": "turn_started", "turn_id": f"t{n}"}),
        encode_line("response_item", summary_message(f"question {n}")),
        encode_line(
            "response_item",
            {"type": "function_call", "call_id": call_id, "name": "shell", "arguments": arguments},
        ),
        encode_line(
            "response_item",
            {"type": "function_call_output", "call_id": call_id, "output": f"out {n}"},
        ),
        encode_line(
            "event_msg", {"type": "tool_call_completed", "call_id": call_id, "status": "completed"}
        ),
        encode_line(
            "response_item",
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": f"answer {n}"}],
            },
        ),
        encode_line("event_msg", end),
    ]
    return b"".join(lines)


def rollback(ids: list[str]) -> bytes:
    return encode_line("event_msg", {"type": "turns_rolled_back", "turn_ids": ids})


def build(plan: list[tuple[str, int]]) -> tuple[bytes, list[str]]:
    """A session from a plan of ("turn", status index) and ("undo", how many turns back)."""
    data = encode_line("session_meta", META)
    live: list[str] = []
    statuses = ["completed", "interrupted", "failed"]
    for n, (step, arg) in enumerate(plan):
        if step == "turn":
            data += turn(n, status=statuses[arg % 3])
            live.append(f"t{n}")
        elif live:
            count = 1 + arg % len(live)
            undone, live = live[-count:], live[:-count]
            data += rollback(undone)
    return data, live


def full_entries(data: bytes) -> list[dict[str, Any]]:
    rollout = parse_rollout(data)
    return render_history(rollout.items, rollout.events)


def paged(path: Path, limit: int) -> list[dict[str, Any]]:
    view = open_resume(path, limit)
    entries = list(view.entries)
    cursor = view.history_cursor
    while cursor is not None:
        page, cursor = history_page(path, cursor, max(limit, 1))
        entries = page + entries
    return entries


plans = st.lists(
    st.tuples(st.sampled_from(["turn", "turn", "undo"]), st.integers(0, 5)), max_size=12
)


@settings(max_examples=60, deadline=None)
@given(plan=plans, limit=st.integers(0, 7))
def test_paging_and_model_history_agree_with_the_whole_reader(
    plan: list[tuple[str, int]], limit: int
) -> None:
    data, live = build(plan)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rollout.jsonl"
        path.write_bytes(data)
        everything = full_entries(data)
        assert paged(path, limit) == everything
        view = open_resume(path, limit)
        assert view.unfinished_turns == [] and view.pending_calls == []
        model = load_model_history(view)
        assert model.items == build_model_history(parse_rollout(data))
    # exactly the live turns are left, each with all its entries and its outcome last
    assert [e["text"] for e in everything if e["role"] == "user"] == [
        f"question {t[1:]}" for t in live
    ]
    assert [e["turnId"] for e in everything if "outcome" in e] == live
    assert [t.turn_id for t in scan_turns(data).live()] == live


def test_outcomes_and_turn_ids_in_the_rendered_history() -> None:
    data = encode_line("session_meta", META) + turn(0) + turn(1, status="interrupted")
    data += turn(2, status="failed")
    entries = full_entries(data)
    assert all(e["turnId"] == f"t{i // 3}" for i, e in enumerate(entries))
    outcomes = [e["outcome"] for e in entries if "outcome" in e]
    assert outcomes == [
        {"status": "completed", "usage": {"input_tokens": 1}},
        {"status": "interrupted", "usage": {"input_tokens": 2}},
        {"status": "failed", "error": {"message": "failure 2"}, "usage": {"input_tokens": 3}},
    ]
    # the tool entry keeps its own status beside the turn's outcome
    assert entries[1]["status"] == "completed" and entries[1]["role"] == "tool"


def test_a_crash_cut_turn_ended_by_the_repair_gets_its_reason() -> None:
    data = encode_line("session_meta", META) + b"".join(turn(0).splitlines(keepends=True)[:4])
    data += encode_line(
        "response_item", {"type": "function_call_output", "call_id": "call_0", "output": "aborted"}
    )
    data += encode_line(
        "event_msg",
        {"type": "turn_aborted", "turn_id": "t0", "reason": "the server stopped during this turn"},
    )
    entries = full_entries(data)
    assert entries[-1]["outcome"] == {
        "status": "interrupted",
        "reason": "the server stopped during this turn",
    }


def test_scan_turns_reports_ends_rollbacks_and_compactions() -> None:
    data = encode_line("session_meta", META) + turn(0) + turn(1)
    data += encode_line("compacted", {"message": "s", "replacement_history": []})
    data += turn(2) + rollback(["t2"]) + turn(3, status="failed")
    data += b"".join(turn(4).splitlines(keepends=True)[:3])  # cut off by a crash
    found = scan_turns(data)
    assert [(t.turn_id, t.status, t.rolled_back) for t in found.turns] == [
        ("t0", "completed", False),
        ("t1", "completed", False),
        ("t2", "completed", True),
        ("t3", "failed", False),
        ("t4", None, False),
    ]
    assert [t.turn_id for t in found.live()] == ["t0", "t1", "t3"]
    assert found.turns[1].start < found.last_compaction < found.turns[2].start
    assert data[found.turns[0].start :].startswith(b'{"timestamp"')
    t3 = found.turns[3]
    assert t3.end is not None
    assert data[t3.start : t3.end].count(b"\n") == 8


def test_the_list_honours_renames_rollbacks_and_finds_text(tmp_path: Path) -> None:
    layout = WorkspaceLayout.for_path(tmp_path / "home", tmp_path / "ws")
    layout.ensure()
    path = layout.sessions_dir / "2026-11-29T00-00-00Z-0b0e3c6e-7f6f-4a55-9a55-2c4d3e6f7a8b.jsonl"
    data = encode_line("session_meta", META) + turn(0) + turn(1) + rollback(["t1"])
    data += encode_line("event_msg", {"type": "session_renamed", "title": "First name"})
    data += encode_line("event_msg", {"type": "session_renamed", "title": "Second  name"})
    path.write_bytes(data)
    store = SessionStore(layout)
    (summary,) = store.summaries()
    assert summary.title == "Second name"
    assert summary.turns == 1
    assert [s.session_id for s in store.page(10, None, "SECOND")[0]] == [summary.session_id]
    assert [s.session_id for s in store.page(10, None, "Answer 0")[0]] == [summary.session_id]
    assert store.page(10, None, "no such words")[0] == []
    view = open_resume(path, 3)
    assert view.title == "Second  name"


def test_a_cursor_from_before_an_undo_pages_past_the_undone_turns(tmp_path: Path) -> None:
    path = tmp_path / "rollout.jsonl"
    data = encode_line("session_meta", META) + b"".join(turn(n) for n in range(6))
    path.write_bytes(data)
    stale = open_resume(path, 4).history_cursor  # points into t4
    assert stale is not None
    # t5 undone, t6 run, then t3 and every later turn undone (its stretch holds t5's)
    data += rollback(["t5"]) + turn(6) + rollback(["t3", "t4", "t6"]) + turn(7)
    path.write_bytes(data)
    older, cursor = history_page(path, stale, 100)
    assert cursor is None
    everything = full_entries(data)
    assert older == everything[: len(older)]
    assert {e["turnId"] for e in older} == {"t0", "t1", "t2"}
    assert {e["turnId"] for e in everything} == {"t0", "t1", "t2", "t7"}

"""The rollback and compaction rules, run through every walker: all agree with the reference.

Each case is a file; `assert_walkers_agree` reads it through the paged resume and its
pages, the model's history, the turn scan and the session list, and compares each with the
reference reader. The cases pin the reference's answer too, so the rule itself is checked.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.agentls.rollout.walkers import assert_walkers_agree, session_file

from agentls.history.items import summary_message
from agentls.rollout.reader import Line
from agentls.rollout.records import compacted_payload, encode_line
from agentls.rollout.rules import Rules, Unwinder

META = {"id": "sess", "timestamp": "2026-11-29T00:00:00.000Z", "cwd": "/w"}


def opening(n: int) -> bytes:
    """A turn's first lines: its context, its start, the user's question and a call."""
    arguments = orjson.dumps({"command": ["cat", f"part-{n}"]}).decode()
    return b"".join(
        [
            encode_line("turn_context", {"turn_id": f"t{n}", "model": "m"}),
            encode_line("event_msg", {"type": "turn_started", "turn_id": f"t{n}"}),
            encode_line("response_item", summary_message(f"question {n}")),
            encode_line(
                "response_item",
                {
                    "type": "function_call",
                    "call_id": f"call_{n}",
                    "name": "shell",
                    "arguments": arguments,
                },
            ),
        ]
    )


def closing(n: int, status: str = "completed") -> bytes:
    """The rest of a turn: the call's output, the answer and the turn's end."""
    end: dict[str, Any] = {"type": "turn_completed", "turn_id": f"t{n}", "status": status}
    if status == "interrupted":
        end = {"type": "turn_aborted", "turn_id": f"t{n}", "reason": "interrupted"}
    return b"".join(
        [
            encode_line(
                "response_item",
                {"type": "function_call_output", "call_id": f"call_{n}", "output": f"out {n}"},
            ),
            encode_line(
                "event_msg",
                {"type": "tool_call_completed", "call_id": f"call_{n}", "status": "completed"},
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
    )


def turn(n: int, status: str = "completed") -> bytes:
    return opening(n) + closing(n, status)


def compaction(name: str, keep: list[str] | None = None) -> bytes:
    kept = [summary_message(text) for text in keep or []]
    replacement = [*kept, summary_message(f"SUMMARY {name}")]
    return encode_line("compacted", compacted_payload(name, replacement))


def rollback(*ids: str) -> bytes:
    return encode_line("event_msg", {"type": "turns_rolled_back", "turn_ids": list(ids)})


def state(response_id: str) -> bytes:
    return encode_line("state", {"previous_response_id": response_id})


def head() -> bytes:
    return encode_line("session_meta", META)


def questions(reading_model: list[dict[str, Any]] | None) -> list[str]:
    """The user texts of a model history, in order."""
    assert reading_model is not None
    return [i["content"][0]["text"] for i in reading_model if i.get("role") == "user"]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


# --------------------------------------------------------------------------- the cases


def test_a_rollback_after_a_compaction(home: Path) -> None:
    data = head() + turn(0) + turn(1) + compaction("one", ["question 1"])
    data += turn(2) + state("resp_2") + turn(3) + rollback("t3")
    reading = assert_walkers_agree(session_file(home, data))
    assert reading.turns == ["t0", "t1", "t2"]
    assert reading.compacted
    assert questions(reading.model) == ["question 1", "SUMMARY one", "question 2"]
    assert reading.chain is None  # the rollback ended the stored chain


def test_a_rollback_reaching_back_over_a_compaction(home: Path) -> None:
    """A compaction inside the rolled-back stretch goes with it: the model sees the history
    from before it again (undo refuses this, but a file may hold it)."""
    data = head() + turn(0) + opening(1) + compaction("midway", ["question 1"]) + closing(1)
    data += turn(2) + rollback("t1", "t2") + turn(3)
    reading = assert_walkers_agree(session_file(home, data))
    assert reading.turns == ["t0", "t3"]
    assert not reading.compacted
    assert questions(reading.model) == ["question 0", "question 3"]


def test_a_rollback_over_the_last_compaction_falls_back_to_the_one_before(home: Path) -> None:
    data = head() + turn(0) + compaction("one") + turn(1) + compaction("two") + turn(2)
    data += rollback("t1", "t2")
    reading = assert_walkers_agree(session_file(home, data))
    assert reading.turns == ["t0"]
    assert reading.compacted
    assert questions(reading.model) == ["SUMMARY one"]


def test_a_compaction_after_a_rollback(home: Path) -> None:
    data = head() + turn(0) + turn(1) + turn(2) + rollback("t1", "t2")
    data += compaction("after", ["question 0"]) + turn(3)
    reading = assert_walkers_agree(session_file(home, data))
    assert reading.turns == ["t0", "t3"]
    assert questions(reading.model) == ["question 0", "SUMMARY after", "question 3"]


def test_a_rollback_of_the_first_turn(home: Path) -> None:
    data = head() + turn(0) + state("resp_0") + rollback("t0") + turn(1) + state("resp_1")
    reading = assert_walkers_agree(session_file(home, data))
    assert reading.turns == ["t1"]
    assert questions(reading.model) == ["question 1"]
    assert reading.chain == ("resp_1", 4)


def test_a_rollback_of_every_turn(home: Path) -> None:
    data = head() + turn(0) + turn(1, "interrupted") + rollback("t0", "t1")
    reading = assert_walkers_agree(session_file(home, data))
    assert (reading.turns, reading.model, reading.entries) == ([], [], [])


def test_nested_rollbacks(home: Path) -> None:
    data = head() + b"".join(turn(n) for n in range(6)) + rollback("t5") + turn(6)
    data += rollback("t3", "t4", "t6") + turn(7)
    reading = assert_walkers_agree(session_file(home, data))
    assert reading.turns == ["t0", "t1", "t2", "t7"]


@pytest.mark.parametrize(
    "last",
    [
        encode_line("response_item", summary_message("question 2")),
        rollback("t1"),
        compaction("torn", ["question 1"]),
        state("resp_torn"),
        encode_line("event_msg", {"type": "turn_started", "turn_id": "t2"}),
    ],
    ids=["item", "rollback", "compaction", "state", "turn_started"],
)
def test_a_torn_last_line(home: Path, last: bytes) -> None:
    """A crash cut the last line mid-write: every walker passes over what is left of it."""
    whole = head() + turn(0) + turn(1)
    for cut in (1, len(last) // 2, len(last) - 2):
        data = whole + last[:cut]
        reading = assert_walkers_agree(session_file(home, data))
        assert reading.torn
        assert reading.turns == ["t0", "t1"], cut
        assert questions(reading.model) == ["question 0", "question 1"], cut


def test_a_whole_last_line_without_its_newline_counts(home: Path) -> None:
    data = head() + turn(0) + turn(1) + rollback("t1").rstrip(b"\n")
    reading = assert_walkers_agree(session_file(home, data))
    assert not reading.torn
    assert reading.turns == ["t0"]


# --------------------------------------------------------------------------- random files


_STEPS = st.lists(
    st.tuples(
        st.sampled_from(
            ["turn", "turn", "turn", "undo", "undo", "compact", "midway", "state", "cut"]
        ),
        st.integers(0, 5),
    ),
    max_size=14,
)


def build(steps: list[tuple[str, int]]) -> bytes:
    """A session from steps: turns (some cut by a crash and repaired, as resume does),
    rollbacks of the last few live turns (reaching back over compactions too), compactions
    between turns and in the middle of one, and stored-chain records."""
    data = head()
    live: list[str] = []
    statuses = ["completed", "interrupted", "failed"]
    for n, (step, arg) in enumerate(steps):
        if step == "turn":
            data += turn(n, statuses[arg % 3])
            live.append(f"t{n}")
        elif step == "undo" and live:
            count = 1 + arg % len(live)
            undone, live = live[-count:], live[:-count]
            data += rollback(*undone)
        elif step == "compact":
            data += compaction(f"c{n}", [f"question {n - 1}"][: arg % 2])
        elif step == "midway":
            data += opening(n) + compaction(f"m{n}", [f"question {n}"]) + closing(n)
            live.append(f"t{n}")
        elif step == "state":
            data += state(f"resp_{n}")
        elif step == "cut":  # cut off by a crash, then ended by resume's repair
            data += opening(n) + encode_line(
                "response_item",
                {"type": "function_call_output", "call_id": f"call_{n}", "output": "aborted"},
            )
            data += encode_line(
                "event_msg", {"type": "turn_aborted", "turn_id": f"t{n}", "reason": "crash"}
            )
            live.append(f"t{n}")
    return data


@settings(max_examples=80, deadline=None)
@given(steps=_STEPS, tear=st.integers(0, 30))
def test_random_sessions_read_the_same_through_every_walker(
    steps: list[tuple[str, int]], tear: int
) -> None:
    data = build(steps)
    data = data[: len(data) - tear] if tear < len(data) else data
    with tempfile.TemporaryDirectory() as folder:
        assert_walkers_agree(session_file(Path(folder), data), limits=(0, 2, 1000))


# --------------------------------------------------------------------------- the rules alone


class _ListLedger:
    """A ledger over a plain list of line offsets, to watch the rules act."""

    def __init__(self) -> None:
        self.kept: list[int] = []
        self.compactions: list[int] = []

    def mark(self) -> tuple[int, int]:
        return len(self.kept), len(self.compactions)

    def cut(self, mark: tuple[int, int]) -> None:
        del self.kept[mark[0] :]
        del self.compactions[mark[1] :]

    def compact(self, offset: int, replacement: list[dict[str, Any]]) -> None:
        self.compactions.append(offset)


def _lines(*records: tuple[str, dict[str, Any]]) -> list[Line]:
    return [Line(n, kind, payload) for n, (kind, payload) in enumerate(records)]


def test_rules_cut_from_the_first_line_of_the_first_rolled_back_turn() -> None:
    lines = _lines(
        ("turn_context", {"turn_id": "a"}),
        ("event_msg", {"type": "turn_started", "turn_id": "a"}),
        ("turn_context", {"turn_id": "b"}),
        ("event_msg", {"type": "turn_started", "turn_id": "b"}),
        ("compacted", {"message": "s"}),
        ("event_msg", {"type": "turns_rolled_back", "turn_ids": ["b"]}),
        ("event_msg", {"type": "turns_rolled_back", "turn_ids": []}),  # not a rollback
    )
    ledger = _ListLedger()
    rules = Rules(ledger)
    used = []
    for line in lines:
        if rules.feed(line):
            used.append(line.offset)
        else:
            ledger.kept.append(line.offset)
    assert used == [4, 5]
    assert ledger.kept == [0, 1, 6]  # b's lines from its turn_context on are gone
    assert ledger.compactions == []  # the compaction was in b's stretch


def test_the_unwinder_passes_over_a_stretch_read_backwards() -> None:
    lines = _lines(
        ("event_msg", {"type": "turn_started", "turn_id": "a"}),
        ("turn_context", {"turn_id": "b"}),
        ("event_msg", {"type": "turn_started", "turn_id": "b"}),
        ("response_item", {"type": "message"}),
        ("event_msg", {"type": "turns_rolled_back", "turn_ids": ["b"]}),
        ("response_item", {"type": "message"}),
    )
    unwinder = Unwinder()
    live = [line.offset for line in reversed(lines) if unwinder.live(line)]
    # the stretch ends before b's first line, its turn_context
    assert live == [5, 0]
    # a walker starting inside a stretch (an old cursor) passes over it up to the turn
    inside = Unwinder("a")
    assert [line.offset for line in reversed(lines[:4]) if inside.live(line)] == []

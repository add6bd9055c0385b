"""LSP line edits for unsaved buffers: applied as an editor applies them, they give the new text."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from agentls.tools.patch.edits import line_edits


def _offset(text: str, line: int, character: int) -> int:
    """String index of an LSP position (UTF-16 characters), as an editor computes it."""
    index = 0
    for _ in range(line):
        found = text.find("\n", index)
        assert found != -1, "position past the last line"
        index = found + 1
    units = 0
    while units < character:
        units += 2 if ord(text[index]) > 0xFFFF else 1
        index += 1
    assert units == character
    return index


def _apply(text: str, edits: list[dict[str, Any]]) -> str:
    spans = []
    for edit in edits:
        start, end = edit["range"]["start"], edit["range"]["end"]
        spans.append(
            (
                _offset(text, start["line"], start["character"]),
                _offset(text, end["line"], end["character"]),
                edit["newText"],
            )
        )
    spans.sort()
    for (_, end, _), (start, _, _) in itertools.pairwise(spans):
        assert end <= start, "edits overlap"
    for start, end, new in reversed(spans):
        text = text[:start] + new + text[end:]
    return text


_TEXT = st.lists(
    st.sampled_from(["a\n", "b\r\n", "\n", "é😀\n", "x", "😀", "tail"]), max_size=12
).map("".join)


@settings(max_examples=300, deadline=None)
@given(old=_TEXT, new=_TEXT)
def test_edits_turn_old_into_new(old: str, new: str) -> None:
    assert _apply(old, line_edits(old, new)) == new


def test_only_changed_lines_are_touched() -> None:
    edits = line_edits("one\ntwo\nthree\n", "one\n2\nthree\n")
    assert edits == [
        {
            "range": {"start": {"line": 1, "character": 0}, "end": {"line": 2, "character": 0}},
            "newText": "2\n",
        }
    ]
    assert line_edits("same\n", "same\n") == []


def test_unterminated_last_line_is_measured_in_utf16() -> None:
    (edit,) = line_edits("a\n😀b", "a\n😀c")
    assert edit["range"] == {
        "start": {"line": 1, "character": 0},
        "end": {"line": 1, "character": 3},
    }
    assert edit["newText"] == "😀c"

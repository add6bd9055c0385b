"""Diffs: the whole-text diff agrees with difflib, and a plan's diff really turns old into new."""

from __future__ import annotations

import difflib
import re
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from agentls.tools.patch import parse_patch, plan_patch
from agentls.tools.patch.diff import count_changes, unified_diff
from agentls.tools.patch.reverse import render_patch, update_section

_LINES = st.lists(st.sampled_from(["a", "b", "c", "", "  d", "x = 1"]), max_size=30)
_EDITS = st.lists(
    st.tuples(st.integers(0, 40), st.integers(0, 3), _LINES.map(lambda x: x[:3])), max_size=5
)
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@$")


def _apply_unified(old: list[str], diff: str) -> list[str]:
    """A small unified-diff applier written for the test (context checked, strict)."""
    lines = diff.split("\n")[2:]
    result: list[str] = []
    cursor = 0
    i = 0
    while i < len(lines) and lines[i]:
        match = _HUNK.match(lines[i])
        assert match, lines[i]
        start = int(match.group(1)) - (0 if match.group(2) == "0" else 1)
        result.extend(old[cursor:start])
        cursor = start
        i += 1
        while i < len(lines) and lines[i] and not lines[i].startswith("@@"):
            mark, text = lines[i][0], lines[i][1:]
            if mark == " ":
                assert old[cursor] == text
                result.append(text)
                cursor += 1
            elif mark == "-":
                assert old[cursor] == text
                cursor += 1
            elif mark == "+":
                result.append(text)
            i += 1
    result.extend(old[cursor:])
    return result


def _edit(lines: list[str], edits: list[tuple[int, int, list[str]]]) -> list[str]:
    result = list(lines)
    for position, remove, insert in edits:
        at = min(position, len(result))
        result[at : at + remove] = insert
    return result


@settings(max_examples=200, deadline=None)
@given(old=_LINES, edits=_EDITS)
def test_whole_text_diff_matches_difflib(
    old: list[str], edits: list[tuple[int, int, list[str]]]
) -> None:
    new = _edit(old, edits)
    old_text = "".join(f"{x}\n" for x in old)
    new_text = "".join(f"{x}\n" for x in new)
    expected = "".join(
        line + "\n" for line in difflib.unified_diff(old, new, "a/f", "b/f", lineterm="")
    )
    assert unified_diff(old_text, new_text, "f", "f") == expected


@settings(max_examples=150, deadline=None)
@given(old=_LINES, edits=_EDITS)
def test_plan_diff_turns_old_into_new(
    old: list[str], edits: list[tuple[int, int, list[str]]]
) -> None:
    new = _edit(old, edits)
    old_text = "".join(f"{x}\n" for x in old)
    new_text = "".join(f"{x}\n" for x in new)
    if old_text == new_text:
        return
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "f.txt").write_text(old_text)
        patch = render_patch([update_section("f.txt", old_text, new_text)])
        (change,) = plan_patch(parse_patch(patch), Path(folder)).changes
    assert _apply_unified(old, change.diff) == new
    added, removed = count_changes(change.diff)
    assert (change.added, change.removed) == (added, removed)
    assert added - removed == len(new) - len(old)


def test_no_newline_marks() -> None:
    assert unified_diff("a\nb", "a\nc", "f", "f") == (
        "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n"
        "+c\n\\ No newline at end of file\n"
    )
    # Only the final newline changes: the last line shows as changed.
    assert unified_diff("a\nb", "a\nb\n", "f", "f") == (
        "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n"
    )


def test_add_delete_and_pure_rename_headers() -> None:
    assert (
        unified_diff(None, "x\n", "n.txt", "n.txt")
        == "--- /dev/null\n+++ b/n.txt\n@@ -0,0 +1 @@\n+x\n"
    )
    assert (
        unified_diff("x\n", None, "d.txt", "d.txt")
        == "--- a/d.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-x\n"
    )
    assert unified_diff("same\n", "same\n", "a.txt", "b.txt") == "--- a/a.txt\n+++ b/b.txt\n"
    assert unified_diff("same\n", "same\n", "a.txt", "a.txt") == ""

"""The hunk matcher's tolerance ladder and the closest-lines search for failures."""

from __future__ import annotations

from agentls.tools.patch.locate import closest_window, seek_sequence


def test_exact_match_from_start() -> None:
    assert seek_sequence(["foo", "bar", "baz", "bar", "baz"], ["bar", "baz"], 0) == 1
    assert seek_sequence(["foo", "bar", "baz", "bar", "baz"], ["bar", "baz"], 2) == 3


def test_trailing_whitespace_is_ignored() -> None:
    assert seek_sequence(["foo   ", "bar\t\t"], ["foo", "bar"], 0) == 0


def test_leading_whitespace_is_ignored_last() -> None:
    lines = ["    foo", "  bar", "foo ", "bar"]
    # The trailing-whitespace pass finds index 2 before the both-sides pass would find 0.
    assert seek_sequence(lines, ["foo", "bar"], 0) == 2
    assert seek_sequence(["    foo   ", "   bar\t"], ["foo", "bar"], 0) == 0


def test_typographic_punctuation_matches_ascii() -> None:
    lines = ["say(\u201chello\u201d) \u2014 it\u2019s\u00a0fine"]
    assert seek_sequence(lines, ['say("hello") - it\'s fine'], 0) == 0


def test_end_of_file_prefers_the_last_lines() -> None:
    lines = ["x", "end", "y", "end"]
    assert seek_sequence(lines, ["end"], 0, end_of_file=True) == 3
    # Not at the end: falls back to searching from the start.
    assert seek_sequence(["end", "tail"], ["end"], 0, end_of_file=True) == 0


def test_pattern_longer_than_file_and_empty_pattern() -> None:
    assert seek_sequence(["one"], ["one", "two"], 0) is None
    assert seek_sequence(["one"], [], 1) == 1


def test_closest_window_finds_the_near_miss() -> None:
    lines = [f"line {i}" for i in range(200)]
    lines[120:123] = ["def run(self):", "    x = compute()", "    return x"]
    window = closest_window(lines, ["def run(self):", "    x = compute(1)", "    return x"])
    assert window == 120


def test_closest_window_without_equal_lines_uses_similarity() -> None:
    lines = ["alpha", "bravo", "charlie_value = 3", "delta"]
    assert closest_window(lines, ["charlie_valu = 3"]) == 2


def test_closest_window_on_empty_file() -> None:
    assert closest_window([], ["x"]) is None

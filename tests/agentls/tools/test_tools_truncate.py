from __future__ import annotations

import re

import pytest

from agentls.tools.truncate import OutputBuffer

MARKER = re.compile(r"\n\[\.\.\. (\d+) bytes omitted \.\.\.\]\n")


def test_small_output_is_kept_whole() -> None:
    buffer = OutputBuffer(head_bytes=16, tail_bytes=16)
    for chunk in ["hello ", "wörld", "\n", "x" * 10]:
        buffer.append(chunk)
    assert buffer.text() == "hello wörld\n" + "x" * 10
    assert not buffer.truncated
    assert buffer.total_bytes == len(("hello wörld\n" + "x" * 10).encode())


def test_exactly_head_plus_tail_is_not_truncated() -> None:
    buffer = OutputBuffer(head_bytes=4, tail_bytes=4)
    buffer.append("abcdefgh")
    assert not buffer.truncated
    assert buffer.text() == "abcdefgh"
    buffer.append("i")
    assert buffer.truncated


def test_keeps_head_and_tail_with_marker() -> None:
    buffer = OutputBuffer(head_bytes=10, tail_bytes=10)
    buffer.append("a" * 10 + "b" * 100 + "c" * 10)
    text = buffer.text()
    match = MARKER.search(text)
    assert match is not None
    assert text[: match.start()] == "a" * 10
    assert text[match.end() :] == "c" * 10
    assert int(match.group(1)) == 100
    assert buffer.total_bytes == 120


def test_tail_rolls_over_many_small_appends() -> None:
    buffer = OutputBuffer(head_bytes=8, tail_bytes=8)
    for i in range(10_000):
        buffer.append(f"{i % 10}")
    text = buffer.text()
    assert text.startswith("01234567\n[... ")
    assert text.endswith("\n23456789")
    assert buffer.total_bytes == 10_000


def test_omitted_count_adds_up_for_line_cuts() -> None:
    lines = "".join(f"line {i}\n" for i in range(1000))
    buffer = OutputBuffer(head_bytes=100, tail_bytes=100)
    buffer.append(lines)
    text = buffer.text()
    match = MARKER.search(text)
    assert match is not None
    head, tail = text[: match.start()], text[match.end() :]
    # Cut on line boundaries: the head ends with a whole line (its newline replaced by the
    # marker) and the tail starts with one.
    assert lines.startswith(head + "\n")
    assert lines.endswith(tail)
    assert tail.startswith("line ")
    assert len(head.encode()) + len(tail.encode()) + int(match.group(1)) == len(lines.encode())


@pytest.mark.parametrize("char", ["é", "€", "😀"])
@pytest.mark.parametrize("limit", [5, 6, 7, 8])
def test_never_splits_a_character(char: str, limit: int) -> None:
    data = char * 50
    buffer = OutputBuffer(head_bytes=limit, tail_bytes=limit)
    # Chunk boundaries deliberately unrelated to character boundaries in bytes.
    for i in range(0, len(data), 3):
        buffer.append(data[i : i + 3])
    text = buffer.text()
    assert "\ufffd" not in text
    match = MARKER.search(text)
    assert match is not None
    head, tail = text[: match.start()], text[match.end() :]
    assert set(head) <= {char}
    assert set(tail) <= {char}
    assert 0 < len(head.encode()) <= limit
    assert 0 < len(tail.encode()) <= limit
    assert len(head.encode()) + len(tail.encode()) + int(match.group(1)) == len(data.encode())


def test_single_huge_chunk_keeps_memory_bounded() -> None:
    buffer = OutputBuffer(head_bytes=1024, tail_bytes=1024)
    buffer.append("x" * 5_000_000 + "END")
    assert len(buffer._head) == 1024
    assert len(buffer._tail) == 1024
    assert buffer.text().endswith("END")
    assert buffer.total_bytes == 5_000_003


def test_zero_head() -> None:
    buffer = OutputBuffer(head_bytes=0, tail_bytes=4)
    buffer.append("abcdefgh")
    assert buffer.text() == "\n[... 4 bytes omitted ...]\nefgh"


def test_negative_sizes_rejected() -> None:
    with pytest.raises(ValueError, match="negative"):
        OutputBuffer(head_bytes=-1)

"""The stdio transport's pieces on their own: the line splitter and the stderr tail."""

from __future__ import annotations

import time

import pytest

from agentls.mcp.stdio import LineSplitter, MessageTooLargeError, StderrTail


def test_lines_come_out_whole_however_the_bytes_are_cut() -> None:
    data = b'{"a":1}\n{"b":2}\r\n\n{"c":"' + b"x" * 1000 + b'"}\n{"partial'
    for size in (1, 2, 3, 7, 64, 4096, len(data)):
        splitter = LineSplitter(limit=10_000)
        lines: list[bytes] = []
        for start in range(0, len(data), size):
            lines.extend(splitter.feed(data[start : start + size]))
        assert lines == [b'{"a":1}', b'{"b":2}', b"", b'{"c":"' + b"x" * 1000 + b'"}'], size
        assert splitter.pending == len(b'{"partial')
        assert splitter.lines == 4
        assert splitter.received == len(data)


def test_a_line_exactly_at_the_limit_passes_and_one_byte_more_is_refused() -> None:
    at_limit = LineSplitter(limit=100)
    assert at_limit.feed(b"y" * 100 + b"\r\n") == [b"y" * 100]
    pending = LineSplitter(limit=100)
    assert pending.feed(b"y" * 100) == []  # the newline may still come
    assert pending.feed(b"\r") == []  # a `\r` is not counted until its newline is known
    assert pending.feed(b"\n") == [b"y" * 100]
    over = LineSplitter(limit=100)
    with pytest.raises(MessageTooLargeError) as refused:
        over.feed(b"y" * 101)  # refused before its end arrives
    assert (refused.value.size, refused.value.limit) == (101, 100)
    ended = LineSplitter(limit=100)
    with pytest.raises(MessageTooLargeError):
        ended.feed(b"ok\n" + b"y" * 101 + b"\n")


def _split_time(size: int, chunk: int) -> float:
    """CPU seconds to split one line of `size` bytes fed in `chunk`-byte pieces."""
    splitter = LineSplitter(limit=size + 1)
    piece = b"x" * chunk
    started = time.process_time()
    for _ in range(size // chunk):
        assert splitter.feed(piece) == []
    [line] = splitter.feed(b"\n")
    elapsed = time.process_time() - started
    assert len(line) == size // chunk * chunk
    return elapsed


def _copy_time(size: int, chunk: int) -> float:
    """CPU seconds to copy the same bytes into one, once: the least any reader pays."""
    parts = [b"x" * chunk] * (size // chunk)
    started = time.process_time()
    joined = b"".join(parts)
    elapsed = time.process_time() - started
    assert len(joined) == size // chunk * chunk
    return elapsed


def test_one_long_line_costs_linear_time() -> None:
    """The SDK's reader takes ~9 s of a core for 30 MiB in 64 KiB pieces (every piece
    re-joins and re-splits the whole); this one costs about one copy of the line."""
    size, chunk = 32 * 1024 * 1024, 64 * 1024
    split = min(_split_time(size, chunk) for _ in range(3))
    copy = min(_copy_time(size, chunk) for _ in range(3))
    assert split < 0.5, split
    assert split < copy * 3 + 0.02, (split, copy)


def test_the_stderr_tail_keeps_only_the_end() -> None:
    tail = StderrTail(limit=1024)
    for i in range(10_000):
        tail.feed(f"line {i}\n".encode())
    assert tail.total > 60_000
    text = tail.text()
    assert text.startswith("[...] line ")  # cut at a line start, and says so
    assert text.endswith("line 9999")
    assert len(text.encode()) <= 1024 + len("[...] ")
    assert tail.text(limit=20).endswith("line 9999")
    assert len(tail.text(limit=20)) < 30
    tail.feed(b"z" * 5000)  # one piece larger than the whole tail
    assert tail.text() == "[...] " + "z" * 1024


def test_a_short_stderr_is_kept_whole() -> None:
    tail = StderrTail(limit=1024)
    tail.feed(b"fixture: cannot start\n")
    assert tail.text() == "fixture: cannot start"
    tail.feed(b"\xff broken utf-8\n")
    assert "broken utf-8" in tail.text()

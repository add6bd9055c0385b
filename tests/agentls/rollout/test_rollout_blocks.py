"""Block reads and marker searches cut lines where a plain split does, whatever the block."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from agentls.rollout.blocks import (
    backward_lines,
    file_end,
    forward_lines,
    line_at,
    line_blocks,
    lines_with,
    search_back,
    search_forward,
)

_LINES = st.lists(st.text(alphabet="ab\"xy'", max_size=12).map(str.encode), min_size=0, max_size=12)


def _split(data: bytes) -> list[tuple[int, bytes]]:
    """(offset, line) of every line of `data`, the plain way."""
    found: list[tuple[int, bytes]] = []
    offset = 0
    for line in data.split(b"\n"):
        found.append((offset, line))
        offset += len(line) + 1
    return found


@settings(max_examples=200, deadline=None)
@given(lines=_LINES, ended=st.booleans(), block=st.integers(1, 9))
def test_lines_both_ways_match_a_plain_split(lines: list[bytes], ended: bool, block: int) -> None:
    data = b"\n".join(lines) + (b"\n" if ended and lines else b"")
    fh = io.BytesIO(data)
    expected = _split(data)
    forward = list(forward_lines(fh, 0, len(data), block))
    # a forward read yields no empty piece after the last newline
    assert forward == [p for p in expected if p[0] < len(data)]
    backward = list(backward_lines(fh, len(data), 0, block))
    assert backward == list(reversed(expected))
    for offset, line in expected:
        for at in range(offset, offset + len(line) + 1):
            if at < len(data):
                assert line_at(fh, at, len(data)) == (
                    offset,
                    min(len(data), offset + len(line) + 1),
                    line,
                )


def test_file_end(tmp_path: Path) -> None:
    for data, expected in ((b"", (0, True)), (b"a\n", (2, True)), (b"a\nb", (3, False))):
        path = tmp_path / "f"
        path.write_bytes(data)
        with path.open("rb") as fh:
            assert file_end(fh) == expected


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(st.sampled_from([b"x", b'"m"', b'a"m"b"m"', b"yy", b'"n"', b""]), max_size=10),
    block=st.integers(1, 9),
    accept=st.integers(0, 3),
)
def test_search_back_judges_each_line_once_newest_first(
    lines: list[bytes], block: int, accept: int
) -> None:
    data = b"\n".join(lines)
    fh = io.BytesIO(data)
    judged: dict[bytes, list[int]] = {b'"m"': [], b'"n"': []}

    def judge(marker: bytes) -> Callable[[int, int, bytes], bool]:
        def look(start: int, stop: int, line: bytes) -> bool:
            assert data[start:stop].rstrip(b"\n") == line and marker in line
            judged[marker].append(start)
            return len(judged[marker]) > accept

        return look

    search_back(fh, len(data), {m: judge(m) for m in judged}, block)
    for marker, starts in judged.items():
        holding = [offset for offset, line in reversed(_split(data)) if marker in line]
        assert starts == holding[: accept + 1]


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(st.sampled_from([b"x", b'"m"', b'a"m"b"m"', b"yy", b'"n"', b""]), max_size=10),
    block=st.integers(1, 9),
)
def test_search_forward_finds_each_line_once_in_order(lines: list[bytes], block: int) -> None:
    data = b"\n".join(lines)
    fh = io.BytesIO(data)
    for start, _ in _split(data):
        for end in range(start, len(data) + 1):
            found = list(search_forward(fh, start, end, b'"m"', block))
            # lines are read no further than `end`
            cut = [(offset, data[offset:end].split(b"\n")[0]) for offset, _ in _split(data)]
            expected = [
                (offset, min(end, offset + len(line) + 1), line)
                for offset, line in cut
                if start <= offset < end and b'"m"' in line
            ]
            assert found == expected


def test_lines_with_each_line_once_and_before_an_end() -> None:
    data = b'a "m" "m"\nb\n"m" c\n"m"'
    assert list(lines_with(data, b'"m"')) == [(0, 9), (12, 17), (18, 21)]
    assert [data[a:b] for a, b in lines_with(data, b'"m"', end=12)] == [b'a "m" "m"']
    assert list(lines_with(data, b"nothing")) == []


@settings(max_examples=200, deadline=None)
@given(lines=_LINES, ended=st.booleans(), block=st.integers(1, 9), first=st.integers(0, 9))
def test_line_blocks_are_whole_lines(
    lines: list[bytes], ended: bool, block: int, first: int
) -> None:
    data = b"\n".join(lines) + (b"\n" if ended and lines else b"")
    fh = io.BytesIO(data)
    head = fh.read(first)
    blocks = list(line_blocks(fh, 0, None, block, head))
    assert b"".join(b for _, b in blocks) == data
    assert all(b and b.endswith(b"\n") for _, b in blocks[:-1])
    assert all(data[offset:].startswith(b) for offset, b in blocks)
    # a stretch in the middle, from a line start to any end
    for start in [0, *(i + 1 for i, c in enumerate(data) if c == 0x0A)]:
        for end in range(start, len(data) + 1):
            found = list(line_blocks(fh, start, end, block))
            assert b"".join(b for _, b in found) == data[start:end]
            assert all(b.endswith(b"\n") for _, b in found[:-1])

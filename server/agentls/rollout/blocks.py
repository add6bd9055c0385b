"""Reading a rollout file block by block, and finding lines by a byte search.

Resume, paging and the session list must not parse a long session whole. They read its
ends line by line (`backward_lines`, `forward_lines`) and find the few lines that matter
in between (the last `compacted` line, the last rename, the rollbacks, a turn's start) by
searching the bytes for a marker, then decode only the lines the search hits. A marker is
a JSON string with its quotes, such as `b'"compacted"'`: inside a string value JSON escapes
the quotes, so it can only stand unescaped where it is a key or a whole value.

Every block read and every marker search lives here, so that all the readers cut lines at
the same places: a line longer than a block, a last line without its newline, a marker
split between two blocks. Nothing here parses JSON; what a line means is `reader.py`'s.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from typing import IO

BLOCK = 256 * 1024
LIST_BLOCK = 1024 * 1024  # the session list reads whole files: fewer, larger reads

# (line start, line end: after its newline or at the end read to, the line without its
# newline) -> whether this line is the one looked for
Judge = Callable[[int, int, bytes], bool]


def file_end(fh: IO[bytes]) -> tuple[int, bool]:
    """(size, whether the file ends with a newline or is empty): a last line without its
    newline may be one a crash cut off."""
    size = os.fstat(fh.fileno()).st_size
    if size == 0:
        return 0, True
    fh.seek(size - 1)
    return size, fh.read(1) == b"\n"


def at_line_boundary(fh: IO[bytes], offset: int, size: int) -> bool:
    """A line starts at `offset`, or one ends there (a last line without its newline yet)."""
    if offset in (0, size):
        return True
    fh.seek(offset - 1)
    return b"\n" in fh.read(2)


def backward_lines(
    fh: IO[bytes], end: int, start: int = 0, block: int = BLOCK
) -> Iterator[tuple[int, bytes]]:
    """(offset, line) from `end` back to `start`, newest first, reading block by block.

    A line longer than a block is assembled from its pieces without re-copying it per block.
    The first line yielded is whatever follows the last newline before `end` (empty when
    `end` is a line start).
    """
    pos = end
    pieces: list[bytes] = []  # the line being assembled, newest piece first
    while pos > start:
        begin = max(start, pos - block)
        fh.seek(begin)
        chunk = fh.read(pos - begin)
        hi = len(chunk)
        cut = chunk.rfind(b"\n", 0, hi)
        while cut >= 0:
            piece = chunk[cut + 1 : hi]
            if pieces:
                pieces.append(piece)
                piece = b"".join(reversed(pieces))
                pieces = []
            yield begin + cut + 1, piece
            hi = cut
            cut = chunk.rfind(b"\n", 0, hi)
        pieces.append(chunk[:hi])
        pos = begin
    pieces.reverse()
    yield start, b"".join(pieces)


def forward_lines(
    fh: IO[bytes], start: int, end: int, block: int = BLOCK
) -> Iterator[tuple[int, bytes]]:
    """(offset, line) from `start` to `end`; the last one may lack its newline."""
    fh.seek(start)
    pos = start
    rest = b""
    while pos < end:
        chunk = fh.read(min(block, end - pos))
        if not chunk:
            break
        data = rest + chunk if rest else chunk
        base = pos - len(rest)
        pos += len(chunk)
        begin = 0
        cut = data.find(b"\n")
        while cut >= 0:
            yield base + begin, data[begin:cut]
            begin = cut + 1
            cut = data.find(b"\n", begin)
        rest = data[begin:]
    if rest:
        yield pos - len(rest), rest


def line_at(fh: IO[bytes], at: int, end: int) -> tuple[int, int, bytes]:
    """(start, end, line) of the line holding byte `at`, read no further than `end`."""
    start = next(backward_lines(fh, at))[0]
    for offset, line in forward_lines(fh, start, end):
        return offset, min(end, offset + len(line) + 1), line
    return start, start, b""


def search_back(fh: IO[bytes], end: int, judges: Mapping[bytes, Judge], block: int = BLOCK) -> None:
    """For each marker, the lines holding it from `end` backwards, newest first, until its
    judge takes one; one pass over the blocks serves all the markers.

    Each line is judged once per marker, even when the marker occurs in it twice or the line
    spans blocks; a marker split between two blocks is found. Stops at the file's start or
    when every judge has what it looked for.
    """
    waiting = dict(judges)
    below = dict.fromkeys(waiting, end)  # every line from here on was judged already
    keep = max((len(marker) for marker in waiting), default=1) - 1
    overlap = b""
    pos = end
    while pos > 0 and waiting:
        begin = max(0, pos - block)
        fh.seek(begin)
        chunk = fh.read(pos - begin) + overlap
        for marker in list(waiting):
            # only hits that start in this block (those in the overlap were found before)
            # and before the last line judged
            limit = min(pos, below[marker]) - begin + len(marker) - 1
            hit = chunk.rfind(marker, 0, min(len(chunk), limit))
            while hit >= 0:
                start, stop, line = line_at(fh, begin + hit, end)
                below[marker] = start
                if waiting[marker](start, stop, line):
                    del waiting[marker]
                    break
                hit = chunk.rfind(marker, 0, max(0, start - begin + len(marker) - 1))
        overlap = chunk[:keep]
        pos = begin


def search_forward(
    fh: IO[bytes], start: int, end: int, marker: bytes, block: int = LIST_BLOCK
) -> Iterator[tuple[int, int, bytes]]:
    """The lines holding `marker` from `start` (a line start) to `end`, in order, each once,
    as `line_at` gives them. Only the hits' lines are assembled; the blocks themselves are
    searched as read, without copying (this pass often finds nothing).
    """
    keep = len(marker) - 1
    overlap = b""
    after = start  # the lines before this were given already
    pos = start
    while pos < end:
        fh.seek(pos)
        chunk = fh.read(min(block, end - pos))
        if not chunk:
            return
        # a marker split between the previous block and this one
        hits = [pos - len(overlap) + hit for hit in _finds(overlap + chunk[:keep], marker)]
        hits += [pos + hit for hit in _finds(chunk, marker)]
        for hit in hits:
            if hit >= after:
                found = line_at(fh, hit, end)
                after = found[1]
                yield found
        # the last bytes read, for a marker split at the next seam (blocks may be tiny)
        tail = chunk if len(chunk) >= keep else overlap + chunk
        overlap = tail[len(tail) - keep :] if keep else b""
        pos += len(chunk)


def _finds(data: bytes, marker: bytes) -> list[int]:
    """Where `marker` starts in `data`, in order."""
    found: list[int] = []
    hit = data.find(marker)
    while hit >= 0:
        found.append(hit)
        hit = data.find(marker, hit + 1)
    return found


def lines_with(data: bytes, marker: bytes, end: int | None = None) -> Iterator[tuple[int, int]]:
    """(start, stop) of each line of `data` holding `marker` before `end`, in order, each
    line once; `data[start:stop]` is the line, without its newline.
    """
    end = len(data) if end is None else end
    hit = data.find(marker, 0, end)
    while hit >= 0:
        start = data.rfind(b"\n", 0, hit) + 1
        stop = data.find(b"\n", hit)
        stop = len(data) if stop < 0 else stop
        yield start, stop
        hit = data.find(marker, stop, end)


def line_blocks(
    fh: IO[bytes], start: int, end: int | None = None, block: int = BLOCK, first: bytes = b""
) -> Iterator[tuple[int, bytes]]:
    """(offset, block) of whole lines from `start` to `end` (None: the end of the file).

    `first` is what was already read from `start` on. Every block but the last ends with a
    newline; the last one may end in a line without its newline (a torn line, a last line
    not ended yet, or one `end` cuts). Memory stays within about two blocks.
    """
    pos = start + len(first)
    fh.seek(pos)
    data = first
    base = start
    while True:
        chunk = fh.read(block if end is None else min(block, end - pos)) if end != pos else b""
        if not chunk:
            if data:
                yield base, data
            return
        pos += len(chunk)
        data = data + chunk if data else chunk
        cut = data.rfind(b"\n") + 1
        if cut:
            yield base, data[:cut]
            base += cut
            data = data[cut:]

"""What one rollout line is: every reader decodes and judges lines here.

Tolerant: whatever was written whole comes back, the rest is skipped and reported (a
corrupt line, a torn last line, a blank line, a BOM). No per-line model validation: a
50,000-item session is parsed with orjson only, and each line is checked just enough to be
routed. Deciding in one place means every reader skips exactly the same lines.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson

from agentls.rollout.records import COMPACTED, RESPONSE_ITEM, compacted_replacement

BOM = b"\xef\xbb\xbf"
_BLANK = frozenset(b" \t\r\x0b\x0c")

NOT_JSON = "not valid JSON"
NOT_A_RECORD = "not a rollout record"
UNTYPED_ITEM = "response item without a type"
TORN = "the last line was cut off mid-write"
NO_REPLACEMENT = "a compaction without its history"


def is_blank(line: bytes | memoryview) -> bool:
    return not line or (line[0] in _BLANK and not bytes(line).strip())


def decode_line(line: bytes | memoryview) -> tuple[str, dict[str, Any]] | str:
    """(line type, payload) of one rollout line, or why it cannot be used.

    The one place that decides what a line is, so that every reader skips the same lines.
    """
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return NOT_JSON
    payload = record.get("payload") if isinstance(record, dict) else None
    if not isinstance(payload, dict):
        return NOT_A_RECORD
    kind = record.get("type")
    if kind == RESPONSE_ITEM and not isinstance(payload.get("type"), str):
        return UNTYPED_ITEM
    return (kind if isinstance(kind, str) else "", payload)


def decode_at(offset: int, line: bytes) -> tuple[str, dict[str, Any]] | str:
    """`decode_line` for a line read at `offset` of a file: the first may carry a BOM."""
    if offset == 0 and line.startswith(BOM):
        line = line[len(BOM) :]
    return decode_line(line)


@dataclass
class Line:
    """A rollout line that can be used: where it starts, its type and its payload."""

    offset: int
    kind: str
    payload: dict[str, Any]


class LineDecoder:
    """Decodes the lines of one read of a file, collecting warnings worded as the reference
    reader of the tests words them, but naming byte offsets: counting lines would mean
    reading everything.

    `size` is where the read ends and `ends_clean` whether a newline is there: an undecodable
    last line without it is a torn one (a crash mid-write), anything else a damaged one.
    """

    def __init__(self, size: int, ends_clean: bool) -> None:
        self.size = size
        self.ends_clean = ends_clean
        self.warnings: list[tuple[int, str]] = []
        self.torn_tail = False

    def decode(self, offset: int, line: bytes) -> Line | None:
        is_last = offset + len(line) >= self.size
        if offset == 0 and line.startswith(BOM):
            line = line[len(BOM) :]
        if is_blank(line):
            return None
        decoded = decode_line(line)
        if isinstance(decoded, str):
            if decoded == NOT_JSON and is_last and not self.ends_clean:
                self.torn_tail = True
                self.warnings.append((offset, f"byte {offset}: {TORN}; skipped"))
            else:
                self.warnings.append((offset, f"byte {offset}: {decoded}; skipped"))
            return None
        kind, payload = decoded
        if kind == COMPACTED and compacted_replacement(payload) is None:
            self.warnings.append((offset, f"byte {offset}: {NO_REPLACEMENT}; skipped"))
            return None
        return Line(offset, kind, payload)


@contextmanager
def bulk_load() -> Iterator[None]:
    """Pause the cyclic GC while a session's objects are built.

    Reading a 50,000-item session creates a few hundred thousand containers and none of them
    are garbage; the collector would scan them again and again, doubling the time.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()

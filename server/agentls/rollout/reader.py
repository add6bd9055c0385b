"""Tolerant rollout reader: whatever was written whole comes back; the rest is reported.

No per-line model validation: a 50,000-item session is parsed with orjson only, and each
line is checked just enough to be routed.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from agentls.rollout.records import (
    COMPACTED,
    EVENT_MSG,
    RESPONSE_ITEM,
    SESSION_META,
    STATE,
    TURN_CONTEXT,
    TURN_STARTED,
    compacted_replacement,
    rolled_back_first,
)

BOM = b"\xef\xbb\xbf"
_BLANK = frozenset(b" \t\r\x0b\x0c")


@dataclass
class Rollout:
    """Everything in a rollout file, in order.

    `items` is the whole conversation (what the panel shows); the model sees less once the
    session was compacted: `build_model_history` gives that. `_item_index` in events, state
    and compactions is the number of items before the line.
    """

    meta: dict[str, Any] | None = None
    items: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    turn_contexts: list[dict[str, Any]] = field(default_factory=list)
    state: dict[str, Any] | None = None
    compactions: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    torn_tail: bool = False


def _lines(data: bytes) -> Iterator[tuple[int, memoryview]]:
    """(line number, line) without copying: a 50,000-item file is parsed in place."""
    view = memoryview(data)
    start = 0
    number = 1
    size = len(data)
    while start < size:
        end = data.find(b"\n", start)
        if end < 0:
            end = size
        yield number, view[start:end]
        start = end + 1
        number += 1


NOT_JSON = "not valid JSON"
NOT_A_RECORD = "not a rollout record"
UNTYPED_ITEM = "response item without a type"
TORN = "the last line was cut off mid-write"
NO_REPLACEMENT = "a compaction without its history"


def is_blank(line: bytes | memoryview) -> bool:
    return not line or (line[0] in _BLANK and not bytes(line).strip())


def decode_line(line: bytes | memoryview) -> tuple[str, dict[str, Any]] | str:
    """(line type, payload) of one rollout line, or why it cannot be used.

    The one place that decides what a line is, shared by the whole-file reader and the
    paging reader so that both skip exactly the same lines.
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
    """Decodes the lines of one read of a file, collecting warnings as `parse_rollout` words
    them, but naming byte offsets: counting lines would mean reading everything.

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


def parse_rollout(data: bytes) -> Rollout:
    out = Rollout()
    if data.startswith(BOM):
        data = data[len(BOM) :]
    ends_clean = data.endswith(b"\n") or not data
    last_number = data.count(b"\n") + 1
    skipped_unknown = 0
    # where each turn's lines start, so that a rollback can cut them off again
    starts: dict[str, tuple[int, int, int, int]] = {}
    for number, line in _lines(data):
        if is_blank(line):
            continue
        decoded = decode_line(line)
        if isinstance(decoded, str):
            if decoded == NOT_JSON and number == last_number and not ends_clean:
                out.torn_tail = True
                out.warnings.append(f"line {number}: {TORN}; skipped")
            else:
                out.warnings.append(f"line {number}: {decoded}; skipped")
            continue
        kind, payload = decoded
        if kind in (TURN_CONTEXT, EVENT_MSG) and (
            kind == TURN_CONTEXT or payload.get("type") == TURN_STARTED
        ):
            mark = (len(out.items), len(out.events), len(out.turn_contexts), len(out.compactions))
            starts.setdefault(str(payload.get("turn_id")), mark)
        if kind == RESPONSE_ITEM:
            out.items.append(payload)
        elif kind == EVENT_MSG and (first := rolled_back_first(payload)) is not None:
            _roll_back(out, starts.get(first))
        elif kind == EVENT_MSG:
            out.events.append({**payload, "_item_index": len(out.items)})
        elif kind == TURN_CONTEXT:
            out.turn_contexts.append(payload)
        elif kind == SESSION_META:
            if out.meta is None:
                out.meta = payload
        elif kind == STATE:
            out.state = {**payload, "_item_index": len(out.items)}
        elif kind == COMPACTED:
            replacement = compacted_replacement(payload)
            if replacement is None:
                out.warnings.append(f"line {number}: {NO_REPLACEMENT}; skipped")
                continue
            message = payload.get("message")
            out.compactions.append(
                {
                    "message": message if isinstance(message, str) else "",
                    "replacement_history": replacement,
                    "_item_index": len(out.items),
                }
            )
            # The service's stored chain holds what was compacted away: it ends here.
            out.state = None
        else:
            skipped_unknown += 1
    if skipped_unknown:
        out.warnings.append(f"{skipped_unknown} line(s) of unknown type skipped")
    return out


def _roll_back(out: Rollout, mark: tuple[int, int, int, int] | None) -> None:
    """Drop what the rolled-back turns added; the service's stored chain is gone with them."""
    if mark is None:
        return
    items, events, contexts, compactions = mark
    del out.items[items:]
    del out.events[events:]
    del out.turn_contexts[contexts:]
    del out.compactions[compactions:]
    out.state = None


def build_model_history(rollout: Rollout) -> list[dict[str, Any]]:
    """The model's input: the last compaction's replacement history, then every later item."""
    if not rollout.compactions:
        return list(rollout.items)
    last = rollout.compactions[-1]
    return [*last["replacement_history"], *rollout.items[last["_item_index"] :]]


def model_response_chain(rollout: Rollout) -> tuple[str, int] | None:
    """(previous_response_id, how many model-history items it covers), if the chain holds."""
    state = rollout.state
    if state is None or not isinstance(state.get("previous_response_id"), str):
        return None
    index = int(state["_item_index"])
    if rollout.compactions:
        last = rollout.compactions[-1]
        index = len(last["replacement_history"]) + index - int(last["_item_index"])
    return str(state["previous_response_id"]), index


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


def read_rollout(path: Path) -> Rollout:
    return parse_rollout(path.read_bytes())

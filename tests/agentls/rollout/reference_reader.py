"""The reference reader: a whole rollout parsed in one pass, in the plainest way.

Tests compare the server's readers against it (the paged resume, the model history, the
turn scan, the session list). It is deliberately written apart from `rollout/rules.py` and
`rollout/blocks.py`: it applies a rollback by truncating everything recorded since the
rolled-back turn's first line, and a compaction by remembering it beside the items, so a
mistake in the shared rules shows as a disagreement. Lines are judged by
`reader.decode_line`, the one definition of a usable line.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentls.rollout.reader import (
    BOM,
    NO_REPLACEMENT,
    NOT_JSON,
    TORN,
    decode_line,
    is_blank,
)
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


def read_rollout(path: Path) -> Rollout:
    return parse_rollout(path.read_bytes())

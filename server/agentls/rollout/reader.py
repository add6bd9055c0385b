"""Tolerant rollout reader: whatever was written whole comes back; the rest is reported.

No per-line model validation: a 50,000-item session is parsed with orjson only, and each
line is checked just enough to be routed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from agentls.rollout.records import (
    EVENT_MSG,
    RESPONSE_ITEM,
    SESSION_META,
    STATE,
    TURN_CONTEXT,
)

BOM = b"\xef\xbb\xbf"


@dataclass
class Rollout:
    meta: dict[str, Any] | None = None
    items: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    turn_contexts: list[dict[str, Any]] = field(default_factory=list)
    state: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    torn_tail: bool = False


def parse_rollout(data: bytes) -> Rollout:
    out = Rollout()
    if data.startswith(BOM):
        data = data[len(BOM) :]
    lines = data.split(b"\n")
    ends_clean = data.endswith(b"\n") or not data
    last_index = len(lines) - 1
    skipped_unknown = 0
    for index, raw in enumerate(lines):
        line = raw.strip()
        if not line:
            continue
        number = index + 1
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            if index == last_index and not ends_clean:
                out.torn_tail = True
                out.warnings.append(f"line {number}: the last line was cut off mid-write; skipped")
            else:
                out.warnings.append(f"line {number}: not valid JSON; skipped")
            continue
        payload = record.get("payload") if isinstance(record, dict) else None
        if not isinstance(payload, dict):
            out.warnings.append(f"line {number}: not a rollout record; skipped")
            continue
        kind = record.get("type")
        if kind == RESPONSE_ITEM:
            if isinstance(payload.get("type"), str):
                out.items.append(payload)
            else:
                out.warnings.append(f"line {number}: response item without a type; skipped")
        elif kind == EVENT_MSG:
            out.events.append({**payload, "_item_index": len(out.items)})
        elif kind == TURN_CONTEXT:
            out.turn_contexts.append(payload)
        elif kind == SESSION_META:
            if out.meta is None:
                out.meta = payload
        elif kind == STATE:
            out.state = {**payload, "_item_index": len(out.items)}
        else:
            skipped_unknown += 1
    if skipped_unknown:
        out.warnings.append(f"{skipped_unknown} line(s) of unknown type skipped")
    return out


def read_rollout(path: Path) -> Rollout:
    return parse_rollout(path.read_bytes())

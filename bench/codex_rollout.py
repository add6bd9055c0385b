"""Long Codex sessions for the resume figures, grown from a turn Codex wrote itself.

Codex's rollout lines carry many fields a hand-written file would get wrong, so the file is
made by Codex: one real turn (a user message, an `exec_command` call, its ~1 KB output, an
answer: 4 response items, as in the sessions `bench/sessions.py` writes for agentls), and
then that turn's lines are copied until the file holds the wanted number of response items.
Every id in a copy (turn, call, message, item, response) gets a fresh value and every
line a fresh `ordinal`, so the copies are distinct turns to whoever reads them.
"""

from __future__ import annotations

import re
from pathlib import Path

import orjson

_IDS = re.compile(
    rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|"
    rb"(?:call|msg|fc|fco|resp)_[0-9a-f]{24}"
)
_ORDINAL = re.compile(rb'^\{"timestamp":"[^"]*","ordinal":(\d+),')


def rollout_file(codex_home: Path, thread_id: str) -> Path:
    found = sorted(codex_home.glob(f"sessions/**/rollout-*{thread_id}.jsonl"))
    if not found:
        raise FileNotFoundError(f"no rollout for thread {thread_id} under {codex_home}")
    return found[0]


BOOKKEEPING = ("token_usage_record", "token_count")


def _kind(line: bytes) -> tuple[str, str]:
    record = orjson.loads(line)
    payload = record.get("payload") or {}
    return str(record.get("type")), str(payload.get("type", ""))


def last_turn_lines(lines: list[bytes]) -> list[bytes]:
    """The lines from the last `task_started` to the end of the file, without the token
    accounting lines (bookkeeping, not conversation: agentls's generated files have none)."""
    for index in range(len(lines) - 1, -1, -1):
        if _kind(lines[index]) == ("event_msg", "task_started"):
            return [
                line
                for line in lines[index:]
                if _kind(line)[0] not in BOOKKEEPING and _kind(line)[1] not in BOOKKEEPING
            ]
    raise ValueError("no task_started line in the rollout")


def response_items(lines: list[bytes]) -> int:
    return sum(1 for line in lines if orjson.loads(line).get("type") == "response_item")


def _renamed(token: bytes, copy: int) -> bytes:
    """The same id with its last 12 hex digits replaced: unique per copy and per id."""
    tail = f"{copy:012x}".encode()
    return token[:-12] + tail


def grow(path: Path, thread_id: str, items: int) -> tuple[int, dict[str, int]]:
    """Append copies of the file's last turn until it holds about `items` response items.

    Returns the number of turns in the file afterwards, and the lines and bytes per copy."""
    lines = path.read_bytes().splitlines()
    template = last_turn_lines(lines)
    sizes = {"lines": len(template), "bytes": sum(len(line) + 1 for line in template)}
    per_turn = response_items(template)
    if per_turn == 0:
        raise ValueError("the last turn has no response items")
    have = response_items(lines)
    copies = max(0, (items - have) // per_turn)
    ordinal = len(lines)
    tokens = sorted({m.group(0) for line in template for m in _IDS.finditer(line)})
    tokens = [t for t in tokens if t != thread_id.encode()]
    pattern = re.compile(b"|".join(re.escape(t) for t in tokens)) if tokens else None
    with path.open("ab") as out:
        for copy in range(1, copies + 1):
            names = {t: _renamed(t, copy * 4096 + i) for i, t in enumerate(tokens)}
            chunk: list[bytes] = []
            for line in template:
                if pattern is not None:
                    line = pattern.sub(lambda m: names[m.group(0)], line)  # noqa: B023
                found = _ORDINAL.match(line)
                if found is not None:
                    line = line[: found.start(1)] + str(ordinal).encode() + line[found.end(1) :]
                ordinal += 1
                chunk.append(line)
            out.write(b"\n".join(chunk) + b"\n")
    turns = sum(1 for line in lines if _kind(line) == ("event_msg", "task_started")) + copies
    return turns, sizes

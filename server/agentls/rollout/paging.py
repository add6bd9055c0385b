"""Resume and page a session without reading all of it.

A long session's file keeps growing (the panel can page through everything), but resume
needs only its two ends: the head (session_meta and the first user message, the title) and
the tail (the newest panel entries, the turn a crash cut off). What the model sees starts at
the last `compacted` line, so the model history is read from there on, and only when the
first request needs it (`load_model_history`): a session that was never compacted is read
whole at that point, not at resume.

Why reading from the end rather than a sidecar index: the rollout stays the only truth, as
with the session list (`store.py`). An index written next to it can be stale after a crash
or missing for files from older versions, and would need the same recovery code anyway.
The one pass that may cover the whole file is the search for the last `compacted` line
and the last rename, a byte search (no JSON parsing, `blocks.search_back`) backwards from
the end that stops once both are found; for a session never compacted nor renamed it reads
every byte once, at memchr speed.

Lines are judged by `reader.LineDecoder`, so these readers skip exactly what every reader
skips (corrupt lines, a torn last line, blank lines, a BOM); warnings name byte offsets
instead of line numbers, since counting lines would mean reading everything. Rollbacks and
compactions apply as `rules.py` says.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from agentls.history.items import Item, assistant_text, user_text
from agentls.history.repair import pending_call_ids
from agentls.history.user_shell import title_text
from agentls.history.validate import item_problem
from agentls.history.view import render_history
from agentls.rollout.blocks import (
    at_line_boundary,
    backward_lines,
    file_end,
    forward_lines,
    search_back,
)
from agentls.rollout.reader import (
    Line,
    LineDecoder,
    bulk_load,
    decode_at,
)
from agentls.rollout.records import (
    COMPACTED,
    EVENT_MSG,
    RESPONSE_ITEM,
    SESSION_META,
    SESSION_RENAMED,
    STATE,
    TOOL_CALL_COMPLETED,
    TURN_ABORTED,
    TURN_COMPLETED,
    TURN_STARTED,
    compacted_replacement,
    rolled_back_first,
)
from agentls.rollout.rules import Rules, Unwinder, covering_rollback

HEAD_LIMIT = 4 * 1024 * 1024  # the title is in the first turn; do not hunt for it further
LOOKAHEAD_LIMIT = 1024 * 1024  # how far past a page to look for its calls' outputs
_MARKER = b'"compacted"'
_RENAMED = b'"session_renamed"'
TURN_SEARCH_LIMIT = 8 * 1024 * 1024  # how far before a page to look for its turn's start
_CURSOR_PREFIX = "h1:"


@dataclass
class ResumeView:
    """What resuming a session needs, read from the ends of its file.

    `size` is where reading stopped: the session appends after it, so `load_model_history`
    reads the model's part up to `size` and the caller adds what it appended since.
    """

    path: Path
    size: int
    meta: dict[str, Any] | None
    title: str
    entries: list[dict[str, Any]]
    history_cursor: str | None
    model_start: int
    replacement_history: list[Item] | None
    unfinished_turns: list[str]
    pending_calls: list[str]
    warnings: list[str] = field(default_factory=list)
    torn_tail: bool = False
    # where the lines behind `warnings` start, so that a later read does not report them again
    skipped_offsets: frozenset[int] = frozenset()


@dataclass
class ModelHistory:
    """The model's input on resume: the last compaction's replacement, then later items.

    No events: the panel is served by `open_resume` and `history_page`, and the crash
    repair by `ResumeView`. `response_chain` is (previous_response_id, items it covers) when
    the service's stored history still matches; `pending_calls` are calls in it without an
    output.
    """

    items: list[Item]
    response_chain: tuple[str, int] | None
    pending_calls: list[str]
    warnings: list[str]


# --------------------------------------------------------------------------- the ends


def _makes_entry(item: Item) -> bool:
    """Whether `render_history` shows this item as an entry of its own (keep in step)."""
    kind = item.get("type")
    if kind == "function_call":
        return True
    return kind == "message" and (user_text(item) is not None or assistant_text(item) is not None)


def _head(fh: IO[bytes], size: int, decoder: LineDecoder) -> tuple[dict[str, Any] | None, str]:
    """session_meta and the title (the first user message the API would accept)."""
    meta: dict[str, Any] | None = None
    end = min(size, HEAD_LIMIT)
    for offset, raw in forward_lines(fh, 0, end):
        if offset + len(raw) == end < size:
            break  # a line the limit cut in two, not a damaged one
        line = decoder.decode(offset, raw) if raw else None
        if line is None:
            continue
        if line.kind == SESSION_META and meta is None:
            meta = line.payload
        elif line.kind == RESPONSE_ITEM and item_problem(line.payload) is None:
            text = user_text(line.payload)
            if text:
                return meta, title_text(text)
    return meta, ""


@dataclass
class _Marks:
    """What resume finds by a byte search from the end: the last usable `compacted` line
    (its start, its end, the history it stands for) and the title of the last rename."""

    compaction: tuple[int, int, list[Item]] | None = None
    title: str | None = None


def _find_marks(fh: IO[bytes], end: int) -> _Marks:
    """The last compaction still in force and the last rename, in one pass over the blocks
    before `end`."""
    found = _Marks()

    def compaction(start: int, stop: int, line: bytes) -> bool:
        decoded = decode_at(start, line)
        if isinstance(decoded, tuple) and decoded[0] == COMPACTED:
            replacement = compacted_replacement(decoded[1])
            # a compaction inside a rolled-back stretch is gone with it: look further back
            if replacement is not None and covering_rollback(fh, stop, end) is None:
                found.compaction = (start, stop, replacement)
                return True
        return False

    def renamed(start: int, stop: int, line: bytes) -> bool:
        decoded = decode_at(start, line)
        if isinstance(decoded, tuple) and decoded[1].get("type") == SESSION_RENAMED:
            title = decoded[1].get("title")
            if isinstance(title, str) and title.strip():
                found.title = title
                return True
        return False

    search_back(fh, end, {_MARKER: compaction, _RENAMED: renamed})
    return found


def _tail(
    fh: IO[bytes],
    end: int,
    decoder: LineDecoder,
    limit: int,
    model_start: int,
    *,
    repair: bool,
    skipping: str | None = None,
) -> tuple[list[Line], int | None, list[str], list[str], str | None]:
    """Read back from `end` until the panel and the crash repair have what they need.

    Returns (lines newest first, where the panel's page starts or None when nothing is
    older, unfinished turns, pending calls, the turn open where the page starts). Unfinished
    turns and calls without output can only follow the last turn end: a turn answers its
    calls before it ends, and resume repairs before a new turn starts; so the repair's part
    ends at that turn end. Lines of rolled-back turns are passed over: reading backwards, a
    `turns_rolled_back` record comes before them (`rules.Unwinder`); `skipping` names the
    first turn of the rollback whose stretch holds `end`, if any.
    """
    lines: list[Line] = []
    entries = 0
    page_start: int | None = None
    more_older = False
    repair_done = not repair
    started: list[str] = []
    answered: set[Any] = set()
    pending: list[str] = []
    page_turn: str | None = None
    page_turn_known = limit == 0
    unwinder = Unwinder(skipping)
    for offset, raw in backward_lines(fh, end):
        line = decoder.decode(offset, raw)
        if line is None or not unwinder.live(line):
            continue
        payload = line.payload
        if not page_turn_known and line.kind == EVENT_MSG:
            boundary = payload.get("type")
            if boundary == TURN_STARTED:
                page_turn, page_turn_known = str(payload.get("turn_id")), True
            elif boundary in (TURN_COMPLETED, TURN_ABORTED):
                page_turn, page_turn_known = None, True
        if line.kind == RESPONSE_ITEM and _makes_entry(payload):
            if entries == limit:
                if not more_older and page_start is None:
                    # an empty page (limit 0): older entries start right after this line
                    page_start = min(end, offset + len(raw) + 1)
                more_older = True
            else:
                entries += 1
                page_start = offset
                page_turn_known = limit == 0
        if not repair_done:
            if line.kind == EVENT_MSG:
                kind = payload.get("type")
                if kind in (TURN_COMPLETED, TURN_ABORTED):
                    repair_done = True
                elif kind == TURN_STARTED:
                    started.append(str(payload.get("turn_id")))
            elif line.kind == RESPONSE_ITEM and offset >= model_start:
                kind = payload.get("type")
                if kind == "function_call_output":
                    answered.add(payload.get("call_id"))
                elif kind == "function_call" and payload.get("call_id") not in answered:
                    pending.append(str(payload.get("call_id")))
        if not more_older:
            lines.append(line)
        # in a file without turn records (or a giant turn) the page's entries go without
        # their turn id rather than this read going on to the file's start
        gave_up = page_start is None or offset < page_start - TURN_SEARCH_LIMIT
        if more_older and repair_done and (page_turn_known or gave_up):
            break
    started.reverse()
    pending.reverse()
    if entries < limit or not more_older:
        page_start = None
        page_turn = None
    return lines, page_start, started, pending, page_turn


def _render(lines: list[Line], start: int, turn_id: str | None = None) -> list[dict[str, Any]]:
    """Panel entries of the lines (oldest first) from `start` on; `turn_id` is open there."""
    items: list[Item] = []
    events: list[Item] = []
    for ln in lines:
        if ln.offset < start:
            continue
        if ln.kind == RESPONSE_ITEM:
            items.append(ln.payload)
        elif ln.kind == EVENT_MSG:
            events.append({**ln.payload, "_item_index": len(items)})
    return render_history(items, events, turn_id)


def encode_history_cursor(offset: int) -> str:
    raw = f"{_CURSOR_PREFIX}{offset}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_history_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = base64.urlsafe_b64decode(padded).decode()
        if not raw.startswith(_CURSOR_PREFIX):
            raise ValueError(raw)
        offset = int(raw[len(_CURSOR_PREFIX) :])
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError("history cursor is not one this server handed out") from exc
    if offset < 0:
        raise ValueError("history cursor is not one this server handed out")
    return offset


# --------------------------------------------------------------------------- public


def open_resume(path: Path, history_limit: int) -> ResumeView:
    """Read what resume needs; the file's middle is searched for `compacted`, not parsed.

    `history_limit` is how many of the newest panel entries to return (at least 0). Raises
    OSError when the file cannot be read; every problem inside the file is a warning.
    """
    limit = max(0, history_limit)
    with path.open("rb") as fh:
        size, ends_clean = file_end(fh)
        head_decoder = LineDecoder(size, ends_clean)
        meta, title = _head(fh, size, head_decoder)
        marks = _find_marks(fh, size)
        title = marks.title or title
        compaction = marks.compaction
        model_start = compaction[1] if compaction else 0
        decoder = LineDecoder(size, ends_clean)
        lines, page_start, unfinished, pending, page_turn = _tail(
            fh, size, decoder, limit, model_start, repair=True
        )
    lines.reverse()
    entries = _render(lines, page_start if page_start is not None else 0, page_turn)
    warnings = dict(head_decoder.warnings)
    warnings.update(decoder.warnings)
    if meta is None:
        warnings[-1] = "the session_meta line is missing; the session is still usable"
    return ResumeView(
        path=path,
        size=size,
        meta=meta,
        title=title,
        entries=entries,
        history_cursor=encode_history_cursor(page_start) if page_start is not None else None,
        model_start=model_start,
        replacement_history=compaction[2] if compaction else None,
        unfinished_turns=unfinished,
        pending_calls=pending,
        warnings=[warnings[key] for key in sorted(warnings)],
        torn_tail=decoder.torn_tail,
        skipped_offsets=frozenset(key for key in warnings if key >= 0),
    )


def load_model_history(view: ResumeView, *, to_end: bool = False) -> ModelHistory:
    """Parse the model's part of the file: from the last compaction to `view.size`.

    With `to_end`, read on to the file's current end instead, so that what the session wrote
    since `open_resume` (the crash repair's outputs, say) is included; a compaction written
    meanwhile is honoured. Costs what that part costs (the whole file when the session was
    never compacted): meant for the first request after resume, in a worker thread. Lines
    already reported in `view.warnings` are not reported again.
    """
    model = _ModelLedger(list(view.replacement_history or []))
    rules = Rules(model)
    items = model.items
    with view.path.open("rb") as fh, bulk_load():
        if to_end:
            end, ends_clean = file_end(fh)
        else:
            end, ends_clean = view.size, not view.torn_tail
        decoder = LineDecoder(end, ends_clean)
        for offset, raw in forward_lines(fh, view.model_start, end):
            line = decoder.decode(offset, raw)
            if line is None:
                continue
            kind = line.kind
            if kind == RESPONSE_ITEM:
                items.append(line.payload)
            elif kind == STATE:
                response_id = line.payload.get("previous_response_id")
                model.chain = (response_id, len(items)) if isinstance(response_id, str) else None
            elif rules.feed(line):
                items = model.items  # a rollback or a compaction may have changed the list
    return ModelHistory(
        items=items,
        response_chain=model.chain,
        pending_calls=pending_call_ids(items),
        warnings=[text for at, text in sorted(decoder.warnings) if at not in view.skipped_offsets],
    )


class _ModelLedger:
    """The model's history as `load_model_history` builds it, for the rules to act on.

    A mark is the list with its length then: a compaction starts a new list and leaves the
    old one alone, so a rollback reaching back past a compaction returns to the old list.
    `chain` is the stored response chain (previous_response_id, items it covers).
    """

    __slots__ = ("chain", "items")

    def __init__(self, items: list[Item]) -> None:
        self.items = items
        self.chain: tuple[str, int] | None = None

    def mark(self) -> tuple[list[Item], int]:
        return self.items, len(self.items)

    def cut(self, mark: tuple[list[Item], int]) -> None:
        items, length = mark
        del items[length:]
        self.items = items
        self.chain = None

    def compact(self, offset: int, replacement: list[Item]) -> None:
        self.items = list(replacement)
        self.chain = None


def history_page(path: Path, cursor: str, limit: int) -> tuple[list[dict[str, Any]], str | None]:
    """The `limit` panel entries older than `cursor`, and the cursor for the ones before.

    Raises ValueError for a cursor this server did not hand out for this file.
    """
    end = decode_history_cursor(cursor)
    limit = max(1, limit)
    with path.open("rb") as fh:
        size, ends_clean = file_end(fh)
        if end > size or not at_line_boundary(fh, end, size):
            raise ValueError("history cursor does not point into this session")
        decoder = LineDecoder(size, ends_clean)
        undone = covering_rollback(fh, end, size)
        lines, page_start, _, _, page_turn = _tail(
            fh, end, decoder, limit, size, repair=False, skipping=undone
        )
        lines.reverse()
        lines += _outputs_after(fh, end, size, lines, decoder)
        lines += _turn_end_after(fh, end, size, decoder)
        lines.sort(key=lambda ln: ln.offset)
    entries = _render(lines, page_start if page_start is not None else 0, page_turn)
    return entries, encode_history_cursor(page_start) if page_start is not None else None


def _turn_end_after(fh: IO[bytes], end: int, size: int, decoder: LineDecoder) -> list[Line]:
    """The end of the turn the page stops in, when no entry comes between (its outcome)."""
    for offset, raw in forward_lines(fh, end, min(size, end + LOOKAHEAD_LIMIT)):
        line = decoder.decode(offset, raw)
        if line is None:
            continue
        if line.kind == RESPONSE_ITEM and _makes_entry(line.payload):
            return []
        if line.kind == EVENT_MSG:
            kind = line.payload.get("type")
            if kind in (TURN_COMPLETED, TURN_ABORTED):
                return [line]
            if kind == TURN_STARTED or rolled_back_first(line.payload) is not None:
                return []
    return []


def _outputs_after(
    fh: IO[bytes], end: int, size: int, lines: list[Line], decoder: LineDecoder
) -> list[Line]:
    """Outputs (and their completion events) of the page's calls that were written later.

    A call's output usually follows it within its turn; a call cut off by a crash gets its
    output when the session is next opened, which is right after it too. Looking further
    than `LOOKAHEAD_LIMIT` is not worth it: such a call shows as aborted.
    """
    waiting = {
        ln.payload.get("call_id")
        for ln in lines
        if ln.kind == RESPONSE_ITEM and ln.payload.get("type") == "function_call"
    }
    for ln in lines:
        if ln.kind == RESPONSE_ITEM and ln.payload.get("type") == "function_call_output":
            waiting.discard(ln.payload.get("call_id"))
    found: list[Line] = []
    if not waiting:
        return found
    statuses = set(waiting)
    for offset, raw in forward_lines(fh, end, min(size, end + LOOKAHEAD_LIMIT)):
        line = decoder.decode(offset, raw)
        if line is None:
            continue
        payload = line.payload
        call_id = payload.get("call_id")
        if line.kind == RESPONSE_ITEM and payload.get("type") == "function_call_output":
            if call_id in waiting:
                waiting.discard(call_id)
                found.append(line)
        elif (
            line.kind == EVENT_MSG
            and payload.get("type") == TOOL_CALL_COMPLETED
            and call_id in statuses
        ):
            statuses.discard(call_id)
            found.append(line)
        if not waiting and not statuses:
            break
    return found

"""The two rules by which a rollout line changes what earlier lines mean, in one place.

- `turns_rolled_back {turn_ids}` takes those turns out of the conversation: every line from
  the first one's start (its `turn_context`, else its `turn_started`) up to the record no
  longer counts, for the panel and the model alike. A `compacted` line among them goes
  too, and the service's stored response chain ends.
- `compacted {message, replacement_history}` replaces what the model sees: the history it
  stands for (`records.compacted_replacement`) takes the place of everything before it,
  and a `state` line before it no longer applies. The panel still shows every item.

Every reader of a rollout applies them through this module. Walkers reading in file order
(the model's history, the turn scan) feed their lines to `Rules`, which calls back into
their own account of what they keep (`Ledger`); walkers reading from the end (the panel's
pages) ask `Unwinder` whether a line still counts; a search that lands in the middle of a
file (the last compaction, a cursor) asks `covering_rollback` whether a later rollback
reaches back over that place.

A rollback is expected to name a turn that started before it, as agentls writes them; one
naming a turn the file does not hold is passed over by `Rules` but hides everything before
it from `Unwinder`, which cannot know the turn is missing without reading to the start.
"""

from __future__ import annotations

from typing import IO, Any, Generic, Protocol, TypeVar

import orjson

from agentls.history.items import Item
from agentls.rollout.blocks import search_forward
from agentls.rollout.reader import Line, decode_at
from agentls.rollout.records import (
    COMPACTED,
    EVENT_MSG,
    TURN_CONTEXT,
    TURN_STARTED,
    TURNS_ROLLED_BACK,
    compacted_replacement,
    rolled_back_first,
)

M = TypeVar("M")

_ROLLED_BACK = b'"turns_rolled_back"'


def turn_opened(kind: str, payload: dict[str, Any]) -> str | None:
    """The turn a line starts (a `turn_context` or a `turn_started` event), or None."""
    if kind == TURN_CONTEXT or (kind == EVENT_MSG and payload.get("type") == TURN_STARTED):
        return str(payload.get("turn_id"))
    return None


def rolled_back_count(payload: dict[str, Any]) -> int:
    """How many turns a `turns_rolled_back` payload takes out: the ones it names, since the
    record lists every turn from the first one on. Lets a count skip the turn order."""
    ids = payload.get("turn_ids")
    return len(ids) if isinstance(ids, list) else 0


class Ledger(Protocol[M]):
    """A forward walker's own account of what it keeps, as the rules need to act on it."""

    def mark(self) -> M:
        """Where the account stands now: a turn starting here is taken back to this."""
        ...

    def cut(self, mark: M) -> None:
        """Go back to `mark`: a rollback took out everything since (and the stored chain)."""
        ...

    def compact(self, offset: int, replacement: list[Item]) -> None:
        """The `compacted` line at `offset` stands for everything before it from now on."""
        ...


class Rules(Generic[M]):
    """The rules for a walker reading lines in file order.

    Feed every usable line to `feed` before keeping it, so that a turn's mark is taken
    before its first line is counted.
    """

    __slots__ = ("_ledger", "_starts")

    def __init__(self, ledger: Ledger[M]) -> None:
        self._ledger = ledger
        self._starts: dict[str, M] = {}  # each turn's first line, as a mark of the ledger

    def feed(self, line: Line) -> bool:
        """Apply what `line` does to the lines before it.

        True for a rollback or a compaction, which are used up here; False for any other
        line, which the walker keeps as it sees fit.
        """
        kind = line.kind
        payload = line.payload
        if kind == EVENT_MSG:
            event = payload.get("type")
            if event != TURN_STARTED:
                # most lines are other events: judged without a call (this runs per line)
                return event == TURNS_ROLLED_BACK and self._roll_back(payload)
        elif kind != TURN_CONTEXT:
            return kind == COMPACTED and self._compact(line)
        # a turn's start: its first line is where a rollback of it goes back to
        turn_id = str(payload.get("turn_id"))
        if turn_id not in self._starts:
            self._starts[turn_id] = self._ledger.mark()
        return False

    def _roll_back(self, payload: dict[str, Any]) -> bool:
        first = rolled_back_first(payload)
        if first is None:
            return False  # not a usable rollback: an ordinary event
        mark = self._starts.get(first)
        if mark is not None:
            self._ledger.cut(mark)
        return True

    def _compact(self, line: Line) -> bool:
        replacement = compacted_replacement(line.payload)
        if replacement is not None:
            self._ledger.compact(line.offset, replacement)
        return True


class Unwinder:
    """The rollback rule for a walker reading from the end.

    Going backwards, a walker meets a rollback record before the lines it takes out; they
    reach back to its first turn's start, its `turn_context` and `turn_started` lines, so
    the stretch ends at the first line before those. `skipping` names that turn while in
    such a stretch (a walker that starts inside one, say at an old cursor, sets it up front).
    """

    __slots__ = ("_at_start", "skipping")

    def __init__(self, skipping: str | None = None) -> None:
        self.skipping = skipping
        self._at_start = False  # the skipped turn's start lines are being passed

    def live(self, line: Line) -> bool:
        """Whether `line`, met going backwards, still counts."""
        if self.skipping is not None:
            if turn_opened(line.kind, line.payload) == self.skipping:
                self._at_start = True
                return False
            if not self._at_start:
                return False
            self.skipping = None
            self._at_start = False
        # most lines are not rollbacks: judged without a call (this runs per line)
        if line.kind != EVENT_MSG or line.payload.get("type") != TURNS_ROLLED_BACK:
            return True
        first = rolled_back_first(line.payload)
        if first is None:
            return True
        self.skipping = first
        return False


def covering_rollback(fh: IO[bytes], at: int, end: int) -> str | None:
    """The first turn of a rollback, written between `at` and `end`, whose stretch holds
    `at` (that turn started before `at`); None when no rollback reaches back over `at`.

    Found by a byte search of what follows `at`, block by block; the turns' starts are only
    looked for when there are rollbacks. Of nested stretches the later record is the outer
    one (an inner one can only name turns the outer one names too).
    """
    rollbacks: list[tuple[int, str]] = []
    for start, _, line in search_forward(fh, at, end, _ROLLED_BACK):
        decoded = decode_at(start, line)
        first = rolled_back_first(decoded[1]) if isinstance(decoded, tuple) else None
        if first is not None:
            rollbacks.append((start, first))
    covering: str | None = None
    for record, first in rollbacks:
        if not _opens_between(fh, at, record, first):
            covering = first
    return covering


def _opens_between(fh: IO[bytes], start: int, end: int, turn_id: str) -> bool:
    """Whether a line between `start` and `end` starts turn `turn_id`."""
    for begin, _, line in search_forward(fh, start, end, orjson.dumps(turn_id)):
        decoded = decode_at(begin, line)
        if isinstance(decoded, tuple) and turn_opened(*decoded) == turn_id:
            return True
    return False

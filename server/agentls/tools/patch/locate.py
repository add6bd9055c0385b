"""Finding where a hunk's lines are in a file, with the Codex CLI's tolerance.

Models copy context from memory, so a hunk is searched for with decreasing strictness: exactly,
then ignoring trailing whitespace, then ignoring whitespace at both ends, then also treating
typographic dashes, quotes and odd spaces as their ASCII forms. The first position that matches
at the strictest level wins. When nothing matches, :func:`closest_window` finds the lines the
file does have, so the model can see what it got wrong.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence

__all__ = ["closest_window", "seek_sequence"]

_PUNCTUATION = str.maketrans(
    {
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),
        **dict.fromkeys("\u2018\u2019\u201a\u201b", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f", '"'),
        **dict.fromkeys(
            "\u00a0\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000", " "
        ),
    }
)


def _normalise(line: str) -> str:
    return line.strip().translate(_PUNCTUATION)


_LEVELS: tuple[Callable[[str], str], ...] = (str.rstrip, str.strip, _normalise)


def seek_sequence(
    lines: Sequence[str], pattern: Sequence[str], start: int, end_of_file: bool = False
) -> int | None:
    """Index of the first match of ``pattern`` in ``lines`` at or after ``start``.

    With ``end_of_file`` the pattern is first tried as the file's last lines, then anywhere
    after ``start`` as usual.
    """
    if not pattern:
        return start
    last = len(lines) - len(pattern)
    if last < 0:
        return None
    if end_of_file:
        found = _seek(lines, pattern, last, last)
        if found is not None:
            return found
    return _seek(lines, pattern, start, last)


def _seek(lines: Sequence[str], pattern: Sequence[str], first: int, last: int) -> int | None:
    size = len(pattern)
    head = pattern[0]
    for i in range(first, last + 1):
        if lines[i] == head and all(lines[i + k] == pattern[k] for k in range(1, size)):
            return i
    for level in _LEVELS:
        wanted = [level(p) for p in pattern]
        for i in range(first, last + 1):
            if all(level(lines[i + k]) == wanted[k] for k in range(size)):
                return i
    return None


def closest_window(lines: Sequence[str], pattern: Sequence[str], start: int = 0) -> int | None:
    """The start of the ``len(pattern)`` lines of ``lines`` most like ``pattern``.

    Scores count lines equal once stripped, then break ties by textual similarity; only the
    best few candidates by the cheap count get the costly comparison, so a large file stays
    fast on this error path.
    """
    if not lines or not pattern:
        return None
    size = min(len(pattern), len(lines))
    wanted = [p.strip() for p in pattern[:size]]
    stripped = [line.strip() for line in lines]
    positions: dict[str, list[int]] = {}
    for index, text in enumerate(stripped):
        if text:
            positions.setdefault(text, []).append(index)
    votes: dict[int, int] = {}
    for k, text in enumerate(wanted):
        for index in positions.get(text, ()):
            begin = index - k
            if 0 <= begin <= len(lines) - size:
                votes[begin] = votes.get(begin, 0) + 1
    if votes:
        ranked = sorted(votes, key=lambda b: (-votes[b], abs(b - start)))[:8]
    else:
        ranked = _fuzzy_candidates(stripped, wanted, size)
    if not ranked:
        return None
    joined = "\n".join(wanted)

    def similarity(begin: int) -> float:
        window = "\n".join(stripped[begin : begin + size])
        return difflib.SequenceMatcher(None, joined, window, autojunk=False).ratio()

    return max(ranked, key=lambda b: (votes.get(b, 0), similarity(b)))


def _fuzzy_candidates(stripped: list[str], wanted: list[str], size: int) -> list[int]:
    """Window starts whose lines resemble some pattern line (no line was equal)."""
    candidates: set[int] = set()
    limit = len(stripped) - size
    for k, text in enumerate(wanted):
        if not text:
            continue
        for match in difflib.get_close_matches(text, stripped, n=3, cutoff=0.5):
            for index, line in enumerate(stripped):
                if line == match and 0 <= index - k <= limit:
                    candidates.add(index - k)
        if len(candidates) >= 8:
            break
    return sorted(candidates)[:8]

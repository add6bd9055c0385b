"""The names the model sees: `mcp__<server>__<tool>`, valid for the Responses API.

Function names must match `^[a-zA-Z0-9_-]{1,64}$`. Names must also be stable (the model's
history refers to them across turns and across a resume) and unique, so any name that had
to change (a character replaced, a cut to 64) carries a short hash of the original pair.

Joined names can coincide (`a__b` + `c` and `a` + `b__c`), so which pair gets the plain
name depends on which pairs there are. Once given, a name must never pass to another pair
(an approval or the model's history would follow it to a tool nobody chose): `assign_names`
names new pairs around the names already given, which the manager keeps for its lifetime.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

__all__ = ["MAX_NAME_LENGTH", "PREFIX", "assign_names", "exposed_names"]

PREFIX = "mcp"
MAX_NAME_LENGTH = 64
_INVALID = re.compile(r"[^a-zA-Z0-9_-]")
_HASH_LENGTH = 8


def _joined(server: str, tool: str) -> str:
    return f"{PREFIX}__{server}__{tool}"


def _hashed(server: str, tool: str, clean: str) -> str:
    digest = hashlib.sha256(f"{server}\0{tool}".encode()).hexdigest()[:_HASH_LENGTH]
    return f"{clean[: MAX_NAME_LENGTH - _HASH_LENGTH - 1]}_{digest}"


def exposed_names(pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """A model-facing name for every `(server, tool)` pair; the same input, the same names.

    Pairs whose joined name is already valid keep it exactly; any other name is cleaned and
    hashed, so it depends on its own pair only and does not move when other tools come and go.
    """
    return assign_names(pairs, ())


def assign_names(
    pairs: Iterable[tuple[str, str]], given: Iterable[str]
) -> dict[tuple[str, str], str]:
    """Names for new pairs that avoid every name in `given` (names other pairs hold or held).

    A pair whose plain name is given already gets the hashed form instead.
    """
    ordered = sorted(set(pairs))
    names: dict[tuple[str, str], str] = {}
    taken: set[str] = set(given)
    pending: list[tuple[str, str]] = []
    for server, tool in ordered:
        raw = _joined(server, tool)
        if len(raw) <= MAX_NAME_LENGTH and not _INVALID.search(raw) and raw not in taken:
            names[(server, tool)] = raw
            taken.add(raw)
        else:
            pending.append((server, tool))
    for server, tool in pending:
        clean = _hashed(server, tool, _INVALID.sub("_", _joined(server, tool)))
        while clean in taken:  # only a hash collision gets here
            clean = _hashed(server, clean, clean)
        names[(server, tool)] = clean
        taken.add(clean)
    return names

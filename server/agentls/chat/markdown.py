"""Where a streaming Markdown answer can be cut into blocks that will not change any more.

Rendering the whole answer again on every token costs time proportional to its length, each
time. Blocks that ended (a blank line outside a code fence) are printed once, for good; only
the block still being written is redrawn.
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def stable_prefix_length(text: str) -> int:
    """Length of the longest prefix of `text` made of finished blocks (0 if none).

    A block is finished at a blank line that is outside a fenced code block; a closed fence
    also ends a block. What follows may still change as tokens arrive.
    """
    cut = 0
    offset = 0
    fence: str | None = None
    lines = text.split("\n")
    for index, line in enumerate(lines):
        complete = index < len(lines) - 1  # the last piece has no newline yet
        end = offset + len(line) + 1
        if not complete:
            break
        match = _FENCE.match(line)
        if fence is None:
            if match:
                fence = match.group(1)[0] * 3
            elif not line.strip() and offset > cut:
                cut = end
        elif len(line.strip()) >= 3 and set(line.strip()) == {fence[0]}:
            fence = None
            cut = end
        offset = end
    return cut


def close_open_markup(text: str) -> str:
    """The block being written, with what is still open closed, so it renders as it will end.

    Without this, `Some **bold` would flash by as literal asterisks until the closing `**`
    arrives, and an unfinished code block would show its fence.
    """
    fence: str | None = None
    for line in text.split("\n"):
        match = _FENCE.match(line)
        if fence is None and match:
            fence = match.group(1)[0] * 3
        elif fence is not None and len(line.strip()) >= 3 and set(line.strip()) == {fence[0]}:
            fence = None
    if fence is not None:
        return text.rstrip("\n") + "\n" + fence
    closed = text
    if closed.count("`") % 2:
        closed += "`"
    for marker in ("**", "__"):
        if closed.count(marker) % 2:
            closed += marker
    return closed

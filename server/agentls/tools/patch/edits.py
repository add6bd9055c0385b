"""A planned change as LSP text edits, for files the editor has open with unsaved changes.

Such a file is changed through ``workspace/applyEdit`` so the edit lands in the buffer and the
editor's undo reverts it. The edits replace whole lines only, so their positions need no
character arithmetic except at an unterminated last line (measured in UTF-16 code units, the
LSP default encoding).
"""

from __future__ import annotations

import difflib
from typing import Any

__all__ = ["line_edits"]


def _pieces(text: str) -> list[str]:
    """Lines with their endings (LSP lines are split at "\\n"; "\\r\\n" ends with it)."""
    pieces = text.split("\n")
    last = pieces.pop()
    out = [piece + "\n" for piece in pieces]
    if last:
        out.append(last)
    return out


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def line_edits(old_text: str, new_text: str) -> list[dict[str, Any]]:
    """``TextEdit`` objects (``{range, newText}``) that turn ``old_text`` into ``new_text``.

    Ranges refer to ``old_text`` and do not overlap, as a ``TextDocumentEdit`` requires.
    """
    a = _pieces(old_text)
    b = _pieces(new_text)

    def position(index: int) -> dict[str, int]:
        if index < len(a):
            return {"line": index, "character": 0}
        if a and not a[-1].endswith("\n"):
            return {"line": len(a) - 1, "character": _utf16_length(a[-1])}
        return {"line": len(a), "character": 0}

    edits: list[dict[str, Any]] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        edits.append(
            {
                "range": {"start": position(i1), "end": position(i2)},
                "newText": "".join(b[j1:j2]),
            }
        )
    return edits

"""What the editor shows: the core's view of open buffers, unsaved edits included.

The LSP layer fills this from text document sync; the core asks it before it reads or
edits a file, so the model sees what the user sees and unsaved work is never overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class Buffer:
    path: Path
    uri: str
    text: str
    version: int | None
    unsaved: bool


class EditorBuffers(Protocol):
    # True when buffers must be fetched (`read_ahead`) before a plan can see them
    reads_ahead: bool

    def buffer(self, path: Path) -> Buffer | None:
        """The open buffer of that file, or None when the editor does not have it open."""
        ...

    def can_apply_edits(self) -> bool:
        """Whether edits can be sent to the editor (`workspace/applyEdit`)."""
        ...

    async def read_ahead(self, paths: list[Path]) -> None:
        """Fetch what the editor shows of these files before a patch is planned on them.

        An editor that pushes its buffers (LSP text sync) has nothing to do; one that is
        asked file by file (ACP's `fs/read_text_file`) is asked here, since planning is
        synchronous.
        """
        ...

    async def apply_edit(self, path: Path, old_text: str, new_text: str, label: str) -> str | None:
        """Replace the buffer's text in the editor; None on success, else why not."""
        ...


class NoEditor:
    """No editor attached (tests of the core, the benchmark): files are read from disk."""

    reads_ahead = False

    def buffer(self, path: Path) -> Buffer | None:
        return None

    def can_apply_edits(self) -> bool:
        return False

    async def read_ahead(self, paths: list[Path]) -> None:
        return None

    async def apply_edit(self, path: Path, old_text: str, new_text: str, label: str) -> str | None:
        return "no editor is attached"

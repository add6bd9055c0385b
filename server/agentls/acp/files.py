"""The editor's files through the ACP client: `fs/read_text_file` and `fs/write_text_file`.

ACP has no text sync: the agent asks for a file when it needs it. Before a patch is planned
the core calls `read_ahead` with the files it names; what the client answers (its buffer,
unsaved edits included) is what the plan sees. A file whose buffer differs from the disk is
written through the client, so the editor's buffer and undo stack take the change, as LSP's
`workspace/applyEdit` does; the others are written on disk, where the editor sees them too.
"""

from __future__ import annotations

import logging
from pathlib import Path

from agentls.acp.core import ClientFiles
from agentls.agent.editor import Buffer
from agentls.tools.files import disk_text

logger = logging.getLogger(__name__)


class ClientBuffers:
    """`EditorBuffers` for one ACP session: what its client showed at the last read-ahead."""

    reads_ahead = True

    def __init__(self, session_id: str, files: ClientFiles) -> None:
        self.session_id = session_id
        self._files = files
        self._buffers: dict[Path, Buffer] = {}

    def buffer(self, path: Path) -> Buffer | None:
        return self._buffers.get(path)

    def can_apply_edits(self) -> bool:
        return self._files.write is not None

    async def read_ahead(self, paths: list[Path]) -> None:
        self._buffers.clear()  # only what the client says now counts
        read = self._files.read
        if read is None:
            return
        for path in dict.fromkeys(paths):
            if not path.is_file():
                continue  # a file the patch adds: nothing to show yet
            try:
                text = await read(self.session_id, path)
            except Exception as exc:  # the client may refuse a file; the disk still counts
                logger.info("the client did not give %s: %s", path, exc)
                continue
            unsaved = text != disk_text(path)
            self._buffers[path] = Buffer(path, path.as_uri(), text, None, unsaved)

    async def apply_edit(self, path: Path, old_text: str, new_text: str, label: str) -> str | None:
        write = self._files.write
        if write is None:
            return "the editor cannot take edits from the agent (no fs/write_text_file)"
        try:
            await write(self.session_id, path, new_text)
        except Exception as exc:
            return f"the editor refused the edit ({exc})"
        self._buffers.pop(path, None)
        return None

"""The editor's buffers, as text document sync keeps them, seen by the core.

pygls applies `didOpen`/`didChange`/`didClose` (incremental) to its workspace; this reads
from it. A buffer is unsaved when its text differs from the file on disk: editors do not
all send `didSave`, and a comparison cannot be fooled by a missed notification.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types

from agentls.agent.editor import Buffer
from agentls.tools.files import disk_text

if TYPE_CHECKING:
    from pygls.lsp.server import LanguageServer

logger = logging.getLogger(__name__)


class LspBuffers:
    reads_ahead = False  # text document sync pushes every change

    def __init__(self, server: LanguageServer) -> None:
        self._server = server
        self.apply_edit_supported = False

    def _find(self, path: Path) -> tuple[str, str, int | None] | None:
        try:
            documents = self._server.workspace.text_documents
        except RuntimeError:  # not initialized yet
            return None
        wanted = path.resolve()
        for uri, document in documents.items():
            doc_path = document.path
            if doc_path and Path(doc_path).resolve() == wanted:
                return uri, document.source, document.version
        return None

    def buffer(self, path: Path) -> Buffer | None:
        found = self._find(path)
        if found is None:
            return None
        uri, text, version = found
        return Buffer(
            path=path,
            uri=uri,
            text=text,
            version=version,
            unsaved=disk_text(path) != text,
        )

    async def read_ahead(self, paths: list[Path]) -> None:
        """Nothing to fetch: text document sync keeps every open buffer here already."""
        return None

    def can_apply_edits(self) -> bool:
        return self.apply_edit_supported

    async def apply_edit(self, path: Path, old_text: str, new_text: str, label: str) -> str | None:
        """Line edits in one `workspace/applyEdit`: the editor's undo takes them back in one
        step, and the lines the patch does not touch (and the cursor on them) stay put."""
        from agentls.tools.patch import line_edits

        found = self._find(path)
        if found is None:
            return "the file is no longer open in the editor"
        uri, current, version = found
        if current != old_text:
            return "the buffer changed while the patch was being prepared; try again"

        def position(raw: dict[str, int]) -> types.Position:
            return types.Position(line=raw["line"], character=raw["character"])

        edits = [
            types.TextEdit(
                range=types.Range(
                    start=position(edit["range"]["start"]), end=position(edit["range"]["end"])
                ),
                new_text=edit["newText"],
            )
            for edit in line_edits(old_text, new_text)
        ]
        edit = types.WorkspaceEdit(
            document_changes=[
                types.TextDocumentEdit(
                    text_document=types.OptionalVersionedTextDocumentIdentifier(
                        uri=uri, version=version
                    ),
                    edits=list(edits),
                )
            ]
        )
        try:
            result = await self._server.workspace_apply_edit_async(
                types.ApplyWorkspaceEditParams(edit=edit, label=label)
            )
        except Exception as exc:
            logger.warning("workspace/applyEdit failed: %s", exc)
            return f"the editor refused the edit: {exc}"
        if not result.applied:
            return (
                f"the editor did not apply the edit: {result.failure_reason or 'no reason given'}"
            )
        return None

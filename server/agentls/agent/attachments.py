"""Editor attachments (a file, a selection) turned into parts of the user's message.

The user points the model at code from the editor; the model sees where the text comes from
(workspace-relative path, line range, whether it is the editor's unsaved buffer) and the text
itself, fenced. Sizes are capped per attachment and in total with a visible mark, so one huge
file cannot crowd out the conversation and the model knows it did not see everything.

A URI is the client's to choose, so a file not open in the editor is read by the guarded
reader (regular files only, ``/proc`` never, at most ``MAX_ATTACHED_FILE_BYTES``) in a worker
thread: ``file:///dev/urandom`` or a FIFO gets a part saying why it was not read.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeAlias
from urllib.parse import unquote, urlparse

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agentls.agent.editor import EditorBuffers
from agentls.tools.files import (
    READ_TIMEOUT_S,
    UnreadableFileError,
    check_path,
    plain_or_missing,
    read_file,
)

__all__ = [
    "MAX_ATTACHED_FILE_BYTES",
    "MAX_ATTACHMENT_BYTES",
    "MAX_TOTAL_BYTES",
    "Attachment",
    "AttachmentError",
    "Position",
    "Range",
    "ReadAttachment",
    "Source",
    "parse_attachments",
    "read_from_disk",
    "read_sources",
    "render_attachments",
    "uri_to_path",
]

MAX_ATTACHMENT_BYTES = 64 * 1024
MAX_TOTAL_BYTES = 256 * 1024
MAX_ATTACHED_FILE_BYTES = 8 << 20  # read from disk; a selection may lie deep in the file

# (text, from the editor), or why it could not be read (None: no reason known)
Source: TypeAlias = "tuple[str, bool] | str | None"
ReadAttachment: TypeAlias = Callable[[str], Source]

_LANGUAGES = {
    ".py": "python",
    ".ts": "typescript",
    ".tsx": "tsx",
    ".js": "javascript",
    ".jsx": "jsx",
    ".rs": "rust",
    ".go": "go",
    ".java": "java",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".hpp": "cpp",
    ".cs": "csharp",
    ".rb": "ruby",
    ".sh": "bash",
    ".md": "markdown",
    ".json": "json",
    ".toml": "toml",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".html": "html",
    ".css": "css",
    ".sql": "sql",
    ".lua": "lua",
}


class AttachmentError(ValueError):
    """``context`` in ``agent/send`` is malformed; the message says which item and why."""


class Position(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    line: int = Field(ge=0)
    character: int = Field(ge=0)


class Range(BaseModel):
    """An LSP range: 0-based lines and characters, the end exclusive."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    start: Position
    end: Position


class Attachment(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    uri: str = Field(min_length=1)
    range: Range | None = None
    text: str | None = None


def parse_attachments(raw: Any) -> list[Attachment]:
    """``agent/send``'s ``context`` (absent, or a list of ``{uri, range?, text?}``)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise AttachmentError("context must be a list of {uri, range?, text?}")
    attachments: list[Attachment] = []
    for index, item in enumerate(raw):
        try:
            attachments.append(Attachment.model_validate(item))
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise AttachmentError(f"context[{index}].{where}: {first['msg']}") from None
    return attachments


def uri_to_path(uri: str) -> Path | None:
    """The local path of a ``file:`` URI, else ``None``."""
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return None
    return Path(unquote(parsed.path))


def read_from_disk(path: Path) -> tuple[str, bool] | str:
    """The file's text through the guarded reader, or why it was not read."""
    try:
        got = read_file(path, limit=MAX_ATTACHED_FILE_BYTES)
    except UnreadableFileError as error:
        return error.reason
    if got.truncated:
        return f"it is larger than {MAX_ATTACHED_FILE_BYTES >> 20} MiB"
    try:
        return got.data.decode("utf-8"), False
    except UnicodeDecodeError:
        return "it is not UTF-8 text"


async def read_sources(
    attachments: Sequence[Attachment],
    editor: EditorBuffers,
    *,
    timeout_s: float = READ_TIMEOUT_S,
) -> dict[str, tuple[str, bool] | str]:
    """What each attachment without the client's text shows, by URI: the editor's buffer when
    the file is open there (asked here, on the loop, where the buffers live), else the disk,
    read in a worker thread and given up after ``timeout_s``."""
    sources: dict[str, tuple[str, bool] | str] = {}
    on_disk: list[tuple[str, Path]] = []
    for attachment in attachments:
        uri = attachment.uri
        if attachment.text is not None or uri in sources:
            continue
        path = uri_to_path(uri)
        if path is None:
            sources[uri] = "only file: URIs can be read"
            continue
        try:
            check_path(path)
        except UnreadableFileError as error:
            sources[uri] = error.reason
            continue
        # a device or a FIFO is not asked of the editor, whose own disk reads are not guarded
        buffer = editor.buffer(path) if plain_or_missing(path) else None
        if buffer is not None:
            sources[uri] = (buffer.text, buffer.unsaved)
            continue
        sources[uri] = "reading it took too long"  # until the thread says otherwise
        on_disk.append((uri, path))
    if on_disk:

        def read_all() -> None:
            for uri, path in on_disk:
                sources[uri] = read_from_disk(path)

        # on a timeout what was read is kept; the rest says it took too long
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.to_thread(read_all), timeout_s)
    return dict(sources)


def _display_name(uri: str, workspace: Path | None) -> str:
    path = uri_to_path(uri)
    if path is None:
        return uri
    if workspace is not None:
        relative = os.path.relpath(path, workspace)
        if not relative.startswith(".."):
            return Path(relative).as_posix()
    return str(path)


def _selected_lines(text: str, selection: Range | None) -> tuple[list[str], int, str | None]:
    """The lines to show, the 1-based number of the first, and a note when out of range."""
    lines = text.replace("\r\n", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if selection is None:
        return lines, 1, None
    first = selection.start.line
    last = selection.end.line
    # A selection ending at the start of a line does not include that line.
    if selection.end.character == 0 and last > first:
        last -= 1
    if first >= len(lines):
        return (
            [],
            first + 1,
            (f"lines {first + 1}-{last + 1} are past the end of the file ({len(lines)} lines)"),
        )
    return lines[first : last + 1], first + 1, None


def _fence(text: str) -> str:
    longest = run = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    return "`" * max(3, longest + 1)


def _cap(lines: list[str], budget: int) -> tuple[list[str], int]:
    """As many whole lines as fit in ``budget`` UTF-8 bytes, and how many were left out."""
    used = 0
    for index, line in enumerate(lines):
        used += len(line.encode("utf-8")) + 1
        if used > budget:
            return lines[:index], len(lines) - index
    return lines, 0


def render_attachments(
    attachments: Sequence[Attachment],
    read: ReadAttachment,
    *,
    workspace: Path | None = None,
    max_attachment_bytes: int = MAX_ATTACHMENT_BYTES,
    max_total_bytes: int = MAX_TOTAL_BYTES,
) -> list[dict[str, Any]]:
    """Responses API ``input_text`` parts, one per attachment, in order.

    ``read(uri)`` returns ``(text, from_editor)`` (the editor's buffer when the file is open,
    else the disk), or why it cannot be read (``None`` when it does not say). Text the client
    sent with the attachment wins over reading and counts as the editor's.
    """
    parts: list[dict[str, Any]] = []
    remaining = max_total_bytes
    for attachment in attachments:
        name = _display_name(attachment.uri, workspace)
        if attachment.text is not None:
            source: Source = (attachment.text, True)
            given = True
        else:
            source = read(attachment.uri)
            given = False
        if not isinstance(source, tuple):
            why = source or "missing, or not text"
            parts.append(_part(f"Attached file {name}: it could not be read ({why})."))
            continue
        text, from_editor = source
        if given:
            # The client's text is the selection itself: its lines start at the range.
            lines, first, note = _selected_lines(text, None)
            if attachment.range is not None:
                first = attachment.range.start.line + 1
        else:
            lines, first, note = _selected_lines(text, attachment.range)
        shown, omitted = _cap(lines, min(max_attachment_bytes, remaining))
        remaining -= sum(len(line.encode("utf-8")) + 1 for line in shown)
        parts.append(
            _part(_render(name, attachment, lines, shown, omitted, first, from_editor, note))
        )
    return parts


def _render(
    name: str,
    attachment: Attachment,
    lines: list[str],
    shown: list[str],
    omitted: int,
    first: int,
    from_editor: bool,
    note: str | None,
) -> str:
    what = "selection in" if attachment.range is not None else "file"
    header = f"Attached {what} {name}"
    if attachment.range is not None and lines:
        header += f", lines {first}-{first + len(lines) - 1}"
    header += (
        " (from the editor's buffer, which may have unsaved changes):"
        if from_editor
        else " (from disk):"
    )
    if note is not None:
        return f"{header}\n[{note}]"
    body = "\n".join(shown)
    fence = _fence(body)
    language = _LANGUAGES.get(Path(name).suffix.lower(), "")
    text = (
        f"{header}\n{fence}{language}\n{body}\n{fence}" if shown else f"{header}\n{fence}\n{fence}"
    )
    if omitted:
        text += f"\n[truncated: {omitted} more lines]"
    return text


def _part(text: str) -> dict[str, Any]:
    return {"type": "input_text", "text": text}

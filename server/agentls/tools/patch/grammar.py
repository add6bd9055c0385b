"""The Codex CLI's patch language: text in, a list of file operations out.

The language is the one OpenAI's coding models are trained on (``*** Begin Patch`` ...
``*** End Patch``). Parsing is as lenient as the Codex CLI's: surrounding whitespace, padded
markers and a heredoc wrapper (``<<'EOF'`` ... ``EOF``) are accepted, and an update's first hunk
may omit its ``@@`` line. Errors name the patch line and what was expected there, because the
model reads them and has to write a better patch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = [
    "AddFile",
    "Chunk",
    "DeleteFile",
    "FileOp",
    "Patch",
    "PatchError",
    "UpdateFile",
    "parse_patch",
]

BEGIN = "*** Begin Patch"
END = "*** End Patch"
ADD = "*** Add File: "
DELETE = "*** Delete File: "
UPDATE = "*** Update File: "
MOVE = "*** Move to: "
EOF_MARK = "*** End of File"

_UNIFIED_RANGES = re.compile(r"^-\d+(?:,\d+)? \+\d+(?:,\d+)? @@(.*)$")
_HEREDOC_OPEN = re.compile(r"^(?:apply_patch\s+)?<<-?\s*(['\"]?)(\w+)\1$")


class PatchError(Exception):
    """The patch text is not valid; the message says where and what was expected."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.line = line
        self.message = message
        super().__init__(f"line {line}: {message}" if line is not None else message)


@dataclass(frozen=True, slots=True)
class Chunk:
    """One ``@@`` hunk: lines to find (context and ``-``) and what replaces them.

    ``anchors`` are the texts after ``@@ `` (e.g. ``def foo():``): lines found in order before
    the hunk's own lines are searched for, to tell repeated code apart.
    """

    anchors: tuple[str, ...]
    ops: tuple[tuple[str, str], ...]
    """(mark, text) per hunk line; mark is ' ' (context), '-' or '+'."""
    end_of_file: bool
    line: int

    @property
    def old_lines(self) -> tuple[str, ...]:
        """The lines to find: context and removed lines."""
        return tuple(text for mark, text in self.ops if mark != "+")

    @property
    def new_lines(self) -> tuple[str, ...]:
        return tuple(text for mark, text in self.ops if mark != "-")


@dataclass(frozen=True, slots=True)
class AddFile:
    path: str
    contents: str
    line: int


@dataclass(frozen=True, slots=True)
class DeleteFile:
    path: str
    line: int


@dataclass(frozen=True, slots=True)
class UpdateFile:
    path: str
    move_path: str | None
    chunks: tuple[Chunk, ...]
    line: int


FileOp = AddFile | DeleteFile | UpdateFile


@dataclass(frozen=True, slots=True)
class Patch:
    ops: tuple[FileOp, ...]
    text: str = field(repr=False)


def _split_lines(text: str) -> list[str]:
    # Like Rust's str::lines(), which the Codex CLI uses: "\n" separates, one "\r" before it
    # belongs to the break.
    lines = text.split("\n")
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _unwrap(lines: list[str]) -> tuple[list[str], int]:
    """Strip a heredoc wrapper; returns the lines and how many were dropped in front."""
    if len(lines) >= 4:
        opened = _HEREDOC_OPEN.match(lines[0].strip())
        if opened and lines[-1].strip() == opened.group(2) and lines[1].strip() == BEGIN:
            return lines[1:-1], 1
    return lines, 0


def parse_patch(text: str) -> Patch:
    """Parse patch text; raises :class:`PatchError` naming the line and the expectation."""
    stripped = text.strip()
    # Line numbers in messages count from the first non-blank line the model wrote.
    lines, offset = _unwrap(_split_lines(stripped))
    if not lines or lines[0].strip() != BEGIN:
        first = lines[0].strip() if lines and lines[0].strip() else "(empty input)"
        raise PatchError(
            f"the first line of the patch must be '{BEGIN}', got '{_clip(first)}'", 1 + offset
        )
    if len(lines) < 2 or lines[-1].strip() != END:
        raise PatchError(f"the last line of the patch must be '{END}'", len(lines) + offset)
    body = lines[1:-1]
    ops: list[FileOp] = []
    i = 0
    while i < len(body):
        number = i + 2 + offset
        raw = body[i]
        header = raw.strip()
        if not header:
            i += 1
            continue
        if header.startswith(ADD):
            path = _path(header[len(ADD) :], number)
            i += 1
            contents: list[str] = []
            while i < len(body):
                if body[i].startswith("+"):
                    contents.append(body[i][1:] + "\n")
                    i += 1
                elif not body[i].strip() and _more_added_lines(body, i):
                    # A blank line written without its '+' inside a new file's lines.
                    contents.append("\n")
                    i += 1
                else:
                    break
            ops.append(AddFile(path, "".join(contents), number))
        elif header.startswith(DELETE):
            ops.append(DeleteFile(_path(header[len(DELETE) :], number), number))
            i += 1
        elif header.startswith(UPDATE):
            path = _path(header[len(UPDATE) :], number)
            i += 1
            move_path: str | None = None
            if i < len(body) and body[i].strip().startswith(MOVE):
                move_path = _path(body[i].strip()[len(MOVE) :], i + 2 + offset)
                i += 1
            chunks, i = _parse_chunks(body, i, offset, path)
            if not chunks and move_path is None:
                raise PatchError(
                    f"'*** Update File: {path}' has no hunks: add '@@' hunks with context, "
                    "'-' and '+' lines after it",
                    number,
                )
            ops.append(UpdateFile(path, move_path, tuple(chunks), number))
        else:
            raise PatchError(
                f"'{_clip(header)}' is not a valid file header; expected '*** Add File: <path>', "
                "'*** Delete File: <path>' or '*** Update File: <path>' (every added line of "
                "an Add File starts with '+')",
                number,
            )
    if not ops:
        raise PatchError(
            "the patch has no file sections: put '*** Add File: <path>', '*** Delete File: "
            "<path>' or '*** Update File: <path>' sections between the Begin and End lines",
            2 + offset,
        )
    return Patch(tuple(ops), text)


def _more_added_lines(body: list[str], i: int) -> bool:
    """Whether blank lines from ``i`` lead to another '+' line (not to a header or the end)."""
    while i < len(body) and not body[i].strip():
        i += 1
    return i < len(body) and body[i].startswith("+")


def _is_file_header(line: str) -> bool:
    # As in the Codex CLI, only an unindented '*' ends a hunk: an indented line is context.
    return line.startswith("*")


def _parse_chunks(body: list[str], i: int, offset: int, path: str) -> tuple[list[Chunk], int]:
    chunks: list[Chunk] = []
    while i < len(body):
        raw = body[i]
        if _is_file_header(raw):
            break
        if not raw.strip():
            # Blank lines between hunks (or before the first) separate, they are not context.
            i += 1
            continue
        start = i
        anchors: list[str] = []
        while i < len(body) and body[i].startswith("@@"):
            text = body[i].strip()[2:].strip()
            # A unified diff's "@@ -12,7 +12,8 @@ def f():" carries no use for us but the
            # text after the ranges, which is an anchor like ours.
            ranges = _UNIFIED_RANGES.match(text)
            if ranges:
                text = ranges.group(1).strip()
            if text:
                anchors.append(text)
            i += 1
        if i == start and chunks:
            raise PatchError(
                f"expected a '@@' line to start the next hunk of {path}, got '{_clip(raw)}'",
                i + 2 + offset,
            )
        ops: list[tuple[str, str]] = []
        consumed: list[str] = []
        end_of_file = False
        while i < len(body):
            line = body[i]
            if line.rstrip() == EOF_MARK:
                end_of_file = True
                i += 1
                break
            if _is_file_header(line) or line.startswith("@@"):
                break
            if line == "":
                ops.append((" ", ""))
            elif line[0] in " +-":
                ops.append((line[0], line[1:]))
            else:
                raise PatchError(
                    f"unexpected line in a hunk of {path}: '{_clip(line)}'; every hunk line "
                    "starts with ' ' (context, the space is kept even on blank lines), '-' "
                    "(removed) or '+' (added), and a new hunk starts with '@@'",
                    i + 2 + offset,
                )
            consumed.append(line)
            i += 1
        # Empty lines closing a hunk (before '@@' or the next header) are taken as separators
        # rather than context: models put them there to space hunks out.
        while consumed and consumed[-1] == "" and not end_of_file:
            consumed.pop()
            ops.pop()
        if not consumed:
            raise PatchError(
                f"a hunk of {path} has no lines: after '@@' give context (' '), removed ('-') "
                "or added ('+') lines",
                start + 2 + offset,
            )
        chunks.append(Chunk(tuple(anchors), tuple(ops), end_of_file, start + 2 + offset))
    return chunks, i


def _path(raw: str, line: int) -> str:
    path = raw.strip()
    if not path:
        raise PatchError("a file header needs a path after the colon", line)
    return path


def _clip(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."

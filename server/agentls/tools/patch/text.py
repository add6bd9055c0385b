"""A file's text as lines that remember their own line endings.

Patches talk about line contents only; the file on disk has CRLF or LF endings and may lack a
final newline. Keeping each line's ending next to its content lets an edit touch only the lines
it changes, so a CRLF file stays CRLF and an unchanged line keeps its exact bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

__all__ = ["FileText", "Replacement", "dominant_eol"]

_BOM = "\ufeff"


class Replacement(NamedTuple):
    """``size`` lines from ``start`` become ``lines``.

    ``origins[i]`` is the index of the old line that ``lines[i]`` keeps (a context line), whose
    ending then stays as it was; ``None`` marks a new line.
    """

    start: int
    size: int
    lines: list[str]
    origins: list[int | None]


def dominant_eol(text: str) -> str:
    """The ending new lines get: CRLF when most of the file's line breaks are CRLF."""
    crlf = text.count("\r\n")
    lf_only = text.count("\n") - crlf
    return "\r\n" if crlf > lf_only else "\n"


@dataclass(frozen=True, slots=True)
class FileText:
    """Line contents, each line's ending, and the ending new lines should get."""

    lines: tuple[str, ...]
    endings: tuple[str, ...]
    eol: str
    bom: bool = False
    """A UTF-8 byte order mark before the first line: kept, but not part of its text."""

    @classmethod
    def parse(cls, text: str) -> FileText:
        bom = text.startswith(_BOM)
        if bom:
            text = text[1:]
        eol = dominant_eol(text)
        crlf = text.count("\r\n")
        if "\r" not in text or crlf == text.count("\n") == text.count("\r"):
            # One ending throughout (the usual case): split at C speed.
            uniform = "\r\n" if crlf else "\n"
            lines = text.split(uniform)
            last = lines.pop()
            endings = [uniform] * len(lines)
            if last:
                lines.append(last)
                endings.append("")
            return cls(tuple(lines), tuple(endings), eol, bom)
        lines = text.split("\n")
        endings = ["\n"] * len(lines)
        # The piece after the last "\n" is either empty (the file ends with a newline) or a
        # last line without one.
        last = lines.pop()
        endings.pop()
        if last:
            lines.append(last)
            endings.append("")
        for i, line in enumerate(lines):
            if endings[i] == "\n" and line.endswith("\r"):
                lines[i] = line[:-1]
                endings[i] = "\r\n"
        return cls(tuple(lines), tuple(endings), eol, bom)

    @property
    def ends_with_newline(self) -> bool:
        """An empty file counts as ending with one: text added to it gets normal endings."""
        return not self.endings or self.endings[-1] != ""

    def render(self) -> str:
        endings = self.endings
        same = endings.count(endings[0]) if endings else 0
        if (
            endings
            and endings[0]
            and (same == len(endings) or (same == len(endings) - 1 and endings[-1] != endings[0]))
        ):
            # Every line but perhaps the last ends the same way.
            body = endings[0].join(self.lines) + endings[-1]
        else:
            body = "".join(line + end for line, end in zip(self.lines, endings, strict=True))
        return _BOM + body if self.bom else body

    def replaced(self, replacements: list[Replacement]) -> FileText:
        """Apply replacements, given in ascending order.

        Kept lines keep their endings; new lines get the file's dominant ending, and the last
        line ends with a newline exactly when the old file's last line did.
        """
        lines: list[str] = []
        endings: list[str] = []
        cursor = 0
        for start, count, new_lines, origins in replacements:
            lines.extend(self.lines[cursor:start])
            endings.extend(self.endings[cursor:start])
            lines.extend(new_lines)
            endings.extend(
                self.eol if origin is None else self.endings[origin] for origin in origins
            )
            cursor = start + count
        lines.extend(self.lines[cursor:])
        endings.extend(self.endings[cursor:])
        # Only the old last line can lack an ending; inside the file it needs one.
        if "" in endings[:-1]:
            for i in range(len(endings) - 1):
                if endings[i] == "":
                    endings[i] = self.eol
        if endings:
            if self.ends_with_newline:
                if endings[-1] == "":
                    endings[-1] = self.eol
            elif lines[-1] == "":
                # An empty last line without a newline would be no bytes at all, and the
                # line would vanish: it keeps its newline.
                endings[-1] = self.eol
            else:
                endings[-1] = ""
        return FileText(tuple(lines), tuple(endings), self.eol, self.bom)

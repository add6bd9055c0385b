"""What one shell word becomes after bash's quoting rules, or ``None`` if we cannot tell.

tree-sitter-bash tells us where a word starts and ends and what kind of quoting each piece
uses; the value itself is decoded here, from the source text, by bash's rules. Wherever the
grammar and our reading could disagree (an unexpected character, an escape we do not know,
pieces that are not adjacent) the word is refused rather than guessed, because a misread
word is exactly how a harmless-looking script hides a second command.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tree_sitter import Node

__all__ = [
    "BASH",
    "DYNAMIC",
    "SH",
    "VARIABLES",
    "ZSH",
    "Dialect",
    "Word",
    "decode_word",
    "literal_word",
]

# Variables an argument may expand: set by the user's environment, never by the model (the
# script cannot assign them: assignments are refused), and harmless to print or use as a
# path prefix.
VARIABLES = frozenset({"HOME", "PWD", "USER", "LOGNAME", "SHELL", "TERM", "LANG", "TMPDIR"})

# Stands in the decoded text for the part a variable or tilde expansion produces.
DYNAMIC = "\x00"

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Characters that can never appear unescaped inside an unquoted word node: if tree-sitter
# put one there, it reads the script differently from bash.
_UNEXPECTED = frozenset("$`\"'()<>|&; \t\n\r")


@dataclass(frozen=True)
class Dialect:
    """Which shell will read the script: the grammar is bash's, the others get less."""

    ansi_c: bool
    """Whether ``$'...'`` is a quoted string (bash, zsh) rather than ``$`` and a raw string
    (dash, the usual ``/bin/sh``)."""
    expansions: bool
    """Whether globs, tildes and variables are read the way bash reads them."""


BASH = Dialect(ansi_c=True, expansions=True)
# dash (Debian's sh) has no $'...': it reads `$` and then a raw string, so a script we
# decoded as one word could be several commands to it.
SH = Dialect(ansi_c=False, expansions=True)
# zsh's globs and expansions differ from bash's (glob qualifiers run code): literal words only.
ZSH = Dialect(ansi_c=True, expansions=False)


@dataclass(frozen=True)
class Word:
    text: str
    """The value, with :data:`DYNAMIC` where a variable or ``~`` expands."""
    pattern: str | None
    """The value as a :mod:`glob` pattern when unquoted ``*``/``?`` make it one."""

    @property
    def literal(self) -> bool:
        """Whether the program receives exactly :attr:`text`."""
        return self.pattern is None and DYNAMIC not in self.text


class _RefusedError(Exception):
    pass


class _Builder:
    def __init__(self) -> None:
        self.text: list[str] = []
        self.pattern: list[str] = []
        self.glob = False

    def literal(self, chars: str) -> None:
        self.text.append(chars)
        # Quoted glob characters must match themselves.
        self.pattern.append(re.sub(r"([*?\[])", r"[\1]", chars))

    def wildcard(self, char: str) -> None:
        self.text.append(char)
        self.pattern.append(char)
        self.glob = True

    def dynamic(self) -> None:
        self.text.append(DYNAMIC)
        self.pattern.append(DYNAMIC)


def _unquoted(text: str, out: _Builder, at_start: bool, dialect: Dialect) -> None:
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\":
            if i + 1 >= len(text) or text[i + 1] == "\n":
                raise _RefusedError("line continuation inside a word")
            out.literal(text[i + 1])
            i += 2
            continue
        if char in _UNEXPECTED or char in "[]{}":
            # Brackets and braces: character classes and brace expansion, not worth following.
            raise _RefusedError(char)
        if char in "*?":
            if not dialect.expansions:
                raise _RefusedError("glob outside bash")
            out.wildcard(char)
        elif char == "~":
            if not dialect.expansions:
                raise _RefusedError("tilde outside bash")
            # `~` and `~/x` are $HOME; `~user`, `~+`, `~-` are not worth following. A tilde
            # anywhere else is literal, but refusing it costs little.
            if not (at_start and i == 0 and (len(text) == 1 or text[1] == "/")):
                raise _RefusedError("tilde")
            out.dynamic()
        else:
            out.literal(char)
        i += 1


_DOUBLE_QUOTE_ESCAPES = frozenset('$`"\\')


def _double_quoted(text: str, out: _Builder, dialect: Dialect) -> None:
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        raise _RefusedError("string")
    body = text[1:-1]
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            following = body[i + 1]
            if following == "\n":
                i += 2
                continue
            if following in _DOUBLE_QUOTE_ESCAPES:
                out.literal(following)
                i += 2
                continue
            out.literal("\\")
            i += 1
            continue
        if char == "\\":
            raise _RefusedError("trailing backslash in a string")
        if char == "`" or char == '"':
            raise _RefusedError("backtick or bare quote in a string")
        if char == "$":
            i = _variable(body, i, out, dialect)
            continue
        out.literal(char)
        i += 1


def _variable(text: str, at: int, out: _Builder, dialect: Dialect) -> int:
    """Reads ``$NAME`` or ``${NAME}`` at ``at``; anything else after ``$`` is refused."""
    if not dialect.expansions:
        raise _RefusedError("expansion outside bash")
    braced = text.startswith("${", at)
    match = _NAME.match(text, at + (2 if braced else 1))
    if match is None or match.group() not in VARIABLES:
        raise _RefusedError("expansion")
    end = match.end()
    if braced:
        if not text.startswith("}", end):
            raise _RefusedError("parameter expansion with an operator")
        end += 1
    out.dynamic()
    return end


_SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "e": "\x1b",
    "E": "\x1b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "?": "?",
}
_OCTAL = re.compile(r"[0-7]{1,3}")
_HEX = {"x": 2, "u": 4, "U": 8}


def _ansi_c(text: str, out: _Builder) -> None:
    """Decodes ``$'...'`` as bash does; the node must end exactly at the closing quote."""
    if not text.startswith("$'"):
        raise _RefusedError("ansi-c string")
    i = 2
    while i < len(text):
        char = text[i]
        if char == "'":
            if i != len(text) - 1:
                raise _RefusedError("ansi-c string ends early")
            return
        if char != "\\":
            out.literal(char)
            i += 1
            continue
        if i + 1 >= len(text):
            break
        code = text[i + 1]
        if code in _SIMPLE_ESCAPES:
            out.literal(_SIMPLE_ESCAPES[code])
            i += 2
        elif code in _HEX:
            digits = re.match(f"[0-9A-Fa-f]{{1,{_HEX[code]}}}", text[i + 2 :])
            if digits is None:
                raise _RefusedError("escape without digits")
            value = int(digits.group(), 16)
            if value == 0:
                raise _RefusedError("NUL escape")  # bash ends the word there
            if value >= 0x80:
                # bash writes \x as a raw byte, and \u/\U as the character only when the
                # locale can encode it: ASCII is the part every reading agrees on.
                raise _RefusedError("non-ASCII escape")
            out.literal(chr(value))
            i += 2 + len(digits.group())
        elif (octal := _OCTAL.match(text, i + 1)) is not None:
            value = int(octal.group(), 8)
            if value == 0 or value >= 0x80:
                raise _RefusedError("NUL or non-ASCII escape")
            out.literal(chr(value))
            i = octal.end()
        else:
            # `\c` (control characters) and anything bash keeps as written: not worth it.
            raise _RefusedError("unusual escape")
    raise _RefusedError("unterminated ansi-c string")


def _piece(node: Node, out: _Builder, at_start: bool, dialect: Dialect) -> None:
    text = (node.text or b"").decode("utf-8", "surrogateescape")
    kind = node.type
    if kind in ("word", "number"):
        _unquoted(text, out, at_start, dialect)
    elif kind == "raw_string":
        if len(text) < 2 or text[0] != "'" or text[-1] != "'" or "'" in text[1:-1]:
            raise _RefusedError("raw string")
        out.literal(text[1:-1])
    elif kind == "string":
        allowed = {'"', "string_content", "simple_expansion", "expansion"}
        if any(child.type not in allowed for child in node.children):
            raise _RefusedError("string with a substitution")
        _double_quoted(text, out, dialect)
    elif kind == "ansi_c_string":
        if not dialect.ansi_c:
            raise _RefusedError("$'...' means something else to this shell")
        _ansi_c(text, out)
    elif kind in ("simple_expansion", "expansion"):
        if [child.type for child in node.children if child.type != "variable_name"] not in (
            ["$"],
            ["${", "}"],
        ):
            raise _RefusedError("expansion")
        end = _variable(text, 0, out, dialect)
        if end != len(text):
            raise _RefusedError("expansion")
    else:
        raise _RefusedError(kind)


def decode_word(node: Node, dialect: Dialect) -> Word | None:
    """The value of an argument node, or ``None`` for anything not positively understood."""
    out = _Builder()
    try:
        if node.type == "concatenation":
            children = node.children
            for before, after in itertools.pairwise(children):
                if before.end_byte != after.start_byte:
                    raise _RefusedError("gap inside a word")
            for index, child in enumerate(children):
                _piece(child, out, index == 0, dialect)
        else:
            _piece(node, out, True, dialect)
    except _RefusedError:
        return None
    text = "".join(out.text)
    return Word(text, "".join(out.pattern) if out.glob else None)


def literal_word(text: str) -> Word:
    """An argument passed without a shell: the program sees exactly this."""
    return Word(text, None)

"""Keystrokes of the chat's terminal, read by the chat itself.

The terminal is put in a mode with no echo, no line buffering and no signal keys: Ctrl-C
arrives as a key, not as SIGINT to the whole foreground process group, so it stops the turn
without reaching `make` or a wrapping shell, and what is typed during a turn is never echoed
into the answer. The line editor below is the small part of readline a chat box needs.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import sys
import termios
from collections.abc import Iterator
from dataclasses import dataclass

CTRL_C = "\x03"
CTRL_D = "\x04"
CTRL_U = "\x15"
CTRL_W = "\x17"
BACKSPACES = ("\x7f", "\x08")
ENTER = ("\r", "\n")
# Bracketed paste: the terminal wraps pasted text in these, so a pasted paragraph is one
# message instead of one turn per line.
PASTE_ON, PASTE_OFF = "\x1b[?2004h", "\x1b[?2004l"
PASTE_START, PASTE_END = "\x1b[200~", "\x1b[201~"


@contextlib.contextmanager
def keystroke_mode(fd: int) -> Iterator[None]:
    """No echo, no canonical lines, no signal keys; output processing stays (\\n is CRLF)."""
    saved = termios.tcgetattr(fd)
    mode = termios.tcgetattr(fd)
    mode[3] &= ~(termios.ECHO | termios.ICANON | termios.ISIG | termios.IEXTEN)
    mode[0] &= ~(termios.IXON | termios.ICRNL)
    mode[6][termios.VMIN] = 1
    mode[6][termios.VTIME] = 0
    termios.tcsetattr(fd, termios.TCSADRAIN, mode)
    _tell_terminal(PASTE_ON)
    try:
        yield
    finally:
        _tell_terminal(PASTE_OFF)
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _tell_terminal(sequence: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
        os.write(sys.stdout.fileno(), sequence.encode())


def one_line(text: str) -> str:
    """A (pasted) multi-line buffer as the one line the prompt shows."""
    return text.replace("\n", " ↵ ")


@dataclass(frozen=True)
class Key:
    """What one keystroke meant: a submitted line, an interrupt, end of input, or an edit."""

    kind: str  # "line" | "interrupt" | "eof" | "edit" | "char" | "terminate"
    text: str = ""


class LineEditor:
    """Turns raw terminal bytes into edits of one line and the keys the chat acts on."""

    def __init__(self) -> None:
        self.buffer = ""
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._escape = ""
        self._pasting = False  # inside a bracketed paste: newlines are text, not Enter

    def feed(self, data: bytes) -> list[Key]:
        keys: list[Key] = []
        for char in self._decoder.decode(data):
            key = self._char(char)
            if key is not None:
                keys.append(key)
        return keys

    def _char(self, char: str) -> Key | None:
        if self._escape:
            # an escape sequence (arrows, function keys): ESC [ ... final byte, or ESC + one
            self._escape += char
            introducer = len(self._escape) == 2 and char in "[O"
            if not introducer and (len(self._escape) == 2 or "@" <= char <= "~"):
                if self._escape in (PASTE_START, PASTE_END):
                    self._pasting = self._escape == PASTE_START
                self._escape = ""
            return None
        if char == "\x1b":
            self._escape = char
            return None
        if char == CTRL_C:
            return Key("interrupt")
        if char == CTRL_D:
            if not self.buffer:
                return Key("eof")
            return None
        if char in ENTER and self._pasting:
            self.buffer += "\n"
            return Key("char", "\n")
        if char in ENTER:
            line, self.buffer = self.buffer, ""
            return Key("line", line)
        if char in BACKSPACES:
            self.buffer = self.buffer[:-1]
            return Key("edit")
        if char == CTRL_U:
            self.buffer = ""
            return Key("edit")
        if char == CTRL_W:
            self.buffer = self.buffer.rstrip()
            cut = self.buffer.rfind(" ")
            self.buffer = self.buffer[: cut + 1] if cut >= 0 else ""
            return Key("edit")
        if char == "\t":
            char = " "
        if char < " ":
            return None
        self.buffer += char
        return Key("char", char)


def read_available(fd: int) -> bytes | None:
    """What the terminal has for us now (called when the fd is readable): b"" at the end of
    the input, None when a wake-up found nothing to read (which is not the end)."""
    try:
        return os.read(fd, 4096)
    except (BlockingIOError, InterruptedError):
        return None

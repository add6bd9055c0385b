"""Bounded-memory capture of a command's output.

A tool command may print gigabytes (``seq 1 100000000``, a runaway log); the model only
needs the beginning (what the command was doing) and the end (how it finished), and the
server must not grow without bound while the editor streams the full text anyway.
"""

from __future__ import annotations

import codecs

__all__ = ["DEFAULT_HEAD_BYTES", "DEFAULT_TAIL_BYTES", "OutputBuffer"]

DEFAULT_HEAD_BYTES = 8 * 1024
DEFAULT_TAIL_BYTES = 8 * 1024

# Surrogates can only come from callers that built strings by hand; passing them through
# keeps byte counts exact instead of raising in the middle of a command.
_ERRORS = "surrogatepass"


def _is_continuation(byte: int) -> bool:
    return byte & 0xC0 == 0x80


class OutputBuffer:
    """Keeps the first ``head_bytes`` and the last ``tail_bytes`` (UTF-8) of streamed text.

    Bytes rather than characters are the unit because the limit exists to bound memory and
    the size of what is sent back to the model, both of which are measured in bytes.
    """

    def __init__(
        self, head_bytes: int = DEFAULT_HEAD_BYTES, tail_bytes: int = DEFAULT_TAIL_BYTES
    ) -> None:
        if head_bytes < 0 or tail_bytes < 0:
            raise ValueError("head_bytes and tail_bytes must not be negative")
        self._head_limit = head_bytes
        self._tail_limit = tail_bytes
        self._head = bytearray()
        # Only bytes that did not fit in the head go here, so head + tail never overlap and
        # "nothing was omitted" is simply total == len(head) + len(tail).
        self._tail = bytearray()
        self._total = 0

    @property
    def total_bytes(self) -> int:
        return self._total

    @property
    def truncated(self) -> bool:
        return self._total > len(self._head) + len(self._tail)

    def append(self, chunk: str) -> None:
        if not chunk:
            return
        data = memoryview(chunk.encode("utf-8", _ERRORS))
        self._total += len(data)
        room = self._head_limit - len(self._head)
        if room > 0:
            self._head += data[:room]
            data = data[room:]
        if not data or self._tail_limit == 0:
            return
        if len(data) >= self._tail_limit:
            self._tail = bytearray(data[len(data) - self._tail_limit :])
            return
        self._tail += data
        excess = len(self._tail) - self._tail_limit
        if excess > 0:
            del self._tail[:excess]

    def text(self) -> str:
        if not self.truncated:
            return (bytes(self._head) + bytes(self._tail)).decode("utf-8", _ERRORS)
        head = self._head_text()
        tail = self._tail_text()
        omitted = (
            self._total - len(head.encode("utf-8", _ERRORS)) - len(tail.encode("utf-8", _ERRORS))
        )
        return f"{head}\n[... {omitted} bytes omitted ...]\n{tail}"

    def _head_text(self) -> str:
        # A non-final incremental decode stops before a character cut by the byte limit.
        decoder = codecs.getincrementaldecoder("utf-8")(_ERRORS)
        text: str = decoder.decode(bytes(self._head), final=False)
        newline = text.rfind("\n")
        if newline >= 0 and len(text) - newline <= _near(self._head_limit):
            # The marker supplies the line break, so the newline itself is left out.
            text = text[:newline]
        return text

    def _tail_text(self) -> str:
        start = 0
        while start < len(self._tail) and start < 4 and _is_continuation(self._tail[start]):
            start += 1
        text = bytes(self._tail[start:]).decode("utf-8", _ERRORS)
        newline = text.find("\n")
        if 0 <= newline < _near(self._tail_limit):
            text = text[newline + 1 :]
        return text


def _near(limit: int) -> int:
    """How far from a cut a line break may be and still be preferred over the exact cut.

    A quarter of the window keeps most of the kept text while making the usual case (short
    lines) start and end on whole lines, which is far easier for the model to read.
    """
    return max(limit // 4, 1)

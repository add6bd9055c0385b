"""Secrets out of streamed output, even when a secret arrives in pieces.

Each event is redacted on its own (`AgentContext.redact_fields`), which misses a key that a
command prints in two chunks, or a character at a time. A `StreamRedactor` keeps back the
end of what a stream has sent so far when it could be the start of a secret, until the next
chunk shows whether it is: what leaves never holds a secret, whole or split, and nothing is
lost (what was kept back goes out with the next chunk, or at the end of the stream).
"""

from __future__ import annotations

from collections.abc import Callable

REDACTED = "[redacted]"


def _held_back(text: str, secrets: list[str]) -> int:
    """How many characters at the end of `text` could begin a secret."""
    longest = 0
    for secret in secrets:
        start = max(0, len(text) - len(secret) + 1)
        first = secret[0]
        position = text.find(first, start)
        while position != -1:
            if secret.startswith(text[position:]):
                longest = max(longest, len(text) - position)
                break  # later positions are shorter
            position = text.find(first, position + 1)
    return longest


class StreamRedactor:
    """The chunks of one output stream, with every secret replaced, across chunk borders."""

    def __init__(self, secrets: Callable[[], list[str]]) -> None:
        self._secrets = secrets
        self._held = ""

    def feed(self, chunk: str) -> str:
        """What may be shown of `chunk` now (possibly less than it, never a secret's part)."""
        secrets = self._secrets()
        if not secrets:
            text, self._held = self._held + chunk, ""
            return text
        text = self._held + chunk
        for secret in secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        keep = _held_back(text, secrets)
        self._held = text[len(text) - keep :] if keep else ""
        return text[: len(text) - keep]

    def flush(self) -> str:
        """The end of the stream: what was kept back was not a secret after all."""
        text, self._held = self._held, ""
        return text

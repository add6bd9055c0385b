"""Scripted answers for the fake model API.

Tests describe what the "model" should do with these small values and enqueue them; the server
turns each one into the wire format of whichever endpoint the request hit, so one script works
for both the Responses API and Chat Completions.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

_WORDS = re.compile(r"\S+\s*|\s+")


def split_words(text: str) -> list[str]:
    """Split like a tokenizer would stream: word-sized pieces that keep their trailing spaces.

    Keeping the whitespace means the deltas concatenate back to exactly the original text, which
    is what a client that accumulates deltas must reproduce.
    """
    return _WORDS.findall(text)


def new_id(prefix: str) -> str:
    """Make ids that look like the real service's, so clients that sniff prefixes behave."""
    return f"{prefix}_{secrets.token_hex(12)}"


@dataclass
class TextItem:
    """One assistant message.

    `chunks`, when given, are the exact deltas sent (the message text is their concatenation,
    keeping done-events consistent with the deltas as on the real service); otherwise `text` is
    split into word-sized pieces. `delay_s` is slept before each delta to simulate generation.
    """

    text: str
    delay_s: float = 0.0
    chunks: list[str] | None = None

    def pieces(self) -> list[str]:
        return list(self.chunks) if self.chunks is not None else split_words(self.text)

    def full_text(self) -> str:
        return "".join(self.chunks) if self.chunks is not None else self.text


@dataclass
class CallItem:
    """One function/tool call; a dict `arguments` is JSON-encoded, a str is sent verbatim.

    A str lets tests send malformed JSON arguments, which real models occasionally do.
    """

    name: str
    arguments: dict[str, Any] | str
    call_id: str | None = None

    def __post_init__(self) -> None:
        if self.call_id is None:
            self.call_id = new_id("call")

    def arguments_json(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments)


@dataclass
class Reply:
    """One streamed model response.

    `usage` overrides the word-count based token usage (Responses-style keys `input_tokens`,
    `output_tokens`, `total_tokens`; Chat-style `prompt_tokens`/`completion_tokens` also work).
    `fail_message` makes the stream end in failure after the items, as an overloaded server does.
    """

    items: list[TextItem | CallItem]
    usage: dict[str, Any] | None = None
    fail_message: str | None = None


@dataclass
class HttpError:
    """Answer the next request with an HTTP error in the service's JSON error shape.

    `retry_after` becomes a `Retry-After` header so clients' back-off logic can be exercised.
    """

    status: int
    message: str
    type: str = "invalid_request_error"
    code: str | None = None
    retry_after: float | None = None


@dataclass
class CutStream:
    """Start the normal reply, then drop the connection after `after_events` SSE events.

    The connection is closed without the terminating chunk, so clients see a broken transfer
    rather than a clean end of stream. If the reply has fewer events, the cut happens right
    before the terminal event (`response.completed` / `[DONE]`), which is never sent.
    """

    after_events: int = 3


@dataclass
class Stall:
    """Send headers and the first event, then go silent for `seconds` before continuing.

    Exercises clients' read timeouts: the connection is healthy but no bytes arrive.
    """

    seconds: float


@dataclass
class SlowStart:
    """Wait `seconds` before sending anything at all (not even headers), then reply normally."""

    seconds: float


@dataclass
class Malformed:
    """Start the normal reply, then send an event whose data is not JSON, and hang up."""

    after_events: int = 3
    garbage: bytes = b"event: response.output_text.delta\ndata: {this is not json\n\n"


Scripted = Reply | HttpError | CutStream | Stall | SlowStart | Malformed

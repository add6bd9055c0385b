"""Everything the server sends goes through here, with memory bounded for slow clients.

A client that stops reading while a command floods its output would otherwise make the
server buffer without end. Past `LIVE_DELTA_CAP` bytes waiting to be written, live deltas
(`textDelta`, `toolOutputDelta`, `$/progress` reports) are dropped: the `seq` numbers of
`agent/event` show the gap, and the events that complete a message or a call still carry
the whole text, so nothing recorded is lost. Everything else is always sent.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import orjson

logger = logging.getLogger(__name__)

LIVE_DELTA_CAP = 8 << 20
LIVE_EVENT_TYPES = frozenset({"textDelta", "toolOutputDelta"})


def is_live_delta(message: dict[str, Any]) -> bool:
    method = message.get("method")
    params = message.get("params")
    if not isinstance(params, dict):
        return False
    if method == "agent/event":
        return params.get("type") in LIVE_EVENT_TYPES
    if method == "$/progress":
        value = params.get("value")
        return isinstance(value, dict) and value.get("kind") == "report"
    return False


class Outbox:
    def __init__(
        self,
        write: Callable[[bytes], None],
        buffered: Callable[[], int],
        *,
        framed: bool = True,
        default: Callable[[Any], Any] | None = None,
        cap: int = LIVE_DELTA_CAP,
    ) -> None:
        self._write = write
        self._buffered = buffered
        self._framed = framed
        self._default = default
        self._cap = cap
        self.dropped = 0
        self.closed = False

    def _encode(self, message: Any) -> bytes:
        try:
            return orjson.dumps(message, default=self._default)
        except TypeError:  # text orjson will not encode, such as a lone surrogate
            return json.dumps(message, default=self._default).encode()

    def send(self, message: Any) -> None:
        if self.closed:
            return
        if isinstance(message, dict) and is_live_delta(message) and self._buffered() > self._cap:
            if self.dropped == 0:
                logger.warning("the client is not reading; dropping live deltas until it does")
            self.dropped += 1
            return
        body = self._encode(message)
        data = b"Content-Length: %d\r\n\r\n%s" % (len(body), body) if self._framed else body
        try:
            self._write(data)
        except (ConnectionError, RuntimeError, OSError) as exc:
            logger.warning("could not send to the client: %s", exc)
            self.closed = True

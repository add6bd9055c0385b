"""Everything the server sends goes through here, with memory bounded for slow clients.

A client that stops reading while a command floods its output would otherwise make the
server buffer without end. Past `LIVE_DELTA_CAP` bytes waiting to be written, live deltas
(`textDelta`, `toolOutputDelta`, `$/progress` reports) are dropped: the `seq` numbers of
`agent/event` show the gap, and the events that complete a message or a call still carry
the whole text, so nothing recorded is lost. Everything else is always sent.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

import orjson

from agentls.protocol.events import LIVE_DELTAS

logger = logging.getLogger(__name__)

LIVE_DELTA_CAP = 8 << 20


def is_live_delta(message: dict[str, Any]) -> bool:
    method = message.get("method")
    params = message.get("params")
    if not isinstance(params, dict):
        return False
    if method == "agent/event":
        return params.get("type") in LIVE_DELTAS
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
        # Messages sent in one turn of the event loop go out in one write: a model stream
        # yields several deltas per chunk, and a syscall per message was most of their cost.
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._flush_scheduled = False

    def _encode(self, message: Any) -> bytes:
        try:
            return orjson.dumps(message, default=self._default)
        except TypeError:  # text orjson will not encode, such as a lone surrogate
            return json.dumps(message, default=self._default).encode()

    def backlog(self) -> int:
        """Bytes waiting: in the transport, and gathered for the next write."""
        return self._buffered() + self._pending_bytes

    def send(self, message: Any) -> None:
        if self.closed:
            return
        if isinstance(message, dict) and is_live_delta(message) and self.backlog() > self._cap:
            if self.dropped == 0:
                logger.warning("the client is not reading; dropping live deltas until it does")
            self.dropped += 1
            return
        body = self._encode(message)
        if not self._framed:  # one message per frame (WebSocket): nothing to gather
            self._write_now(body)
            return
        self._pending.append(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        self._pending_bytes += len(body)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            try:
                asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:  # no loop running (tests of the outbox alone)
                self.flush()

    def flush(self) -> None:
        """Write what was gathered; called once per loop turn, and before the end."""
        self._flush_scheduled = False
        if not self._pending:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        self._pending_bytes = 0
        self._write_now(data)

    def _write_now(self, data: bytes) -> None:
        if self.closed:
            return
        try:
            self._write(data)
        except (ConnectionError, RuntimeError, OSError) as exc:
            logger.warning("could not send to the client: %s", exc)
            self.closed = True

"""pygls's writer for one connection: messages gathered per loop turn, memory bounded.

pygls encodes and frames every message (`JsonRPCProtocol._send_data`: the JSON body, and its
`Content-Length` header over stdio and TCP) and hands the bytes to its writer; this is that
writer. It adds two things:

- what is written in one turn of the event loop goes to the transport in one write: a model
  stream yields several deltas per chunk, and a syscall per message was most of their cost
  (66k -> 110k deltas/s). Over WebSocket each message is a frame of its own, so nothing is
  gathered there;
- a client that stops reading while a command floods its output would otherwise make the
  server buffer without end. Past `LIVE_DELTA_CAP` bytes waiting to be written, live deltas
  (`textDelta`, `toolOutputDelta`, `$/progress` reports) are dropped before pygls encodes
  them (`admits`): the `seq` numbers of `agent/event` show the gap, and the events that
  complete a message or a call still carry the whole text, so nothing recorded is lost.
  Everything else is always sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from agentls.protocol.events import LIVE_DELTAS

logger = logging.getLogger(__name__)

LIVE_DELTA_CAP = 8 << 20


def is_live_delta(message: Any) -> bool:
    """A delta the client can do without (see the module's docstring)."""
    if not isinstance(message, dict):
        return False
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
    """The writer pygls writes framed messages into (its `Writer`: `write`, `close`)."""

    def __init__(
        self,
        write: Callable[[bytes], None],
        buffered: Callable[[], int],
        *,
        gather: bool = True,
        cap: int = LIVE_DELTA_CAP,
    ) -> None:
        self._write = write
        self._buffered = buffered
        self._gather = gather
        self._cap = cap
        self.dropped = 0
        self.closed = False
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._flush_scheduled = False

    def backlog(self) -> int:
        """Bytes waiting: in the transport, and gathered for the next write."""
        return self._buffered() + self._pending_bytes

    def admits(self, message: Any) -> bool:
        """Whether to send `message` at all: not a live delta while the client lags."""
        if self.closed:
            return False
        if is_live_delta(message) and self.backlog() > self._cap:
            if self.dropped == 0:
                logger.warning("the client is not reading; dropping live deltas until it does")
            self.dropped += 1
            return False
        return True

    def write(self, data: bytes) -> None:
        """One message as pygls framed it; written with the others of this loop turn."""
        if self.closed:
            return
        if not self._gather:  # one message per frame (WebSocket): nothing to gather
            self._write_now(data)
            return
        self._pending.append(data)
        self._pending_bytes += len(data)
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

    def close(self) -> None:
        """pygls's writer interface; the transport itself is closed by its owner."""
        self.flush()

    def _write_now(self, data: bytes) -> None:
        if self.closed:
            return
        try:
            self._write(data)
        except (ConnectionError, RuntimeError, OSError) as exc:
            logger.warning("could not send to the client: %s", exc)
            self.closed = True

"""Message streams: Content-Length framing over byte streams, or one message per frame."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from typing import Any, Protocol

HEADER_END = b"\r\n\r\n"
MAX_HEADER_BYTES = 8192


class MessageStream(Protocol):
    async def read(self) -> bytes | None:
        """The next message body, or None at the end of the stream."""

    def write(self, body: bytes) -> None: ...

    async def drain(self) -> None: ...

    def close(self) -> None: ...


class FramingError(ValueError):
    """The peer sent something that is not a Content-Length frame."""


class FramedStream:
    """LSP base protocol: `Content-Length: N\\r\\n\\r\\n` and N bytes of JSON."""

    def __init__(self, reader: asyncio.StreamReader, writer: Any) -> None:
        self._reader = reader
        self._writer = writer

    async def read(self) -> bytes | None:
        try:
            header = await self._reader.readuntil(HEADER_END)
        except asyncio.IncompleteReadError:
            return None
        except asyncio.LimitOverrunError as exc:
            raise FramingError("header too long") from exc
        length = None
        for line in header.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                try:
                    length = int(value.strip())
                except ValueError:
                    raise FramingError(f"bad Content-Length: {value!r}") from None
        if length is None or length < 0:
            raise FramingError("missing Content-Length header")
        try:
            return await self._reader.readexactly(length)
        except asyncio.IncompleteReadError:
            return None

    def write(self, body: bytes) -> None:
        self._writer.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))

    async def drain(self) -> None:
        with contextlib.suppress(ConnectionError):
            await self._writer.drain()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._writer.close()


async def stdio_stream() -> FramedStream:
    """Non-blocking stdin/stdout; stdout is detached from `print` so nothing can corrupt it."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 24, loop=loop)
    await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader, loop=loop), os.fdopen(0, "rb", 0)
    )
    out_fd = os.dup(1)
    # anything printed by accident (a library, a debug line) goes to stderr, not the wire
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    transport, protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, os.fdopen(out_fd, "wb", 0)
    )
    writer = asyncio.StreamWriter(transport, protocol, reader, loop)
    return FramedStream(reader, writer)


def tcp_stream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> FramedStream:
    return FramedStream(reader, writer)


class WebSocketStream:
    """One JSON-RPC message per WebSocket text frame, as LSP clients over WS send them."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection
        self._outbox: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._failed = False
        self._sender = asyncio.ensure_future(self._send_all())

    async def _send_all(self) -> None:
        """One sender keeps frames in the order they were written."""
        while (body := await self._outbox.get()) is not None:
            try:
                await self._connection.send(body.decode())
            except Exception:
                self._failed = True
            finally:
                self._outbox.task_done()
        self._outbox.task_done()

    async def read(self) -> bytes | None:
        try:
            message = await self._connection.recv()
        except Exception:  # closed, whatever the reason
            return None
        return message.encode() if isinstance(message, str) else bytes(message)

    def write(self, body: bytes) -> None:
        if not self._failed:
            self._outbox.put_nowait(body)

    async def drain(self) -> None:
        await self._outbox.join()

    def close(self) -> None:
        self._outbox.put_nowait(None)

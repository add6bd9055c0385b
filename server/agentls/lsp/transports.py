"""Connections: stdio, TCP and WebSocket, each read by pygls's own message loop.

pygls reads and frames (`run_async`, `run_websocket`, `_send_data`); what is ours is around
it: the non-blocking writer pygls writes into, whose backlog is bounded (`Outbox`), a reader
that survives garbage headers and absurd lengths, the token and `Origin` checks of the
network transports, one client at a time (a session has one writer), and an orderly end
however the client goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

from pygls.io_ import run_async, run_websocket

from agentls.lsp.outbox import Outbox
from agentls.lsp.server import AgentLanguageServer

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 << 20
ServerFactory = Callable[[], AgentLanguageServer]


class SturdyReader:
    """A StreamReader for pygls's loop that never lets bad framing end the connection.

    An overlong header line is skipped; a body over `MAX_BODY_BYTES` is read past and
    dropped with an error answer. Only the end of the stream ends the loop.
    """

    def __init__(self, reader: asyncio.StreamReader, on_oversized: Callable[[int], None]) -> None:
        self._reader = reader
        self._on_oversized = on_oversized

    async def readline(self) -> bytes:
        try:
            return await self._reader.readline()
        except ValueError:  # longer than the buffer limit: consumed and skipped
            return b"X-Skipped: overlong header\r\n"

    async def readexactly(self, n: int) -> bytes:
        if n <= MAX_BODY_BYTES:
            try:
                return await self._reader.readexactly(n)
            except asyncio.IncompleteReadError:
                return b""
        remaining = n
        while remaining:
            chunk = await self._reader.read(min(remaining, 1 << 20))
            if not chunk:
                return b""
            remaining -= len(chunk)
        self._on_oversized(n)
        return b"null"


def _oversized(server: AgentLanguageServer) -> Callable[[int], None]:
    def report(size: int) -> None:
        server.protocol.send_raw(
            {
                "jsonrpc": "2.0",
                "id": None,
                "error": {
                    "code": -32600,
                    "message": f"a message of {size} bytes is over the {MAX_BODY_BYTES} limit",
                },
            }
        )

    return report


async def run_connection(server: AgentLanguageServer, loop_work: Any) -> int:
    """Serve one client until it goes, `exit` arrives, or the process is told to stop."""
    reading = asyncio.ensure_future(loop_work)
    exited = asyncio.ensure_future(server.exited.wait())
    try:
        await asyncio.wait({reading, exited}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (reading, exited):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reading
        # pygls's shutdown cancels in-flight handlers; turns end through their abort path
        for future in list(server.protocol._request_futures.values()):
            future.cancel()
        await server.close()
    if server.exit_code is not None:
        return server.exit_code
    return 0 if server.protocol._shutdown else 1


def _message_loop(server: AgentLanguageServer, reader: asyncio.StreamReader) -> Any:
    return run_async(
        stop_event=threading.Event(),
        reader=SturdyReader(reader, _oversized(server)),
        protocol=server.protocol,
        logger=logger,
        error_handler=server.report_server_error,
    )


def _use_transport(server: AgentLanguageServer, transport: asyncio.WriteTransport) -> None:
    """A byte stream: pygls frames each message, the outbox writes a loop turn's at once."""
    outbox = Outbox(transport.write, transport.get_write_buffer_size)
    server.protocol.use_outbox(outbox, framed=True)


async def serve_stdio(make_server: ServerFactory) -> int:
    """Non-blocking stdin/stdout; stdout is detached from `print` so nothing corrupts it."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 16, loop=loop)
    await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader, loop=loop), os.fdopen(0, "rb", 0)
    )
    out_fd = os.dup(1)
    # anything printed by accident (a library, a debug line) goes to stderr, not the wire
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    transport, _protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, os.fdopen(out_fd, "wb", 0)
    )
    server = make_server()
    _use_transport(server, transport)
    try:
        return await run_connection(server, _message_loop(server, reader))
    finally:
        with contextlib.suppress(Exception):
            await _drain(transport, outbox=server.protocol.outbox)
            transport.close()


async def _drain(
    transport: asyncio.WriteTransport, timeout_s: float = 5.0, outbox: Outbox | None = None
) -> None:
    """Let what is written reach the client before the transport closes (bounded).

    Transports offer no "drained" event to wait on, so this looks every 10 ms.
    """
    if outbox is not None:
        outbox.flush()
    for _ in range(int(timeout_s / 0.01)):
        if not transport.get_write_buffer_size():
            return
        await asyncio.sleep(0.01)


async def serve_tcp(
    host: str,
    port: int,
    make_server: ServerFactory,
    stopping: asyncio.Event,
    announce: Callable[[str, int], None],
) -> None:
    busy = asyncio.Lock()

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async with busy:  # one client at a time: a session has one writer
            server = make_server()
            _use_transport(server, writer.transport)
            try:
                await run_connection(server, _message_loop(server, reader))
            finally:
                with contextlib.suppress(Exception):
                    await _drain(writer.transport, outbox=server.protocol.outbox)
                    writer.close()

    listener = await asyncio.start_server(client, host, port, limit=1 << 16)
    bound = listener.sockets[0].getsockname()
    announce(bound[0], bound[1])
    async with listener:
        await stopping.wait()


class _WebSocketOutbox:
    """One sender task keeps frames in order; its queue's size is the backlog."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.queued = 0
        self._sender = asyncio.ensure_future(self._send_all())

    async def _send_all(self) -> None:
        while (body := await self._queue.get()) is not None:
            try:
                await self._connection.send(body.decode())
            except Exception:
                return
            finally:
                self.queued -= len(body)

    def write(self, body: bytes) -> None:
        self.queued += len(body)
        self._queue.put_nowait(body)

    async def close(self) -> None:
        self._queue.put_nowait(None)
        with contextlib.suppress(TimeoutError, Exception):
            await asyncio.wait_for(self._sender, 5)


async def serve_ws(
    host: str,
    port: int,
    make_server: ServerFactory,
    stopping: asyncio.Event,
    allowed_origins: list[str],
    announce: Callable[[str, int], None],
) -> None:
    from websockets.asyncio.server import ServerConnection, serve

    busy = asyncio.Lock()

    async def client(connection: ServerConnection) -> None:
        async with busy:
            server = make_server()
            sender = _WebSocketOutbox(connection)
            # a message per frame: no header, and nothing gathered
            outbox = Outbox(sender.write, lambda: sender.queued, gather=False)
            server.protocol.use_outbox(outbox, framed=False)
            loop_work = run_websocket(
                websocket=connection,
                stop_event=threading.Event(),
                protocol=server.protocol,
                logger=logger,
                error_handler=server.report_server_error,
            )
            try:
                await run_connection(server, loop_work)
            finally:
                await sender.close()

    # A browser always sends Origin; other clients send none. Only listed pages may connect.
    origins: list[Any] = [None, *allowed_origins]
    async with serve(client, host, port, origins=origins, max_size=MAX_BODY_BYTES) as listener:
        bound = next(iter(listener.sockets)).getsockname()
        announce(bound[0], bound[1])
        await stopping.wait()

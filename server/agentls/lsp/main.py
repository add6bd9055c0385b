"""Start the server on a transport, and make sure nothing is left behind when it ends.

SIGTERM, SIGHUP and SIGINT end the server the orderly way: the client's connection is
closed as if it had gone, running turns are stopped and flushed, sessions are released.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable

from agentls.lsp.server import AgentServer
from agentls.rpc.endpoint import Endpoint
from agentls.rpc.streams import MessageStream, WebSocketStream, stdio_stream, tcp_stream

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


async def serve_connection(stream: MessageStream, stopping: asyncio.Event) -> None:
    """One client: serve it until it goes, then stop turns and release the sessions."""
    endpoint = Endpoint(stream, id_prefix="agentls-")
    server = AgentServer(endpoint)
    watcher = asyncio.ensure_future(stopping.wait())
    watcher.add_done_callback(lambda _f: endpoint.stop())
    try:
        await endpoint.serve()
    finally:
        watcher.cancel()
        await server.close()
        stream.close()


async def _until_stopped(run: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stopping.set)
    work = asyncio.ensure_future(run(stopping))
    stop = asyncio.ensure_future(stopping.wait())
    await asyncio.wait({work, stop}, return_when=asyncio.FIRST_COMPLETED)
    if not work.done():
        # give the connection its orderly end, then stop listening
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(work), 15)
        work.cancel()
    stop.cancel()


async def _serve_stdio(stopping: asyncio.Event) -> None:
    await serve_connection(await stdio_stream(), stopping)


def _tcp(host: str, port: int) -> Callable[[asyncio.Event], Awaitable[None]]:
    async def run(stopping: asyncio.Event) -> None:
        busy = asyncio.Lock()

        async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            async with busy:  # one client at a time: a session has one writer
                await serve_connection(tcp_stream(reader, writer), stopping)

        server = await asyncio.start_server(client, host, port)
        async with server:
            await stopping.wait()

    return run


def _ws(host: str, port: int) -> Callable[[asyncio.Event], Awaitable[None]]:
    async def run(stopping: asyncio.Event) -> None:
        from websockets.asyncio.server import ServerConnection, serve

        busy = asyncio.Lock()

        async def client(connection: ServerConnection) -> None:
            async with busy:
                await serve_connection(WebSocketStream(connection), stopping)

        async with serve(client, host, port):
            await stopping.wait()

    return run


def serve(*, tcp: tuple[str, int] | None = None, ws: tuple[str, int] | None = None) -> int:
    if tcp is not None:
        run = _tcp(*tcp)
    elif ws is not None:
        run = _ws(*ws)
    else:
        run = _serve_stdio
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_until_stopped(run))
    return 0

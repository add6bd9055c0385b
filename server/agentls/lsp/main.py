"""Start the server on a transport, and make sure nothing is left behind when it ends.

SIGTERM, SIGHUP and SIGINT end the server the orderly way: the client's connection is
closed as if it had gone, running turns are stopped and flushed, sessions are released.
The network transports listen on loopback by default and need a token unless told not to.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


@dataclass
class NetworkOptions:
    """How `--tcp`/`--ws` admit clients."""

    token: str | None = None  # None: no authentication (--no-auth)
    token_file: Path | None = None
    allowed_origins: list[str] = field(default_factory=list)


def prepare_token(given: str | None, token_file: Path | None, no_auth: bool) -> NetworkOptions:
    """A token for the network transports: given, or generated into a 0600 file."""
    if no_auth:
        return NetworkOptions()
    token = given or os.environ.get("AGENTLS_TOKEN") or secrets.token_urlsafe(32)
    if token_file is not None:
        token_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, token.encode() + b"\n")
        finally:
            os.close(fd)
    return NetworkOptions(token=token, token_file=token_file)


async def _until_stopped(run: Callable[[asyncio.Event], Awaitable[int | None]]) -> int:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stopping.set)
    work = asyncio.ensure_future(run(stopping))
    stop = asyncio.ensure_future(stopping.wait())
    await asyncio.wait({work, stop}, return_when=asyncio.FIRST_COMPLETED)
    code = 0
    if not work.done():
        # give the connection its orderly end, then stop listening
        work.cancel()
        with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
            await asyncio.wait_for(work, 15)
    elif not work.cancelled() and work.exception() is None:
        code = work.result() or 0
    stop.cancel()
    return code


def serve(
    *,
    tcp: tuple[str, int] | None = None,
    ws: tuple[str, int] | None = None,
    network: NetworkOptions | None = None,
) -> int:
    from agentls.lsp import transports
    from agentls.lsp.server import AgentLanguageServer

    network = network or NetworkOptions()

    def make_server() -> AgentLanguageServer:
        return AgentLanguageServer(auth_token=network.token if (tcp or ws) else None)

    async def run(stopping: asyncio.Event) -> int | None:
        if tcp is not None:
            await transports.serve_tcp(*tcp, make_server, stopping, _announcer("TCP", network))
            return 0
        if ws is not None:
            await transports.serve_ws(
                *ws,
                make_server,
                stopping,
                network.allowed_origins,
                _announcer("WebSocket", network),
            )
            return 0
        stdio = asyncio.ensure_future(transports.serve_stdio(make_server))
        stop = asyncio.ensure_future(stopping.wait())
        await asyncio.wait({stdio, stop}, return_when=asyncio.FIRST_COMPLETED)
        if not stdio.done():
            stdio.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stdio
            return 0
        stop.cancel()
        return stdio.result()

    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(_until_stopped(run))
    return 0


def _announcer(kind: str, network: NetworkOptions) -> Callable[[str, int], None]:
    return lambda host, port: _announce(kind, host, port, network)


def _announce(kind: str, host: str, port: int, network: NetworkOptions) -> None:
    shown = f"[{host}]" if ":" in host else host
    auth = (
        "no authentication (--no-auth)"
        if network.token is None
        else f"token in {network.token_file}"
        if network.token_file
        else "token as given"
    )
    print(
        f"agentls: listening for an editor over {kind} on {shown}:{port}; {auth}",
        file=sys.stderr,
        flush=True,
    )

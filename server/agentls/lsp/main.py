"""Start the server on a transport, and make sure nothing is left behind when it ends."""

from __future__ import annotations

import contextlib
import signal
from types import FrameType


def _stop(_signum: int, _frame: FrameType | None) -> None:
    """SIGTERM/SIGHUP end the server as Ctrl-C would: running turns are stopped and flushed."""
    raise KeyboardInterrupt


def serve(*, tcp: tuple[str, int] | None = None, ws: tuple[str, int] | None = None) -> int:
    from agentls.lsp.server import create_server

    server = create_server()
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGHUP, _stop)
    try:
        if tcp is not None:
            server.start_tcp(*tcp)
        elif ws is not None:
            server.start_ws(*ws)
        else:
            server.start_io()
    finally:
        agent = server.agent
        if agent is not None:
            for session in agent.sessions.values():
                with contextlib.suppress(Exception):
                    session.close()
            agent.context.reaper.close()
    return 0

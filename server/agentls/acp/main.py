"""`agentls acp`: the Agent Client Protocol on stdin/stdout, for editors that host agents
(Zed, JetBrains IDEs, Neovim's agent plugins, Emacs' agent-shell, acpx)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from typing import Any


async def _serve(options: Mapping[str, Any]) -> None:
    from agentls.acp.agent import serve
    from agentls.acp.sessions import ServiceCore

    core = ServiceCore(os.environ, options)
    try:
        await serve(core)
    finally:
        await core.aclose()


def run(options: Mapping[str, Any] | None = None) -> int:
    """Serve until the client closes the connection; the user's `options` are settings."""
    asyncio.run(_serve(options or {}))
    return 0

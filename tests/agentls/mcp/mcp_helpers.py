"""Helpers for the MCP tests: the fixture server's paths, config tables, waits, /proc checks."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentls.mcp import McpManager, McpServerConfig, parse_server_configs
from agentls.tools.procfs import read_stat

FIXTURE_DIR = Path(__file__).resolve().parents[3] / "fixtures" / "mcp"
SERVER = FIXTURE_DIR / "server.py"
OWNER = FIXTURE_DIR / "owner.py"


def stdio_table(*flags: str, **keys: Any) -> dict[str, Any]:
    """A `[mcp_servers.NAME]` table that runs the fixture server."""
    return {"command": sys.executable, "args": [str(SERVER), *flags], **keys}


def configs_of(tables: dict[str, dict[str, Any]]) -> list[McpServerConfig]:
    configs, warnings = parse_server_configs(tables)
    assert warnings == []
    return configs


async def wait_until(predicate: Callable[[], bool], what: str, limit_s: float = 20.0) -> None:
    """Waits for something observable; the limit only stops a broken test from hanging."""
    deadline = time.monotonic() + limit_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.01)


def pid_alive(pid: int) -> bool:
    stat = read_stat(pid)
    return stat is not None and stat.alive


def processes_with(token: str) -> list[int]:
    """Live processes whose command line contains `token`."""
    found: list[int] = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as cmdline:
                if token.encode() in cmdline.read() and pid_alive(int(name)):
                    found.append(int(name))
        except OSError:
            continue
    return found


class ManagerFactory:
    def __init__(self) -> None:
        self.made: list[McpManager] = []

    def __call__(
        self,
        tables: dict[str, dict[str, Any]],
        *,
        env: dict[str, str] | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> McpManager:
        manager = McpManager(
            configs_of(tables), env=dict(os.environ) if env is None else env, on_change=on_change
        )
        self.made.append(manager)
        return manager

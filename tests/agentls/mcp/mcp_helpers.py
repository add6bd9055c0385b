"""Helpers for the MCP tests: the fixture server's paths, config tables, managers.

Waits and /proc checks are in `tests.helpers`, shared by all the tests.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentls.mcp import McpManager, McpServerConfig, parse_server_configs

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

"""All configured MCP servers behind one object: the turn loop's view of MCP.

The turn loop needs five things: the tool definitions to send to the model, which policy
applies to a call, a way to run a call that it can cancel, the servers' states for the
editor, and a way to wait, before a model request, for servers still starting (so the
first message after the editor opens, or a one-shot question, gets the MCP tools too).
Server faults never raise out of here: they become a `failed` state or an `is_error` call
result, so one bad server cannot take the other tools down.

A model-facing name, once given to a `(server, tool)` pair, stays that pair's for the
manager's life: a changed tool list adds names around the given ones, and a tool that goes
away retires its name with it (see `agentls.mcp.names`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import mcp_types as types

from agentls.config.settings import ApprovalPolicy
from agentls.mcp.config import McpServerConfig
from agentls.mcp.connection import ServerConnection, ServerState
from agentls.mcp.names import assign_names
from agentls.mcp.results import McpCallResult, error_result
from agentls.protocol.events import EventType

__all__ = ["WAITING_EVENT", "McpManager", "McpServerStatus", "McpTool"]

logger = logging.getLogger("agentls.mcp")

WAITING_EVENT = EventType.MCP_WAITING
"""The turn event said while a request waits for servers still starting (see `wait_started`)."""

Emit = Callable[..., None]


@dataclass(frozen=True)
class McpServerStatus:
    name: str
    state: ServerState
    error: str | None
    tools: list[str]

    def to_wire(self) -> dict[str, Any]:
        return {"name": self.name, "state": self.state, "error": self.error, "tools": self.tools}


@dataclass(frozen=True)
class McpTool:
    """One server tool as the model sees it (`name`) and as the server knows it (`tool`)."""

    name: str
    server: str
    tool: str
    description: str
    input_schema: Mapping[str, Any] = field(repr=False)
    read_only: bool
    """May run unasked under `ask-unsafe`: the server marks it `readOnlyHint` and the
    user trusts that server's marks (`trust_read_only_hint`)."""
    approval: ApprovalPolicy | None
    read_only_hint: bool = False
    """The server's own claim, whether trusted or not."""

    @property
    def key(self) -> tuple[str, str]:
        """Who the tool is, whatever the model calls it: approvals are kept by this."""
        return (self.server, self.tool)

    def definition(self) -> dict[str, Any]:
        """A Responses-API function tool, shaped like the built-in `shell` tool."""
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "strict": False,
            "parameters": dict(self.input_schema),
        }


def _description(server: str, tool: types.Tool) -> str:
    text = tool.description or tool.title or (tool.annotations and tool.annotations.title)
    return text or f"The {tool.name!r} tool of the {server!r} MCP server."


def _parameters(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The tool's input schema, completed where the model API insists on fields."""
    parameters = dict(schema)
    parameters.setdefault("type", "object")
    if parameters["type"] == "object":
        parameters.setdefault("properties", {})
    return parameters


def _parse_arguments(arguments_json: str) -> dict[str, Any] | str:
    """The arguments object, or the reason it is not one (said to the model)."""
    if not arguments_json.strip():
        return {}
    try:
        value = json.loads(arguments_json)
    except ValueError as exc:
        return f"the arguments are not valid JSON ({exc}); send a JSON object"
    if not isinstance(value, dict):
        return f"the arguments must be a JSON object, not {type(value).__name__}"
    return value


class McpManager:
    """Starts the configured servers and routes calls to them by model-facing name."""

    def __init__(
        self,
        configs: Iterable[McpServerConfig],
        *,
        env: Mapping[str, str],
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self._on_change = on_change
        self._connections: dict[str, ServerConnection] = {}
        for config in configs:
            if config.name in self._connections:
                raise ValueError(f"two MCP servers are named {config.name!r}")
            self._connections[config.name] = ServerConnection(
                config, env=env, on_change=self._changed
            )
        self._tools: dict[str, McpTool] = {}
        self._definitions: list[dict[str, Any]] = []
        # every name ever given, and to which pair: never handed to another
        self._names: dict[tuple[str, str], str] = {}
        self._owners: dict[str, tuple[str, str]] = {}

    async def start(self) -> None:
        """Starts every enabled server at once; returns when each is ready or has failed."""
        await asyncio.gather(*(c.start() for c in self._connections.values()))

    async def aclose(self) -> None:
        await asyncio.gather(*(c.aclose() for c in self._connections.values()))
        self._rebuild()

    def starting(self) -> list[str]:
        """The servers still starting (or starting again), by name."""
        return [c.name for c in self._connections.values() if c.state == "starting"]

    async def wait_started(self, emit: Emit | None = None) -> None:
        """Waits for the servers still starting, each at most its `startup_timeout_s`.

        Returns at once when none is. Otherwise `emit(WAITING_EVENT, phase="started",
        servers=[...])` first and `phase="completed"` (with `ready`, `failed: [{name,
        error}]`, `waitedMs`) once every one is ready or has failed; a server that fails is
        only reported. Cancelling the caller ends the wait at once.
        """
        waiting = [c for c in self._connections.values() if c.state == "starting"]
        if not waiting:
            return
        names = [c.name for c in waiting]
        if emit is not None:
            emit(WAITING_EVENT, phase="started", servers=names)
        started = time.monotonic()
        await asyncio.gather(*(c.wait_settled(c.config.startup_timeout_s) for c in waiting))
        waited_ms = round((time.monotonic() - started) * 1000)
        logger.info("waited %d ms for MCP servers %s", waited_ms, ", ".join(names))
        if emit is None:
            return
        failed = [
            {"name": c.name, "error": c.error or f"still {c.state}"}
            for c in waiting
            if c.state != "ready"
        ]
        ready = [c.name for c in waiting if c.state == "ready"]
        emit(
            WAITING_EVENT,
            phase="completed",
            servers=names,
            ready=ready,
            failed=failed,
            waitedMs=waited_ms,
        )

    def statuses(self) -> list[McpServerStatus]:
        return [
            McpServerStatus(
                name=c.name, state=c.state, error=c.error, tools=[t.name for t in c.tools]
            )
            for c in self._connections.values()
        ]

    def stderr_tail(self, server: str) -> str:
        """The end of what a stdio server wrote to stderr (kept in memory, at most 64 KiB),
        redacted; empty for an HTTP server or an unknown name."""
        connection = self._connections.get(server)
        return connection.stderr_tail() if connection is not None else ""

    def tool_definitions(self) -> list[dict[str, Any]]:
        return list(self._definitions)

    def lookup(self, name: str) -> McpTool | None:
        return self._tools.get(name)

    async def call(self, name: str, arguments_json: str) -> McpCallResult:
        """Runs one call; cancelling the awaiting task cancels it at the server too.

        A tool of a server being started again (after it broke a limit) waits for it.
        """
        tool = self._tools.get(name)
        owner = self._owners.get(name)
        connection = self._connections.get(owner[0]) if owner is not None else None
        if tool is None and connection is not None and connection.state == "starting":
            await connection.wait_settled(connection.config.startup_timeout_s)
            tool = self._tools.get(name)
        if tool is None:
            return error_result(f"there is no MCP tool named {name!r} (any more)")
        arguments = _parse_arguments(arguments_json)
        if isinstance(arguments, str):
            return error_result(arguments)
        return await self._connections[tool.server].call_tool(tool.tool, arguments)

    def _changed(self) -> None:
        self._rebuild()
        if self._on_change is not None:
            try:
                self._on_change()
            except Exception:
                logger.exception("MCP on_change callback failed")

    def _rebuild(self) -> None:
        listed: dict[tuple[str, str], tuple[ServerConnection, types.Tool]] = {}
        for connection in self._connections.values():
            if connection.state != "ready":
                continue
            for tool in connection.tools:
                listed[(connection.name, tool.name)] = (connection, tool)
        new = [key for key in listed if key not in self._names]
        for key, name in assign_names(new, self._owners).items():
            self._names[key] = name
            self._owners[name] = key
        tools: dict[str, McpTool] = {}
        for key, (connection, tool) in sorted(listed.items()):
            name = self._names[key]
            annotations = tool.annotations
            hint = bool(annotations and annotations.read_only_hint)
            tools[name] = McpTool(
                name=name,
                server=connection.name,
                tool=tool.name,
                description=_description(connection.name, tool),
                input_schema=_parameters(tool.input_schema),
                read_only=hint and connection.config.trust_read_only_hint,
                approval=connection.config.approval,
                read_only_hint=hint,
            )
        self._tools = tools
        self._definitions = [tool.definition() for tool in tools.values()]

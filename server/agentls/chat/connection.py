"""The chat's link to its `agentls serve` child, through pygls's own client side.

The terminal client is one more LSP client: it starts the server over stdio, initializes it
like an editor and sends the same requests, so what works here works in every editor.
Custom params and results stay plain dicts (pygls would turn them into lossy namedtuples).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp._base_client import BaseLanguageClient
from pygls.protocol import default_converter
from pygls.protocol.json_rpc import (
    JsonRPCNotification,
    JsonRPCRequestMessage,
    JsonRPCResponseMessage,
)

from agentls import __version__

EventHandler = Callable[[dict[str, Any]], None]
ApprovalHandler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
MessageHandler = Callable[[str], None]


def _keep_dict(obj: dict[str, Any], cls: type[Any]) -> Any:
    return cls(**obj)


def _converter() -> Any:
    converter = default_converter()  # type: ignore[no-untyped-call]
    for message_type in (JsonRPCRequestMessage, JsonRPCNotification, JsonRPCResponseMessage):
        converter.register_structure_hook(message_type, _keep_dict)
    return converter


class ServerStartError(Exception):
    """The server child could not be started or initialized; carries its last words."""


class ServerConnection:
    """One server child and what it told us at `initialize`."""

    def __init__(
        self,
        on_event: EventHandler,
        on_approval: ApprovalHandler,
        on_message: MessageHandler,
    ) -> None:
        self.client = BaseLanguageClient("agentls-chat", __version__, converter_factory=_converter)
        self.methods: set[str] = set()
        self.model: dict[str, Any] = {}
        self.stderr_lines: list[str] = []
        self._ids = itertools.count(1)
        self._drain: asyncio.Task[None] | None = None
        client = self.client

        def event(params: Any) -> None:
            if isinstance(params, dict):
                on_event(params)

        async def approval(params: Any) -> dict[str, Any]:
            return await on_approval(params if isinstance(params, dict) else {})

        def show(params: Any) -> None:
            message = getattr(params, "message", None)
            if message:
                on_message(str(message))

        def ignore(_params: Any) -> None:
            return None

        # pygls tags handlers with attributes, which bound methods cannot carry: closures
        for method, handler in (
            ("agent/event", event),
            ("agent/requestApproval", approval),
            ("agent/sessionsChanged", ignore),
            ("agent/mcpStatus", ignore),  # `/mcp` asks when the person wants to know
            (types.WINDOW_SHOW_MESSAGE, show),
            (types.WINDOW_LOG_MESSAGE, ignore),
        ):
            client.feature(method)(handler)

    async def start(self, workspace: Path, options: dict[str, Any]) -> None:
        """Start `agentls serve` in its own session: Ctrl-C is for the turn, not the server."""
        await self.client.start_io(sys.executable, "-m", "agentls", "serve", start_new_session=True)
        process = self.client._server
        if process is not None and process.stderr is not None:
            self._drain = asyncio.get_running_loop().create_task(self._read_stderr(process.stderr))
        folder = types.WorkspaceFolder(uri=workspace.as_uri(), name=workspace.name)
        try:
            result = await self._initialize(workspace, options, folder)
        except Exception as exc:
            await asyncio.sleep(0.1)  # let the last lines of a dying server arrive
            said = "".join(self.stderr_lines[-10:]).strip()
            message = f"the agentls server did not start: {exc}\n{said}".strip()
            raise ServerStartError(message) from exc
        self.client.initialized(types.InitializedParams())
        experimental = result.capabilities.experimental
        agent = experimental.get("agent") if isinstance(experimental, dict) else None
        if isinstance(agent, dict):
            self.methods = {str(m) for m in agent.get("methods") or []}
            self.model = dict(agent.get("model") or {})

    async def _initialize(
        self, workspace: Path, options: dict[str, Any], folder: types.WorkspaceFolder
    ) -> types.InitializeResult:
        return await self.client.initialize_async(
            types.InitializeParams(
                process_id=os.getpid(),
                capabilities=types.ClientCapabilities(),
                root_uri=workspace.as_uri(),
                workspace_folders=[folder],
                initialization_options=options,
                client_info=types.ClientInfo(name="agentls chat", version=__version__),
            )
        )

    async def _read_stderr(self, stream: asyncio.StreamReader) -> None:
        """Keep the pipe flowing; the last lines explain a server that died."""
        show = bool(os.environ.get("AGENTLS_LOG"))
        while line := await stream.readline():
            text = line.decode(errors="replace")
            self.stderr_lines = [*self.stderr_lines[-19:], text]
            if show:
                sys.stderr.write(text)

    @property
    def returncode(self) -> int | None:
        """The server child's exit status once it has ended (it should not, while we run)."""
        process = self.client._server
        return process.returncode if process is not None else None

    def supports(self, method: str) -> bool:
        return method in self.methods

    def next_id(self) -> str:
        return f"chat-{next(self._ids)}"

    def _check_alive(self) -> None:
        # a request written to a dead server would never be answered
        if self.returncode is not None:
            raise ServerStartError(f"the agentls server stopped (exit status {self.returncode})")

    async def request(self, method: str, params: dict[str, Any]) -> Any:
        self._check_alive()
        return await self.client.protocol.send_request_async(method, params, msg_id=self.next_id())

    def start_request(self, method: str, params: dict[str, Any]) -> tuple[str, asyncio.Future[Any]]:
        """Sent at once, so a cancel that follows cannot overtake it."""
        self._check_alive()
        msg_id = self.next_id()
        future = self.client.protocol.send_request(method, params, msg_id=msg_id)
        return msg_id, asyncio.wrap_future(future)

    def cancel(self, msg_id: str) -> None:
        self.client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))

    async def close(self) -> None:
        process = self.client._server
        if process is not None and process.returncode is None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.client.shutdown_async(None), 10)
                self.client.exit(None)
            try:
                await asyncio.wait_for(process.wait(), 5)
            except TimeoutError:
                process.kill()
                await process.wait()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.client.stop(), 5)  # type: ignore[no-untyped-call]
        if self._drain is not None:
            self._drain.cancel()

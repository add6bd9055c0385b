"""One MCP server: its process or HTTP endpoint, its session, its tools and its state.

The SDK's transports and `ClientSession` are anyio context managers, which must be entered
and left by the same task; so each server gets a task of its own that holds them open until
it is told to stop or the connection ends. Calls come from other tasks (a turn) and only
send a request on the session, which is safe across tasks: cancelling the calling task makes
the SDK send `notifications/cancelled` for that request before the cancellation goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO, cast

import anyio
import httpx2
import mcp_types as types
from anyio.streams.memory import MemoryObjectSendStream
from mcp.client._transport import ReadStream, TransportStreams
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.shared.message import SessionMessage

from agentls.mcp.config import McpServerConfig
from agentls.mcp.processes import SERVER_ENV_VAR, end_marked_processes, new_marker
from agentls.mcp.redact import Redactor, mask_secrets_in_logs
from agentls.mcp.results import McpCallResult, error_result, render_result
from agentls.tools.sandbox import contained_argv

__all__ = ["ServerConnection", "ServerState"]

logger = logging.getLogger("agentls.mcp")

ServerState = Literal["starting", "ready", "failed", "disabled"]

CLIENT_INFO = types.Implementation(name="agentls", version="0.1.0")
_STDERR_TAIL_BYTES = 2048
_MAX_LIST_PAGES = 100
_HTTP_CONNECT_TIMEOUT_S = 30.0
_HTTP_READ_TIMEOUT_S = 300.0
# How long a stopped call waits for its cancellation notice to be written.
_CANCEL_WRITE_WAIT_S = 1.0

_ReadStream = ReadStream[SessionMessage | Exception]
_WriteStream = MemoryObjectSendStream[SessionMessage | Exception]


class StartupError(Exception):
    """A server that cannot even be attempted (a missing token variable, ...)."""


def _leaf_errors(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        leaves: list[BaseException] = []
        for inner in exc.exceptions:
            leaves.extend(_leaf_errors(inner))
        return leaves
    return [exc]


def describe_error(exc: BaseException) -> str:
    """One line per underlying error, without the task-group wrapping."""
    parts: list[str] = []
    for leaf in _leaf_errors(exc):
        if isinstance(leaf, MCPError):
            text = f"MCP error {leaf.code}: {leaf.message}"
        elif isinstance(leaf, httpx2.HTTPStatusError):
            text = f"HTTP {leaf.response.status_code} from {leaf.request.url}"
        else:
            detail = str(leaf)
            text = f"{type(leaf).__name__}: {detail}" if detail else type(leaf).__name__
        if text not in parts:
            parts.append(text)
    return "; ".join(parts)


@dataclass
class _Runtime:
    """What exists only while the server's task runs."""

    session: ClientSession | None = None
    stderr: TextIO | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    settled: asyncio.Event = field(default_factory=asyncio.Event)
    lost: bool = False
    http_error: int | None = None


class ServerConnection:
    """Starts, serves and stops one configured server; never raises for the server's faults."""

    def __init__(
        self,
        config: McpServerConfig,
        *,
        env: Mapping[str, str],
        on_change: Callable[[], None],
    ) -> None:
        self.config = config
        self.state: ServerState = "starting" if config.enabled else "disabled"
        self.error: str | None = None
        self.tools: list[types.Tool] = []
        self._env = dict(env)
        self._on_change = on_change
        self._marker = new_marker(config.name)
        self._task: asyncio.Task[None] | None = None
        self._runtime = _Runtime()
        self._closing = False
        self._refresh_lock = asyncio.Lock()
        self._calls: set[asyncio.Task[McpCallResult]] = set()
        secrets = list(config.env.values()) + list(config.http_headers.values())
        if config.bearer_token_env_var:
            secrets.append(env.get(config.bearer_token_env_var, ""))
        self.redact = Redactor(secrets)
        mask_secrets_in_logs(secrets)

    @property
    def name(self) -> str:
        return self.config.name

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Returns once the server is ready or has failed, within its startup timeout."""
        if not self.config.enabled or self._task is not None:
            return
        self._task = asyncio.create_task(self._run(), name=f"mcp-server:{self.name}")
        try:
            await asyncio.wait_for(
                self._runtime.settled.wait(), timeout=self.config.startup_timeout_s
            )
        except TimeoutError:
            self._fail(f"did not start within {self.config.startup_timeout_s:g} s")
            self._task.cancel()

    async def aclose(self) -> None:
        """Ends the session, the server and everything it started."""
        self._closing = True
        self._runtime.wake.set()
        task = self._task
        if task is not None and self.state == "starting":
            task.cancel()  # still in `initialize`: nothing to say goodbye to
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        # A server that failed, or one that never got its task, may still have children.
        await asyncio.to_thread(end_marked_processes, self._marker)
        self.tools = []

    # -- the server's task ---------------------------------------------------------------------

    async def _run(self) -> None:
        # The server's stderr is kept for error reports instead of reaching our own log,
        # where anything it prints (its environment, a token) would end up.
        with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as stderr:
            self._runtime.stderr = cast(TextIO, stderr)
            try:
                await self._serve()
            finally:
                self._runtime.stderr = None

    async def _serve(self) -> None:
        runtime = self._runtime
        try:
            async with AsyncExitStack() as stack:
                read_stream, write_stream = await stack.enter_async_context(self._transport())
                watched = await stack.enter_async_context(self._watched(read_stream))
                session = await stack.enter_async_context(
                    ClientSession(
                        watched,
                        write_stream,
                        message_handler=self._on_message,
                        client_info=CLIENT_INFO,
                    )
                )
                await session.initialize()
                runtime.session = session
                self.tools = await self._list_tools(session)
                self.state = "ready"
                self.error = None
                logger.info("MCP server %s is ready with %d tools", self.name, len(self.tools))
                runtime.settled.set()
                self._notify()
                await runtime.wake.wait()
                runtime.session = None
                if runtime.lost and not self._closing:
                    self._fail("the server closed the connection")
        except asyncio.CancelledError:
            if self._closing or self.state == "failed":
                return  # our own doing: a startup timeout or close
            raise
        except Exception as exc:
            if not self._closing:
                self._fail(self._startup_or_runtime(exc))
        finally:
            runtime.session = None
            runtime.settled.set()

    @asynccontextmanager
    async def _transport(self) -> AsyncIterator[TransportStreams]:
        config = self.config
        if config.url is not None:
            headers = dict(config.http_headers)
            if config.bearer_token_env_var:
                token = self._env.get(config.bearer_token_env_var, "").strip()
                if not token:
                    raise StartupError(
                        f"environment variable {config.bearer_token_env_var} "
                        "(bearer_token_env_var) is not set"
                    )
                headers["Authorization"] = f"Bearer {token}"
            timeout = httpx2.Timeout(_HTTP_CONNECT_TIMEOUT_S, read=_HTTP_READ_TIMEOUT_S)
            hooks = {"response": [self._note_http_status]}
            async with (
                httpx2.AsyncClient(headers=headers, timeout=timeout, event_hooks=hooks) as client,
                streamable_http_client(config.url, http_client=client) as streams,
            ):
                yield streams
            return
        assert config.command is not None
        env = self._env | dict(config.env) | {SERVER_ENV_VAR: self._marker}
        cwd = Path(config.cwd) if config.cwd else Path.cwd()
        # Probing for bwrap runs a process once; not on the event loop. The spawn itself
        # stays on the loop's thread, which the parent-death signal is tied to.
        argv = await asyncio.to_thread(contained_argv, [config.command, *config.args], cwd)
        params = StdioServerParameters(command=argv[0], args=argv[1:], env=env, cwd=config.cwd)
        errlog = self._runtime.stderr if self._runtime.stderr is not None else sys.stderr
        async with stdio_client(params, errlog=errlog) as streams:
            yield streams

    async def _note_http_status(self, response: httpx2.Response) -> None:
        """Keeps the last HTTP error: the SDK reports a rejected POST without its status."""
        if response.status_code >= 400:
            self._runtime.http_error = response.status_code
        else:
            self._runtime.http_error = None

    @asynccontextmanager
    async def _watched(self, source: _ReadStream) -> AsyncIterator[_ReadStream]:
        """The transport's read stream, passed through a task that notices its end.

        The SDK session gives no signal when the server goes away; the end of this stream
        is that signal.
        """
        sink, watched = anyio.create_memory_object_stream[SessionMessage | Exception](0)
        task = asyncio.create_task(self._forward(source, sink))
        try:
            yield watched
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _forward(self, source: _ReadStream, sink: _WriteStream) -> None:
        try:
            async with sink:
                async for item in source:
                    await sink.send(item)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream):
            pass
        finally:
            self._runtime.lost = True
            self._runtime.wake.set()

    async def _list_tools(self, session: ClientSession) -> list[types.Tool]:
        tools: list[types.Tool] = []
        cursor: str | None = None
        for _ in range(_MAX_LIST_PAGES):
            params = types.PaginatedRequestParams(cursor=cursor) if cursor else None
            result = await session.list_tools(params=params)
            tools.extend(result.tools)
            cursor = result.next_cursor
            if not cursor:
                break
        return tools

    async def _on_message(self, message: types.ServerNotification | Exception) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            await self._refresh_tools()
        elif isinstance(message, Exception):
            logger.warning(
                "MCP server %s: transport error: %s",
                self.name,
                self.redact(describe_error(message)),
            )

    async def _refresh_tools(self) -> None:
        session = self._runtime.session
        if session is None:
            return
        async with self._refresh_lock:
            try:
                tools = await self._list_tools(session)
            except Exception as exc:
                logger.warning(
                    "MCP server %s: listing its changed tools failed: %s",
                    self.name,
                    self.redact(describe_error(exc)),
                )
                return
            if self.state != "ready":
                return
            self.tools = tools
            logger.info("MCP server %s changed its tools (%d now)", self.name, len(tools))
            self._notify()

    # -- state ---------------------------------------------------------------------------------

    def _startup_or_runtime(self, exc: BaseException) -> str:
        closed = any(
            isinstance(leaf, MCPError) and leaf.code == types.CONNECTION_CLOSED
            for leaf in _leaf_errors(exc)
        )
        if closed and self.state == "starting":
            return "the server exited (or closed its output) before it finished starting"
        status = self._runtime.http_error
        if status is not None:
            hint = ""
            if status in (401, 403):
                hint = " (check the token: bearer_token_env_var / http_headers)"
            return f"HTTP {status} from {self.config.url}{hint}"
        return describe_error(exc)

    def _fail(self, reason: str) -> None:
        tail = self._stderr_tail()
        message = f"{reason}\nstderr: {tail}" if tail else reason
        self.error = self.redact(message)
        self.state = "failed"
        self.tools = []
        self._runtime.settled.set()
        self._runtime.wake.set()
        logger.warning("MCP server %s failed: %s", self.name, self.error)
        self._notify()

    def _stderr_tail(self) -> str:
        stderr = self._runtime.stderr
        if stderr is None or stderr.closed:
            return ""
        try:
            stderr.flush()
            size = stderr.seek(0, 2)
            stderr.seek(max(0, size - _STDERR_TAIL_BYTES))
            return stderr.read().strip()
        except (OSError, ValueError):
            return ""

    def _notify(self) -> None:
        try:
            self._on_change()
        except Exception:
            logger.exception("MCP on_change callback failed")

    # -- calls ---------------------------------------------------------------------------------

    async def call_tool(self, tool: str, arguments: dict[str, Any]) -> McpCallResult:
        """Runs the call in a task of its own, so that a stop reaches the server exactly once.

        Cancelling the caller cancels that task once; the SDK then writes
        `notifications/cancelled` under a shield. Were the caller's task the one sending,
        a second cancel arriving during that write (a stop right after a stop) would cut
        the write short and the server would never hear of it.
        """
        call = asyncio.create_task(self._call_tool(tool, arguments), name=f"mcp-call:{tool}")
        self._calls.add(call)
        call.add_done_callback(self._calls.discard)
        try:
            return await asyncio.shield(call)
        except asyncio.CancelledError:
            call.cancel()
            # Normally over in well under a millisecond; another cancel ends this wait
            # early, but not the call task's write.
            await asyncio.wait({call}, timeout=_CANCEL_WRITE_WAIT_S)
            raise

    async def _call_tool(self, tool: str, arguments: dict[str, Any]) -> McpCallResult:
        session = self._runtime.session
        if self.state != "ready" or session is None:
            why = f": {self.error}" if self.error else ""
            return error_result(f"MCP server {self.name!r} is not available{why}")
        timeout = self.config.tool_timeout_s
        try:
            result = await session.call_tool(tool, arguments, read_timeout_seconds=timeout)
        except MCPError as exc:
            if exc.code == types.REQUEST_TIMEOUT:
                text = f"the MCP tool {tool!r} did not answer within {timeout:g} s"
            elif exc.code == types.CONNECTION_CLOSED:
                text = f"MCP server {self.name!r} closed the connection during the call"
            else:
                text = f"MCP error {exc.code}: {exc.message}"
            return error_result(self.redact(text))
        except Exception as exc:
            return error_result(self.redact(f"the MCP call failed: {describe_error(exc)}"))
        return render_result(result)

"""One MCP server: its process or HTTP endpoint, its session, its tools and its state.

The SDK's transports and `ClientSession` are anyio context managers, which must be entered
and left by the same task; so each attempt at running the server gets a task of its own
that holds them open until it is told to stop or the connection ends. Calls come from other
tasks (a turn) and only send a request on the session, which is safe across tasks:
cancelling the calling task makes the SDK send `notifications/cancelled` for that request
before the cancellation goes on.

A connection that can no longer be trusted is started again rather than left broken: a
server that sent a message over its size limit (the rest of that message is still in the
pipe), or one that stopped half-way through a message after a call was stopped or timed
out (its next answer would be glued to the broken one). A server that crashes, or fails to
start, is `failed` and its tools are withdrawn.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import anyio
import httpx2
import mcp_types as types
from anyio.streams.memory import MemoryObjectSendStream
from mcp.client._transport import ReadStream, TransportStreams
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.shared.message import SessionMessage

from agentls.mcp.config import McpServerConfig
from agentls.mcp.processes import SERVER_ENV_VAR, end_marked_processes, new_marker
from agentls.mcp.redact import Redactor, mask_secrets_in_logs
from agentls.mcp.results import McpCallResult, describe_size, error_result, render_result
from agentls.mcp.stdio import MessageTooLargeError, Transport, stdio_transport
from agentls.tools.sandbox import contained_argv

__all__ = ["ServerConnection", "ServerState"]

logger = logging.getLogger("agentls.mcp")

ServerState = Literal["starting", "ready", "failed", "disabled"]

CLIENT_INFO = types.Implementation(name="agentls", version="0.1.0")
# How much of the server's stderr tail a status shows (the transport keeps more).
_STATUS_STDERR_BYTES = 2048
_MAX_LIST_PAGES = 100
_HTTP_CONNECT_TIMEOUT_S = 30.0
_HTTP_READ_TIMEOUT_S = 300.0
# How long a stopped call waits for its cancellation notice to be written.
_CANCEL_WRITE_WAIT_S = 1.0
# After a stopped or timed-out call, how long a server may sit in the middle of a message
# without sending another byte before the connection is taken for broken and restarted.
_MID_MESSAGE_GRACE_S = 1.0
# A server restarted this often within the window is given up on (`failed`).
_MAX_RESTARTS = 3
_RESTART_WINDOW_S = 60.0

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


def _too_large(refused: MessageTooLargeError) -> str:
    return (
        f"sent a message larger than {describe_size(refused.limit)} "
        "(its max_message_mb); the message was refused"
    )


@dataclass
class _Runtime:
    """One attempt at running the server: what exists while its task runs."""

    session: ClientSession | None = None
    stdio: Transport | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    settled: asyncio.Event = field(default_factory=asyncio.Event)
    lost: bool = False
    http_error: int | None = None
    restart_reason: str | None = None
    """Set when this attempt is to be ended and the server started again."""


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
        self._not_starting = asyncio.Event()
        self._state: ServerState = "disabled"
        self.state = "starting" if config.enabled else "disabled"
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
        self._restart_task: asyncio.Task[None] | None = None
        self._restarts: list[float] = []
        self._watchdogs: set[asyncio.Task[None]] = set()
        secrets = list(config.env.values()) + list(config.http_headers.values())
        if config.bearer_token_env_var:
            secrets.append(env.get(config.bearer_token_env_var, ""))
        self.redact = Redactor(secrets)
        mask_secrets_in_logs(secrets)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def state(self) -> ServerState:
        return self._state

    @state.setter
    def state(self, state: ServerState) -> None:
        self._state = state
        if state == "starting":
            self._not_starting.clear()
        else:
            self._not_starting.set()

    async def wait_settled(self, limit_s: float) -> bool:
        """Waits (at most `limit_s`) while the server is starting; whether it is past that.

        The start itself is bounded by the server's startup timeout, so this returns on
        time even with a generous limit.
        """
        try:
            await asyncio.wait_for(self._not_starting.wait(), limit_s)
        except TimeoutError:
            return False
        return True

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Returns once the server is ready or has failed, within its startup timeout."""
        if not self.config.enabled or self._task is not None:
            return
        await self._attempt()

    async def _attempt(self) -> None:
        runtime = _Runtime()
        self._runtime = runtime
        self.state = "starting"
        task = asyncio.create_task(self._run(runtime), name=f"mcp-server:{self.name}")
        self._task = task
        try:
            await asyncio.wait_for(runtime.settled.wait(), timeout=self.config.startup_timeout_s)
        except TimeoutError:
            if self._runtime is runtime and self.state == "starting":
                self._fail(f"did not start within {self.config.startup_timeout_s:g} s")
            task.cancel()

    async def aclose(self) -> None:
        """Ends the session, the server and everything it started."""
        self._closing = True
        self._runtime.wake.set()
        for watchdog in list(self._watchdogs):
            watchdog.cancel()
        restart = self._restart_task
        if restart is not None:
            restart.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await restart
        task = self._task
        if task is not None and self.state == "starting":
            task.cancel()  # still in `initialize`: nothing to say goodbye to
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        # A server that failed, or one that never got its task, may still have children.
        await asyncio.to_thread(end_marked_processes, self._marker)
        self.tools = []
        self._not_starting.set()  # it will not start now: nobody may wait for it

    # -- the server's task ---------------------------------------------------------------------

    async def _run(self, runtime: _Runtime) -> None:
        try:
            await self._serve(runtime)
        finally:
            if runtime.restart_reason is not None and not self._closing:
                self._restart_task = asyncio.create_task(
                    self._restart(runtime.restart_reason), name=f"mcp-restart:{self.name}"
                )

    async def _serve(self, runtime: _Runtime) -> None:
        try:
            async with AsyncExitStack() as stack:
                read_stream, write_stream = await stack.enter_async_context(
                    self._transport(runtime)
                )
                watched = await stack.enter_async_context(self._watched(runtime, read_stream))
                session = await stack.enter_async_context(
                    ClientSession(
                        watched,
                        write_stream,
                        message_handler=self._on_message,
                        client_info=CLIENT_INFO,
                    )
                )
                await session.initialize()
                tools = await self._list_tools(session)
                if runtime is not self._runtime or self.state != "starting":
                    return  # given up on (a startup timeout) while it answered
                runtime.session = session
                self.tools = tools
                self.state = "ready"
                self.error = None
                logger.info("MCP server %s is ready with %d tools", self.name, len(self.tools))
                runtime.settled.set()
                self._notify()
                await runtime.wake.wait()
                runtime.session = None
            # The transport is down: the server's last words are in the stderr tail now.
            if runtime.lost and runtime.restart_reason is None and not self._closing:
                self._fail("the server closed the connection")
        except asyncio.CancelledError:
            if self._closing or self.state == "failed" or runtime is not self._runtime:
                return  # our own doing: a startup timeout or close
            raise
        except Exception as exc:
            # (An attempt being ended for a restart may end noisily; it is not a failure.)
            if not self._closing and runtime is self._runtime and runtime.restart_reason is None:
                self._fail(self._startup_or_runtime(runtime, exc))
        finally:
            runtime.session = None
            runtime.settled.set()

    async def _restart(self, reason: str) -> None:
        """Starts the server again after its last attempt ended; gives up if it keeps on."""
        now = time.monotonic()
        self._restarts = [t for t in self._restarts if now - t < _RESTART_WINDOW_S]
        if len(self._restarts) >= _MAX_RESTARTS:
            self._fail(
                f"{reason}; restarted {len(self._restarts)} times within "
                f"{_RESTART_WINDOW_S:g} s, so it is left stopped"
            )
            return
        self._restarts.append(now)
        logger.warning("MCP server %s %s; starting it again", self.name, self.redact(reason))
        # What the last attempt started goes before the next attempt starts.
        await asyncio.to_thread(end_marked_processes, self._marker)
        if not self._closing:
            await self._attempt()

    def _request_restart(self, runtime: _Runtime, reason: str) -> None:
        """Ends this attempt (without the grace: the server misbehaved) to start anew.

        The state is `starting` from here on, so calls and turns wait for the new attempt
        instead of finding the tools gone.
        """
        if runtime is not self._runtime or runtime.restart_reason is not None or self._closing:
            return
        runtime.restart_reason = reason
        if runtime.stdio is not None:
            runtime.stdio.abort = True
        self.state = "starting"
        self.tools = []
        self._notify()
        runtime.wake.set()

    @asynccontextmanager
    async def _transport(self, runtime: _Runtime) -> AsyncIterator[TransportStreams]:
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

            async def note_status(response: httpx2.Response) -> None:
                # The SDK reports a rejected POST without its status; keep the last one.
                runtime.http_error = response.status_code if response.status_code >= 400 else None

            hooks = {"response": [note_status]}
            async with (
                httpx2.AsyncClient(headers=headers, timeout=timeout, event_hooks=hooks) as client,
                streamable_http_client(
                    config.url, http_client=client, max_sse_event_size=config.max_message_bytes
                ) as streams,
            ):
                yield streams
            return
        assert config.command is not None
        env = self._env | dict(config.env) | {SERVER_ENV_VAR: self._marker}
        cwd = Path(config.cwd) if config.cwd else Path.cwd()
        # Probing for bwrap runs a process once; not on the event loop. The spawn itself
        # stays on the loop's thread, which the parent-death signal is tied to.
        argv = await asyncio.to_thread(contained_argv, [config.command, *config.args], cwd)
        async with stdio_transport(
            argv, env=env, cwd=config.cwd, max_message_bytes=config.max_message_bytes
        ) as (streams, transport):
            runtime.stdio = transport
            yield streams

    @asynccontextmanager
    async def _watched(self, runtime: _Runtime, source: _ReadStream) -> AsyncIterator[_ReadStream]:
        """The transport's read stream, passed through a task that notices its end.

        The SDK session gives no signal when the server goes away; the end of this stream
        is that signal.
        """
        sink, watched = anyio.create_memory_object_stream[SessionMessage | Exception](0)
        task = asyncio.create_task(self._forward(runtime, source, sink))
        try:
            yield watched
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _forward(self, runtime: _Runtime, source: _ReadStream, sink: _WriteStream) -> None:
        try:
            async with sink:
                async for item in source:
                    await sink.send(item)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream):
            pass
        finally:
            refused = runtime.stdio.refused if runtime.stdio is not None else None
            if refused is not None and self.state == "ready":
                logger.warning(
                    "MCP server %s sent a message of more than %s (max_message_mb)",
                    self.name,
                    describe_size(refused.limit),
                )
                self._request_restart(runtime, _too_large(refused))
            runtime.lost = True
            runtime.wake.set()

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
        runtime = self._runtime
        session = runtime.session
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
            if self.state != "ready" or runtime is not self._runtime:
                return
            self.tools = tools
            logger.info("MCP server %s changed its tools (%d now)", self.name, len(tools))
            self._notify()

    # -- state ---------------------------------------------------------------------------------

    def _startup_or_runtime(self, runtime: _Runtime, exc: BaseException) -> str:
        refused = runtime.stdio.refused if runtime.stdio is not None else None
        if refused is not None:
            return f"the server {_too_large(refused)} before it finished starting"
        closed = any(
            isinstance(leaf, MCPError) and leaf.code == types.CONNECTION_CLOSED
            for leaf in _leaf_errors(exc)
        )
        if closed and self.state == "starting":
            return "the server exited (or closed its output) before it finished starting"
        status = runtime.http_error
        if status is not None:
            hint = ""
            if status in (401, 403):
                hint = " (check the token: bearer_token_env_var / http_headers)"
            return f"HTTP {status} from {self.config.url}{hint}"
        return describe_error(exc)

    def _fail(self, reason: str) -> None:
        runtime = self._runtime
        tail = runtime.stdio.stderr.text(_STATUS_STDERR_BYTES) if runtime.stdio else ""
        message = f"{reason}\nstderr: {tail}" if tail else reason
        self.error = self.redact(message)
        self.state = "failed"
        self.tools = []
        runtime.settled.set()
        runtime.wake.set()
        logger.warning("MCP server %s failed: %s", self.name, self.error)
        self._notify()

    def stderr_tail(self) -> str:
        """What the server last wrote to stderr (kept in memory, bounded), redacted."""
        stdio = self._runtime.stdio
        return self.redact(stdio.stderr.text()) if stdio is not None else ""

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
        if self.state == "starting":  # being started again: the call waits for it
            await self.wait_settled(self.config.startup_timeout_s)
        runtime = self._runtime
        session = runtime.session
        if self.state != "ready" or session is None:
            why = f": {self.error}" if self.error else ""
            return error_result(f"MCP server {self.name!r} is not available{why}")
        timeout = self.config.tool_timeout_s
        try:
            result = await session.call_tool(tool, arguments, read_timeout_seconds=timeout)
        except asyncio.CancelledError:
            self._after_abandoned_call(runtime)
            raise
        except MCPError as exc:
            refused = runtime.stdio.refused if runtime.stdio is not None else None
            if exc.code == types.REQUEST_TIMEOUT:
                self._after_abandoned_call(runtime)
                text = f"the MCP tool {tool!r} did not answer within {timeout:g} s"
            elif exc.code == types.CONNECTION_CLOSED and refused is not None:
                text = (
                    f"MCP server {self.name!r} {_too_large(refused)}, and the server was "
                    "started again. Ask the tool for less at a time (a narrower query, a "
                    "page, a summary)."
                )
            elif exc.code == types.CONNECTION_CLOSED and "byte limit" in exc.message:
                # over HTTP: an event over max_sse_event_size, which is our max_message_mb
                text = (
                    f"MCP server {self.name!r} sent a message larger than "
                    f"{describe_size(self.config.max_message_bytes)} (its max_message_mb); "
                    "the message was refused. Ask the tool for less at a time."
                )
            elif exc.code == types.CONNECTION_CLOSED:
                text = f"MCP server {self.name!r} closed the connection during the call"
            else:
                text = f"MCP error {exc.code}: {exc.message}"
            return error_result(self.redact(text))
        except Exception as exc:
            return error_result(self.redact(f"the MCP call failed: {describe_error(exc)}"))
        return render_result(result)

    def _after_abandoned_call(self, runtime: _Runtime) -> None:
        """A call was stopped or timed out: if the server is half-way through a message
        (its answer, most likely), watch that it finishes, or start it again."""
        stdio = runtime.stdio
        if stdio is None or not stdio.mid_message or self._closing:
            return
        watchdog = asyncio.create_task(self._watch_mid_message(runtime, stdio))
        self._watchdogs.add(watchdog)
        watchdog.add_done_callback(self._watchdogs.discard)

    async def _watch_mid_message(self, runtime: _Runtime, stdio: Transport) -> None:
        seen = stdio.received
        while True:
            await asyncio.sleep(_MID_MESSAGE_GRACE_S)
            if runtime is not self._runtime or self.state != "ready" or not stdio.mid_message:
                return
            if stdio.received == seen:
                self._request_restart(
                    runtime,
                    f"stopped sending in the middle of a message for {_MID_MESSAGE_GRACE_S:g} s "
                    "after a call was stopped",
                )
                return
            seen = stdio.received

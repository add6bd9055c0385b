"""The stdio transport: the server's process, its messages in linear time, its stderr's tail.

The SDK's own stdio client joins every chunk to the unfinished line and splits the whole
again, so a message sent as one long line costs time quadratic in its length (30 MiB: ten
seconds of a core) and memory without a bound; and it writes the server's stderr wherever
it is told, which for a chatty server is a file that grows as long as the server runs.
This transport keeps the SDK's contract (the same streams, the same shutdown order: stdin
closed, a grace, then the process group ended) and differs where it matters:

- stdout is split by `LineSplitter`: each byte is searched for a newline once, and a line
  longer than the server's `max_message_mb` is refused as soon as it passes the limit,
  without waiting for its end. The connection then ends (see `Transport.refused`); the
  caller reports it and starts the server again.
- stderr is read into `StderrTail`, the last 64 KiB in memory, and nothing else is kept.
- `mid_message` and `lines` tell the caller whether the server stopped half-way through a
  message, which would glue its next answer to the broken one (see the connection's
  handling of a stopped call).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio
import anyio.abc
import mcp_types as types
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.client.stdio import get_default_environment
from mcp.shared.message import SessionMessage

__all__ = [
    "STDERR_TAIL_BYTES",
    "LineSplitter",
    "MessageTooLargeError",
    "StderrTail",
    "Transport",
    "stdio_transport",
]

logger = logging.getLogger("agentls.mcp")

STDERR_TAIL_BYTES = 64 * 1024
_READ_CHUNK = 256 * 1024
# A message this large is parsed in a worker thread, so the event loop (the editor's
# requests, other servers) is not held for the tenths of a second that takes.
_THREAD_PARSE_BYTES = 1024 * 1024
# After stdin is closed, how long a server may take to exit on its own; then TERM to its
# process group, and KILL after the same again. The SDK waits 2 s each.
_EXIT_GRACE_S = 2.0
_KILL_GRACE_S = 2.0
_POLL_S = 0.01
_STDERR_FLUSH_S = 0.2


class MessageTooLargeError(Exception):
    """A line from the server passed the size limit before it ended."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"a message of more than {size} bytes (the limit is {limit})")
        self.size = size
        self.limit = limit


class LineSplitter:
    """Newline-delimited messages out of a byte stream, each byte searched and copied once.

    Only the new chunk is searched for a newline; the pieces of an unfinished line are kept
    as they came and joined once, when its newline arrives. So a line of n bytes costs O(n)
    however it is chunked, and at most `limit` bytes (plus one chunk) are ever held. The
    newline (and a `\\r` before it) is not counted in the limit.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.lines = 0
        self.received = 0
        self._parts: list[bytes] = []  # the unfinished line, in the pieces it came in
        self._pending = 0

    @property
    def pending(self) -> int:
        """Bytes of a line begun and not finished."""
        return self._pending

    def feed(self, data: bytes) -> list[bytes]:
        """The lines `data` finishes, without their newline; raises past the limit."""
        self.received += len(data)
        lines: list[bytes] = []
        start = 0
        while (end := data.find(b"\n", start)) >= 0:
            size = self._pending + end - start
            cr = end > start and data[end - 1] == 0x0D
            if not cr and end == start and self._parts:
                cr = self._parts[-1].endswith(b"\r")
            if size - cr > self.limit:
                raise MessageTooLargeError(size - cr, self.limit)
            if self._parts:
                line = b"".join([*self._parts, memoryview(data)[start:end]])
                self._parts.clear()
                self._pending = 0
            else:
                line = data[start:end]
            lines.append(line[:-1] if cr else line)
            start = end + 1
        if start < len(data):
            rest = data[start:] if start else data
            self._parts.append(rest)
            self._pending += len(rest)
            # A trailing `\r` may yet be followed by its newline: not counted until then.
            counted = self._pending - rest.endswith(b"\r")
            if counted > self.limit:
                raise MessageTooLargeError(counted, self.limit)
        self.lines += len(lines)
        return lines


class StderrTail:
    """The last `limit` bytes a server wrote to stderr; older output is dropped as it comes."""

    def __init__(self, limit: int = STDERR_TAIL_BYTES) -> None:
        self.limit = limit
        self.total = 0
        self._tail = bytearray()

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        if len(data) >= self.limit:
            self._tail = bytearray(data[-self.limit :])
            return
        self._tail += data
        excess = len(self._tail) - self.limit
        if excess > 0:
            del self._tail[:excess]

    def text(self, limit: int | None = None) -> str:
        """The tail as text (its last `limit` bytes), starting at a line where one starts."""
        data = bytes(self._tail if limit is None else self._tail[-limit:])
        dropped = self.total - len(data)
        if dropped > 0:
            newline = data.find(b"\n")
            if 0 <= newline < len(data) - 1:
                data = data[newline + 1 :]
        text = data.decode("utf-8", errors="replace").strip()
        return f"[...] {text}" if dropped > 0 and text else text


def _parse(line: bytes) -> SessionMessage | Exception:
    """One line as a JSON-RPC message; a bad line is passed on as the error it is."""
    try:
        message = types.jsonrpc_message_adapter.validate_json(line, by_name=False)
    except ValueError as exc:
        # The SDK logs the line that failed; a huge one would flood the log.
        logger.warning("MCP server sent a line that is not JSON-RPC (%d bytes)", len(line))
        return exc
    return SessionMessage(message)


@dataclass
class Transport:
    """What the connection may ask of a running stdio transport."""

    process: anyio.abc.Process
    splitter: LineSplitter
    stderr: StderrTail
    refused: MessageTooLargeError | None = None
    """Set when the server sent a message over the limit; the read stream then ends."""
    abort: bool = False
    """Set to end the server without the grace (it misbehaved; nothing to wait for)."""
    stderr_done: anyio.Event = field(default_factory=anyio.Event)

    @property
    def mid_message(self) -> bool:
        return self.splitter.pending > 0

    @property
    def lines(self) -> int:
        return self.splitter.lines

    @property
    def received(self) -> int:
        """Bytes read from stdout so far: whether the server is still sending."""
        return self.splitter.received


Streams = tuple[
    MemoryObjectReceiveStream[SessionMessage | Exception],
    MemoryObjectSendStream[SessionMessage],
]


@asynccontextmanager
async def stdio_transport(
    argv: list[str],
    *,
    env: Mapping[str, str],
    cwd: str | None,
    max_message_bytes: int,
) -> AsyncIterator[tuple[Streams, Transport]]:
    """Runs the server and yields the session's streams and the transport's state.

    Leaving ends the server whatever happens (shielded, every wait bounded): stdin is
    closed, the server gets a grace to exit (none when `abort` is set), then its process
    group is sent TERM, then KILL.
    """
    process = await anyio.open_process(
        argv,
        env=get_default_environment() | dict(env),
        cwd=cwd,
        start_new_session=True,
    )
    # No await until the task group is entered, or a cancel in the gap leaks the process.
    to_session, from_server = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    to_server, from_session = anyio.create_memory_object_stream[SessionMessage](0)
    transport = Transport(process, LineSplitter(max_message_bytes), StderrTail())

    async with anyio.create_task_group() as group:
        group.start_soon(_read_stdout, transport, to_session)
        group.start_soon(_read_stderr, transport)
        group.start_soon(_write_stdin, transport, from_session, to_session)
        try:
            yield (from_server, to_server), transport
        finally:
            with anyio.CancelScope(shield=True):
                await _shutdown(transport, from_server, to_server)
            group.cancel_scope.cancel()


async def _read_stdout(
    transport: Transport, to_session: MemoryObjectSendStream[SessionMessage | Exception]
) -> None:
    stdout = transport.process.stdout
    assert stdout is not None
    async with to_session:
        await _deliver(transport, stdout, to_session)
    # Whatever comes after is read and dropped: a server blocked on a full pipe could not
    # see its stdin close, nor exit.
    await _drain(stdout)


async def _deliver(
    transport: Transport,
    stdout: anyio.abc.ByteReceiveStream,
    to_session: MemoryObjectSendStream[SessionMessage | Exception],
) -> None:
    splitter = transport.splitter
    while True:
        try:
            data = await stdout.receive(_READ_CHUNK)
        except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
            return
        except OSError:
            logger.warning("reading an MCP server's output failed", exc_info=True)
            return
        try:
            lines = splitter.feed(data)
        except MessageTooLargeError as exc:
            transport.refused = exc
            return  # the session sees the stream end; the caller restarts the server
        for line in lines:
            if not line.strip():
                continue
            if len(line) >= _THREAD_PARSE_BYTES:
                item = await anyio.to_thread.run_sync(_parse, line)
            else:
                item = _parse(line)
            try:
                await to_session.send(item)
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                return


async def _read_stderr(transport: Transport) -> None:
    """Always read, so the server never blocks on a full pipe; only the tail is kept."""
    stderr = transport.process.stderr
    assert stderr is not None
    try:
        with contextlib.suppress(
            anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError, OSError
        ):
            while True:
                transport.stderr.feed(await stderr.receive(_READ_CHUNK))
    finally:
        transport.stderr_done.set()


async def _write_stdin(
    transport: Transport,
    from_session: MemoryObjectReceiveStream[SessionMessage],
    to_session: MemoryObjectSendStream[SessionMessage | Exception],
) -> None:
    stdin = transport.process.stdin
    assert stdin is not None
    try:
        async with from_session:
            async for message in from_session:
                data = message.message.model_dump_json(by_alias=True, exclude_unset=True)
                await stdin.send(data.encode() + b"\n")
    except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
        # The server stopped reading: end the session's stream, or a request would wait
        # for an answer that cannot come.
        await to_session.aclose()


async def _shutdown(
    transport: Transport,
    from_server: MemoryObjectReceiveStream[SessionMessage | Exception],
    to_server: MemoryObjectSendStream[SessionMessage],
) -> None:
    process = transport.process
    # The reader stops delivering and only drains from here on, so a server blocked on a
    # full pipe can see its stdin close and exit.
    from_server.close()
    to_server.close()
    if process.stdin is not None:
        with contextlib.suppress(OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
            await process.stdin.aclose()
    grace = 0.0 if transport.abort else _EXIT_GRACE_S
    # What a server that exited on time leaves behind is the caller's to end (by the
    # environment mark): its group id may belong to someone else by now.
    if not await _exited(process, grace):
        _signal_group(process, signal.SIGTERM)
        if not await _exited(process, _KILL_GRACE_S):
            _signal_group(process, signal.SIGKILL)
            await _exited(process, _KILL_GRACE_S)
    if process.returncode is not None:
        # Its last words (why it failed) may still be in the pipe; a child that holds the
        # pipe open must not hold the shutdown up, hence the bound.
        with anyio.move_on_after(_STDERR_FLUSH_S):
            await transport.stderr_done.wait()
    else:
        logger.warning("MCP server process %d outlived SIGKILL; left behind", process.pid)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                with contextlib.suppress(OSError, anyio.ClosedResourceError):
                    await stream.aclose()
        return
    with contextlib.suppress(OSError, ProcessLookupError):
        await process.aclose()  # closes the pipes; the process has exited, so no wait


async def _drain(stream: anyio.abc.ByteReceiveStream | None) -> None:
    if stream is None:
        return
    with contextlib.suppress(
        anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError, OSError
    ):
        while True:
            await stream.receive(_READ_CHUNK)


async def _exited(process: anyio.abc.Process, within_s: float) -> bool:
    """Polls `returncode`: `wait()` also waits for the pipes, which a child may hold open."""
    deadline = anyio.current_time() + within_s
    while process.returncode is None:
        if anyio.current_time() >= deadline:
            return False
        await anyio.sleep(_POLL_S)
    return True


def _signal_group(process: anyio.abc.Process, signum: int) -> None:
    # The server leads its own session (start_new_session), so its pid is its group's id.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)

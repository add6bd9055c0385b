"""A minimal JSON-RPC (LSP framing) client that drives a real `agentls serve` over stdio.

Lighter than pygls's client on purpose: frames are parsed in `pipe_data_received` without
an await per message, so the client's own cost stays far below the server's. It also keeps
wire-level books: how many responses arrived for each request id, and responses for ids
that were never sent, so tests can prove "every request answered exactly once".
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import json
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import orjson

Json = dict[str, Any]
NotificationHandler = Callable[[Any], None]
RequestHandler = Callable[[Any], Any]

SERVER_COMMAND = [sys.executable, "-m", "agentls", "serve"]


class RpcError(Exception):
    """A JSON-RPC error answer."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.data = data


class ServerGone(Exception):  # noqa: N818 - reads better at the raise site
    """The server process exited (or was killed) while a request was open."""


class _Protocol(asyncio.SubprocessProtocol):
    def __init__(self, client: LspClient) -> None:
        self.client = client
        self.buffer = bytearray()

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        if fd != 1:
            return
        buf = self.buffer
        buf += data
        pos = 0
        size = len(buf)
        while True:
            header_end = buf.find(b"\r\n\r\n", pos)
            if header_end < 0:
                break
            length = -1
            for line in bytes(buf[pos:header_end]).split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            if length < 0:
                self.client.protocol_errors.append("frame without Content-Length")
                pos = header_end + 4
                continue
            start = header_end + 4
            end = start + length
            if end > size:
                break
            body = bytes(buf[start:end])
            pos = end
            try:
                message = orjson.loads(body)
            except orjson.JSONDecodeError:
                try:  # valid JSON that orjson refuses: escaped lone surrogates ("\\udfff")
                    message = json.loads(body)
                except ValueError:
                    self.client.protocol_errors.append(f"invalid JSON frame: {body[:200]!r}")
                    continue
            self.client._dispatch(message)
        if pos:
            del buf[:pos]

    def process_exited(self) -> None:
        self.client._on_exit()


class LspClient:
    """One server process and the books kept about its traffic."""

    def __init__(self) -> None:
        self.transport: asyncio.SubprocessTransport | None = None
        self.pid: int = 0
        self.spawned_at = 0.0
        self.exited: asyncio.Future[None] | None = None
        self._ids = itertools.count(1)
        self._pending: dict[Any, asyncio.Future[Any]] = {}
        self.sent_ids: set[Any] = set()
        self.response_counts: Counter[Any] = Counter()
        self.unknown_responses: list[Json] = []
        self.protocol_errors: list[str] = []
        self.notifications: dict[str, NotificationHandler] = {}
        self.requests: dict[str, RequestHandler] = {}
        self.server_requests: Counter[str] = Counter()
        self.server_cancels: list[Any] = []
        self._server_tasks: dict[Any, asyncio.Task[Any]] = {}
        self.stderr_path: Path | None = None
        self._stdin: asyncio.WriteTransport | None = None

    # -- process ------------------------------------------------------------------------
    async def start(
        self,
        env: Mapping[str, str],
        *,
        cwd: Path | None = None,
        stderr_path: Path | None = None,
        command: list[str] | None = None,
    ) -> None:
        loop = asyncio.get_running_loop()
        self.exited = loop.create_future()
        self.stderr_path = stderr_path
        stderr: Any = asyncio.subprocess.DEVNULL
        handle = None
        if stderr_path is not None:
            handle = open(stderr_path, "ab")  # noqa: SIM115 - handed to the child
            stderr = handle
        try:
            self.spawned_at = time.perf_counter()
            transport, _ = await loop.subprocess_exec(
                lambda: _Protocol(self),
                *(command or SERVER_COMMAND),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
                env=dict(env),
                cwd=str(cwd) if cwd else None,
            )
        finally:
            if handle is not None:
                handle.close()
        self.transport = transport
        self.pid = transport.get_pid()
        stdin = transport.get_pipe_transport(0)
        assert isinstance(stdin, asyncio.WriteTransport)
        self._stdin = stdin

    def _on_exit(self) -> None:
        if self.exited is not None and not self.exited.done():
            self.exited.set_result(None)
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ServerGone(f"server {self.pid} exited"))
        self._pending.clear()
        for task in self._server_tasks.values():
            task.cancel()

    @property
    def alive(self) -> bool:
        return self.exited is not None and not self.exited.done()

    def kill(self, sig: int = signal.SIGKILL) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, sig)

    async def wait_exit(self, timeout: float = 10.0) -> None:
        assert self.exited is not None
        await asyncio.wait_for(asyncio.shield(self.exited), timeout)

    async def close(self, timeout: float = 10.0) -> None:
        """Orderly shutdown/exit; kill when that does not work in time."""
        if self.alive:
            try:
                await self.request("shutdown", None, timeout=timeout)
                self.notify("exit", None)
                await self.wait_exit(timeout)
            except (RpcError, ServerGone, TimeoutError, OSError):
                self.kill()
        if self.alive:
            self.kill()
            with contextlib.suppress(TimeoutError):
                await self.wait_exit(timeout)
        if self.transport is not None:
            self.transport.close()

    # -- wire -----------------------------------------------------------------------------
    def _write(self, message: Json) -> None:
        try:
            body = orjson.dumps(message)
        except TypeError:  # integers beyond 64 bits, which fuzzing sends on purpose
            body = json.dumps(message).encode()
        if self._stdin is None or self._stdin.is_closing():
            raise ServerGone("server stdin is closed")
        self._stdin.write(b"Content-Length: %d\r\n\r\n%b" % (len(body), body))

    def _dispatch(self, message: Any) -> None:
        if not isinstance(message, dict):
            self.protocol_errors.append(f"message is not an object: {message!r:.200}")
            return
        method = message.get("method")
        if method is None:
            self._on_response(message)
        elif "id" in message:
            self._on_server_request(message)
        else:
            handler = self.notifications.get(method)
            if method == "$/cancelRequest":
                params = message.get("params") or {}
                self.server_cancels.append(params.get("id"))
                task = self._server_tasks.get(params.get("id"))
                if task is not None:
                    task.cancel()
            if handler is not None:
                handler(message.get("params"))

    def _on_response(self, message: Json) -> None:
        msg_id = message.get("id")
        if msg_id not in self.sent_ids:
            self.unknown_responses.append(message)
            return
        self.response_counts[msg_id] += 1
        future = self._pending.pop(msg_id, None)
        if future is None or future.done():
            return
        if "error" in message and message["error"] is not None:
            error = message["error"]
            future.set_exception(
                RpcError(int(error.get("code", 0)), str(error.get("message")), error.get("data"))
            )
        else:
            future.set_result(message.get("result"))

    def _on_server_request(self, message: Json) -> None:
        method = message["method"]
        msg_id = message["id"]
        self.server_requests[method] += 1
        handler = self.requests.get(method)

        async def answer() -> None:
            try:
                result = handler(message.get("params")) if handler is not None else None
                if inspect.isawaitable(result):
                    result = await result
                reply: Json = {"jsonrpc": "2.0", "id": msg_id, "result": result}
            except asyncio.CancelledError:
                reply = {
                    "jsonrpc": "2.0",
                    "id": msg_id,
                    "error": {"code": -32800, "message": "cancelled"},
                }
            except Exception as exc:
                reply = {
                    "jsonrpc": "2.0",
                    "id": msg_id,
                    "error": {"code": -32603, "message": str(exc)},
                }
            finally:
                self._server_tasks.pop(msg_id, None)
            with contextlib.suppress(ServerGone):
                self._write(reply)

        task = asyncio.get_running_loop().create_task(answer())
        self._server_tasks[msg_id] = task

    def start_request(
        self, method: str, params: Any, msg_id: Any = None
    ) -> tuple[Any, asyncio.Future[Any]]:
        """Send now; returns (id, future). A cancel sent after this cannot overtake it."""
        if msg_id is None:
            msg_id = f"r{next(self._ids)}"
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if not self.alive:
            future.set_exception(ServerGone("server is not running"))
            return msg_id, future
        self.sent_ids.add(msg_id)
        self._pending[msg_id] = future
        message: Json = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if params is not None:
            message["params"] = params
        self._write(message)
        return msg_id, future

    async def request(
        self, method: str, params: Any, *, timeout: float | None = 30.0, msg_id: Any = None
    ) -> Any:
        _, future = self.start_request(method, params, msg_id)
        if timeout is None:
            return await future
        return await asyncio.wait_for(future, timeout)

    def notify(self, method: str, params: Any) -> None:
        message: Json = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self._write(message)

    def cancel(self, msg_id: Any) -> None:
        self.notify("$/cancelRequest", {"id": msg_id})

    def raw_write(self, data: bytes) -> None:
        """Bytes as they are, for tests of framing itself."""
        assert self._stdin is not None
        self._stdin.write(data)

    def raw_request(self, body: bytes, msg_id: Any) -> asyncio.Future[Any]:
        """Send a hand-made body (framed here) and book an answer for `msg_id`."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.sent_ids.add(msg_id)
        self._pending[msg_id] = future
        self.raw_write(b"Content-Length: %d\r\n\r\n%b" % (len(body), body))
        return future

    # -- books ----------------------------------------------------------------------------
    def unanswered(self) -> list[Any]:
        return sorted(str(i) for i in self.sent_ids if self.response_counts[i] == 0)

    def answered_twice(self) -> list[Any]:
        return sorted(str(i) for i, n in self.response_counts.items() if n > 1)

    # -- LSP ------------------------------------------------------------------------------
    async def initialize(
        self,
        workspace: Path,
        init_options: Mapping[str, Any] | None = None,
        *,
        capabilities: Mapping[str, Any] | None = None,
        timeout: float = 30.0,
    ) -> Any:
        uri = workspace.as_uri()
        result = await self.request(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": uri,
                "workspaceFolders": [{"uri": uri, "name": workspace.name}],
                "capabilities": dict(capabilities or {}),
                "initializationOptions": dict(init_options or {}),
            },
            timeout=timeout,
        )
        self.notify("initialized", {})
        return result


async def wait_for(check: Callable[[], bool], timeout: float, interval: float = 0.002) -> bool:
    """Poll `check` until true or `timeout` seconds pass; bounded by construction."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(interval)


async def gather_bounded(awaitables: list[Awaitable[Any]], timeout: float) -> list[Any]:
    return await asyncio.wait_for(asyncio.gather(*awaitables, return_exceptions=True), timeout)

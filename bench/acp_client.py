"""A light ACP client for the benchmarks (bench/acp_bench.py takes the figures with it).

ACP (Agent Client Protocol v1) is JSON-RPC 2.0, one JSON object per line on the agent's
stdin/stdout. The client here is not the SDK's (`acp.stdio.spawn_agent_process`, which the
end-to-end tests use): the SDK validates every `session/update` into pydantic models, which
costs the client more per delta than some agents spend sending one, so a deltas-per-second
figure would measure the client. This one parses each line with orjson in
`pipe_data_received` and counts updates by kind without an await per message, as
bench/codex_app.py does for the Codex app-server.

(Not `bench/acp.py`: with `bench` among ruff's `src` folders, a module named `acp` there
makes ruff sort the SDK's `acp` package as first-party code across the repository, and
`python bench/<script>.py` would import it in place of the SDK.)
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

Json = dict[str, Any]
UpdatePredicate = Callable[[str, Json], bool]

PROTOCOL_VERSION = 1
CHUNK = "agent_message_chunk"


class AcpGone(Exception):  # noqa: N818 - reads better at the raise site
    """The agent exited while a request was open."""


class AcpError(Exception):
    """A JSON-RPC error answer."""

    def __init__(self, error: Json) -> None:
        super().__init__(f"{error.get('code')}: {error.get('message')} {error.get('data') or ''}")
        self.error = error


class _Lines(asyncio.SubprocessProtocol):
    def __init__(self, client: AcpClient) -> None:
        self.client = client
        self.buffer = bytearray()

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        if fd != 1:
            return
        buf = self.buffer
        buf += data
        start = 0
        while (end := buf.find(b"\n", start)) >= 0:
            line = bytes(buf[start:end])
            start = end + 1
            if line.strip():
                self.client._dispatch(orjson.loads(line))
        if start:
            del buf[:start]

    def process_exited(self) -> None:
        self.client._on_exit()


class AcpClient:
    """One ACP agent process seen from an editor: requests, permission answers, and books of
    the `session/update`s it sent (counts by kind, the time of the last one, and every update
    other than a message chunk, for the checks)."""

    def __init__(self, permission: str = "allow_once") -> None:
        self.permission = permission  # the option kind picked when asked
        self.transport: asyncio.SubprocessTransport | None = None
        self.pid = 0
        self.spawned_at = 0.0
        self.initialize_ms = 0.0
        self.exited: asyncio.Future[None] | None = None
        self.counts: Counter[str] = Counter()
        self.updates = 0
        self.last_at: dict[str, float] = {}  # by kind: when the last one arrived
        self.chunk_chars = 0  # text of every agent_message_chunk, in characters
        # ... of those made of x's and spaces only: the fake's `stream: N` answer ("x " N
        # times), counted apart from other text an agent adds to a turn (codex-acp sends a
        # warning that it has no metadata for the model first)
        self.stream_chars = 0
        self.stream_chunks = 0
        self.kept: list[tuple[str, Json]] = []
        self.asked: list[Json] = []
        self.asked_at: list[float] = []
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._waiters: list[tuple[UpdatePredicate, asyncio.Future[Json]]] = []
        self._stdin: asyncio.WriteTransport | None = None

    async def start(
        self, command: list[str], env: dict[str, str], cwd: Path, stderr: Path | None = None
    ) -> None:
        loop = asyncio.get_running_loop()
        self.exited = loop.create_future()
        err = open(stderr, "ab") if stderr is not None else None  # noqa: SIM115
        try:
            self.spawned_at = time.perf_counter()
            transport, _ = await loop.subprocess_exec(
                lambda: _Lines(self),
                *command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=err or asyncio.subprocess.DEVNULL,
                env=env,
                cwd=str(cwd),
                start_new_session=True,  # its tool processes can be found and killed as a group
            )
        finally:
            if err is not None:
                err.close()
        self.transport = transport
        self.pid = transport.get_pid()
        stdin = transport.get_pipe_transport(0)
        assert isinstance(stdin, asyncio.WriteTransport)
        self._stdin = stdin

    async def initialize(self, timeout: float = 60) -> Json:
        """`initialize` as an editor without files or terminals of its own sends it; the
        time from the spawn to its answer is `initialize_ms`."""
        result: Json = await self.request(
            "initialize",
            {
                "protocolVersion": PROTOCOL_VERSION,
                "clientCapabilities": {
                    "fs": {"readTextFile": False, "writeTextFile": False},
                    "terminal": False,
                },
                "clientInfo": {"name": "agentls-bench", "version": "0"},
            },
            timeout=timeout,
        )
        self.initialize_ms = (time.perf_counter() - self.spawned_at) * 1000
        return result

    # -- wire -----------------------------------------------------------------------------
    def _write(self, message: Json) -> None:
        if self._stdin is None or self._stdin.is_closing():
            raise AcpGone("agent stdin is closed")
        self._stdin.write(orjson.dumps(message) + b"\n")

    def _dispatch(self, message: Json) -> None:
        method = message.get("method")
        if method is None:
            future = self._pending.pop(message.get("id", -1), None)
            if future is not None and not future.done():
                if message.get("error") is not None:
                    future.set_exception(AcpError(message["error"]))
                else:
                    future.set_result(message.get("result"))
            return
        params = message.get("params") or {}
        if "id" in message:
            self._answer(message["id"], method, params)
            return
        if method != "session/update":
            return
        update = params.get("update") or {}
        kind = update.get("sessionUpdate", "?")
        self.counts[kind] += 1
        self.updates += 1
        self.last_at[kind] = time.perf_counter()
        if kind == CHUNK:
            text = (update.get("content") or {}).get("text") or ""
            self.chunk_chars += len(text)
            if text and not text.strip("x "):
                self.stream_chars += len(text)
                self.stream_chunks += 1
            return  # counted only: a stream is tens of thousands of them
        session_id = str(params.get("sessionId"))
        self.kept.append((session_id, update))
        for waiter in list(self._waiters):
            predicate, future = waiter
            if future.done():
                self._waiters.remove(waiter)
            elif predicate(session_id, update):
                future.set_result(update)
                self._waiters.remove(waiter)

    def _answer(self, msg_id: Any, method: str, params: Json) -> None:
        """The agent's requests: a permission is granted with the option of the kind asked
        for (`allow_once`), anything else (files, terminals: not offered) is refused."""
        if method == "session/request_permission":
            self.asked.append(params)
            self.asked_at.append(time.perf_counter())
            options = params.get("options") or []
            chosen = next((o for o in options if o.get("kind") == self.permission), None)
            outcome: Json = {"outcome": "cancelled"}
            if chosen is not None:
                outcome = {"outcome": "selected", "optionId": chosen["optionId"]}
            self._write({"jsonrpc": "2.0", "id": msg_id, "result": {"outcome": outcome}})
            return
        error = {"code": -32601, "message": f"the bench client does not offer {method}"}
        self._write({"jsonrpc": "2.0", "id": msg_id, "error": error})

    def _on_exit(self) -> None:
        if self.exited is not None and not self.exited.done():
            self.exited.set_result(None)
        for future in self._pending.values():
            if not future.done():
                future.set_exception(AcpGone(f"agent {self.pid} exited"))
        self._pending.clear()

    def start_request(self, method: str, params: Json) -> asyncio.Future[Any]:
        msg_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = future
        self._write({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        return future

    async def request(self, method: str, params: Json, timeout: float = 60) -> Any:
        return await asyncio.wait_for(self.start_request(method, params), timeout)

    def notify(self, method: str, params: Json) -> None:
        self._write({"jsonrpc": "2.0", "method": method, "params": params})

    def expect(self, predicate: UpdatePredicate) -> asyncio.Future[Json]:
        """The first update from now on that matches (message chunks are only counted)."""
        future: asyncio.Future[Json] = asyncio.get_running_loop().create_future()
        self._waiters.append((predicate, future))
        return future

    # -- sessions -------------------------------------------------------------------------
    async def new_session(self, cwd: Path, timeout: float = 60) -> str:
        result = await self.request("session/new", {"cwd": str(cwd), "mcpServers": []}, timeout)
        return str(result["sessionId"])

    def start_prompt(self, session_id: str, text: str) -> asyncio.Future[Any]:
        return self.start_request(
            "session/prompt",
            {"sessionId": session_id, "prompt": [{"type": "text", "text": text}]},
        )

    async def prompt(self, session_id: str, text: str, timeout: float = 60) -> str:
        """One prompt to its answer; returns the stop reason."""
        result = await asyncio.wait_for(self.start_prompt(session_id, text), timeout)
        return str(result["stopReason"])

    def cancel(self, session_id: str) -> None:
        self.notify("session/cancel", {"sessionId": session_id})

    async def load_session(self, session_id: str, cwd: Path, timeout: float = 300) -> Json:
        result: Json = await self.request(
            "session/load",
            {"sessionId": session_id, "cwd": str(cwd), "mcpServers": []},
            timeout,
        )
        return result or {}

    # -- process --------------------------------------------------------------------------
    @property
    def alive(self) -> bool:
        return self.exited is not None and not self.exited.done()

    async def close(self, timeout: float = 10) -> None:
        """As an editor ends an agent: close its stdin, then TERM, then KILL its group."""
        if self._stdin is not None:
            self._stdin.close()
        for sig in (None, signal.SIGTERM, signal.SIGKILL):
            if not self.alive:
                break
            if sig is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.pid, sig)
            assert self.exited is not None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.exited), timeout / 3)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)  # whatever of its group is left
        if self.transport is not None:
            self.transport.close()

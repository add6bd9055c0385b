"""Finding, installing and driving the Codex CLI app-server, the peer `make bench` measures.

The npm package `@openai/codex` carries a native binary per platform (an optional dependency
such as `@openai/codex-linux-x64`), so an install downloads everything once and nothing is
fetched when it runs. It goes into a cache outside the repository
(`${XDG_CACHE_HOME:-~/.cache}/agentls-bench/codex`).

The app-server speaks JSON-RPC without the `jsonrpc` member, one JSON object per line on
stdio (codex-rs/app-server-protocol). It is pointed at the fake model API with a custom model
provider given as `-c` overrides (`base_url`, `wire_api = "responses"`, `env_key`), and a
CODEX_HOME of its own per run, so nothing of the user's `~/.codex` is read or written.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

Json = dict[str, Any]
PACKAGE = "@openai/codex"
PROVIDER = "bench"
KEY_ENV = "AGENTLS_BENCH_CODEX_KEY"


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "agentls-bench" / "codex"


@dataclass(frozen=True)
class CodexInstall:
    binary: Path  # the native executable
    launcher: Path  # bin/codex.js, what `npx codex` / a global install runs through node
    node: str | None
    version: str


def _found(folder: Path) -> CodexInstall | None:
    binaries = sorted(folder.glob("node_modules/@openai/codex-*/vendor/*/bin/codex"))
    launcher = folder / "node_modules/@openai/codex/bin/codex.js"
    if not binaries or not os.access(binaries[0], os.X_OK):
        return None
    try:
        out = subprocess.run(
            [str(binaries[0]), "--version"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    return CodexInstall(binaries[0], launcher, shutil.which("node"), out.stdout.strip())


def ensure_codex(install: bool = True, timeout_s: float = 300) -> CodexInstall | str:
    """The installed peer, installing it first when allowed; else why it is not available."""
    folder = cache_dir()
    found = _found(folder)
    if found is not None:
        return found
    if not install:
        return f"not installed in {folder} (and --no-peer-install)"
    npm = shutil.which("npm")
    if npm is None:
        return "npm not found"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--prefix", str(folder), PACKAGE],
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        return f"npm install {PACKAGE} took over {timeout_s:.0f} s"
    except OSError as exc:
        return f"npm could not run: {exc}"
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return f"npm install {PACKAGE} failed: {' / '.join(tail)}"
    found = _found(folder)
    if found is None:
        return f"{PACKAGE} installed but no native binary for this platform in {folder}"
    return found


def provider_args(base_url: str, model: str = "gpt-5-mini") -> list[str]:
    provider = (
        f'{{name="{PROVIDER}", base_url="{base_url}", wire_api="responses", env_key="{KEY_ENV}"}}'
    )
    return [
        "-c",
        f'model_provider="{PROVIDER}"',
        "-c",
        f'model="{model}"',
        "-c",
        f"model_providers.{PROVIDER}={provider}",
    ]


def codex_env(home: Path, api_key: str) -> dict[str, str]:
    """A small environment: its own HOME and CODEX_HOME, the fake's key, no proxies."""
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "CODEX_HOME": str(home),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        KEY_ENV: api_key,
        "NO_PROXY": "127.0.0.1,localhost",
    }
    return env


class CodexGone(Exception):  # noqa: N818 - reads better at the raise site
    """The app-server exited while a request was open."""


class CodexError(Exception):
    def __init__(self, error: Json) -> None:
        super().__init__(f"{error.get('code')}: {error.get('message')}")
        self.error = error


class _Lines(asyncio.SubprocessProtocol):
    def __init__(self, client: CodexClient) -> None:
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


class CodexClient:
    """One `codex app-server` process: requests, and counters of what it notified."""

    def __init__(self) -> None:
        self.transport: asyncio.SubprocessTransport | None = None
        self.pid = 0
        self.spawned_at = 0.0
        self.initialize_ms = 0.0
        self.exited: asyncio.Future[None] | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self.counts: Counter[str] = Counter()
        self._waiters: list[tuple[Callable[[Json], bool], asyncio.Future[Json]]] = []
        self._stdin: asyncio.WriteTransport | None = None

    async def start(self, command: list[str], env: dict[str, str], cwd: Path) -> None:
        loop = asyncio.get_running_loop()
        self.exited = loop.create_future()
        self.spawned_at = time.perf_counter()
        transport, _ = await loop.subprocess_exec(
            lambda: _Lines(self),
            *command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=env,
            cwd=str(cwd),
            start_new_session=True,  # its tool processes can be found and killed as a group
        )
        self.transport = transport
        self.pid = transport.get_pid()
        stdin = transport.get_pipe_transport(0)
        assert isinstance(stdin, asyncio.WriteTransport)
        self._stdin = stdin

    async def initialize(self, timeout: float = 60) -> Json:
        result: Json = await self.request(
            "initialize",
            {
                "clientInfo": {"name": "agentls-bench", "version": "0"},
                "capabilities": {"experimentalApi": True},
            },
            timeout=timeout,
        )
        self.initialize_ms = (time.perf_counter() - self.spawned_at) * 1000
        self.notify("initialized")
        return result

    # -- wire -----------------------------------------------------------------------------
    def _write(self, message: Json) -> None:
        if self._stdin is None or self._stdin.is_closing():
            raise CodexGone("app-server stdin is closed")
        self._stdin.write(orjson.dumps(message) + b"\n")

    def _dispatch(self, message: Json) -> None:
        method = message.get("method")
        if method is None:
            future = self._pending.pop(message.get("id", -1), None)
            if future is not None and not future.done():
                if message.get("error") is not None:
                    future.set_exception(CodexError(message["error"]))
                else:
                    future.set_result(message.get("result"))
            return
        if "id" in message:  # a request of the server's (approvals): decline, never hang
            self._write({"id": message["id"], "result": {"decision": "decline"}})
            return
        self.counts[method] += 1
        if self._waiters and not method.endswith("/delta"):
            for waiter in list(self._waiters):
                predicate, future = waiter
                if future.done():
                    self._waiters.remove(waiter)
                elif predicate(message):
                    future.set_result(message)
                    self._waiters.remove(waiter)

    def _on_exit(self) -> None:
        if self.exited is not None and not self.exited.done():
            self.exited.set_result(None)
        for future in self._pending.values():
            if not future.done():
                future.set_exception(CodexGone(f"app-server {self.pid} exited"))
        self._pending.clear()

    def start_request(self, method: str, params: Json) -> asyncio.Future[Any]:
        msg_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = future
        self._write({"id": msg_id, "method": method, "params": params})
        return future

    async def request(self, method: str, params: Json, timeout: float = 60) -> Any:
        return await asyncio.wait_for(self.start_request(method, params), timeout)

    def notify(self, method: str, params: Json | None = None) -> None:
        message: Json = {"method": method}
        if params is not None:
            message["params"] = params
        self._write(message)

    def expect(self, predicate: Callable[[Json], bool]) -> asyncio.Future[Json]:
        """The first notification from now on that matches (deltas are only counted)."""
        future: asyncio.Future[Json] = asyncio.get_running_loop().create_future()
        self._waiters.append((predicate, future))
        return future

    # -- conversation ---------------------------------------------------------------------
    async def start_thread(self, cwd: Path) -> str:
        result = await self.request(
            "thread/start",
            {"cwd": str(cwd), "approvalPolicy": "never", "sandbox": "danger-full-access"},
        )
        return str(result["thread"]["id"])

    def turn_done(self, thread_id: str) -> asyncio.Future[Json]:
        return self.expect(
            lambda m: (
                m["method"] == "turn/completed" and m.get("params", {}).get("threadId") == thread_id
            )
        )

    async def turn(self, thread_id: str, text: str, timeout: float = 60) -> Json:
        """One turn to its end; returns the `turn` of `turn/completed`."""
        done = self.turn_done(thread_id)
        await self.request(
            "turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": text}]}
        )
        message = await asyncio.wait_for(done, timeout)
        turn: Json = message["params"]["turn"]
        return turn

    # -- process ------------------------------------------------------------------------
    @property
    def alive(self) -> bool:
        return self.exited is not None and not self.exited.done()

    async def close(self, timeout: float = 10) -> None:
        """Codex has no shutdown request: close stdin, then TERM, then KILL its group."""
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

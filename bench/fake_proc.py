"""The strict fake model API in a process of its own, so it never competes with the client's
event loop (or the client with it) while a benchmark is timed.

Child: `python -m bench.fake_proc --api-key K` prints `listening <base_url>`, then answers
one JSON line per command line on stdin: `stats` (requests since the last stats, their
total, every rejection so far, and `served_ms`: how long the fake itself took to serve each
model request since the last stats, from the request's arrival at its handler to the end of
the streamed answer), `quit`.
Parent: `FakeAPIProcess` starts it and asks for those figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent


def timed_api(api_key: str | None, base: type[Any] | None = None) -> Any:
    """A fake model API (`base`, default `FakeModelAPI`) that records the time it takes to
    serve each model request, so a turn's figure can be taken net of the fake's own work."""
    from fixtures.fake_api import FakeModelAPI

    class TimedAPI(base or FakeModelAPI):  # type: ignore[misc]
        served_ms: list[float]

        async def _responses(self, request: Any) -> Any:
            started = time.perf_counter()
            try:
                return await super()._responses(request)
            finally:
                self.served_ms.append((time.perf_counter() - started) * 1000)

        async def _chat(self, request: Any) -> Any:
            started = time.perf_counter()
            try:
                return await super()._chat(request)
            finally:
                self.served_ms.append((time.perf_counter() - started) * 1000)

    api = TimedAPI(api_key=api_key)
    api.served_ms = []
    return api


def stats_line(api: Any, total: int) -> tuple[dict[str, Any], int]:
    """The `stats` answer, and the new total; the books it reports are emptied."""
    new = len(api.requests)
    total += new
    # Request bodies carry whole histories; keep the child's memory flat.
    api.requests.clear()
    served = [round(ms, 3) for ms in api.served_ms]
    api.served_ms.clear()
    out = {"requests": new, "total": total, "rejected": api.rejected, "served_ms": served}
    return out, total


async def _child(api_key: str | None) -> None:
    api = timed_api(api_key)
    await api.start()
    total = 0
    print(f"listening {api.base_url}", flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        while line := await reader.readline():
            command = line.decode().strip()
            if command == "quit":
                break
            if command == "stats":
                out, total = stats_line(api, total)
                sys.stdout.buffer.write(orjson.dumps(out) + b"\n")
                sys.stdout.flush()
    finally:
        await api.stop()


class FakeAPIProcess:
    """The fake API in a child process, driven by one-line commands on its stdin."""

    module = "bench.fake_proc"  # the child's module; it prints `listening URL`

    def __init__(self, api_key: str | None, stderr_path: Path | None = None) -> None:
        self.api_key = api_key
        self.stderr_path = stderr_path
        self.process: asyncio.subprocess.Process | None = None
        self.base_url = ""
        self._lock = asyncio.Lock()

    async def start(self) -> FakeAPIProcess:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        args = [sys.executable, "-m", self.module]
        if self.api_key:
            args += ["--api-key", self.api_key]
        # aiohttp logs every client that hangs up early (which stops do, on purpose)
        stderr = open(self.stderr_path, "ab") if self.stderr_path else None  # noqa: SIM115
        try:
            self.process = await asyncio.create_subprocess_exec(
                *args,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr or asyncio.subprocess.DEVNULL,
                cwd=str(ROOT),
                env=env,
            )
        finally:
            if stderr is not None:
                stderr.close()
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), 30)
        text = line.decode().strip()
        if not text.startswith("listening "):
            raise RuntimeError(f"fake API did not start: {text!r}")
        self.base_url = text.split(" ", 1)[1]
        return self

    async def command(self, line: str) -> dict[str, Any]:
        """Send one command line and read the child's one-line JSON answer."""
        process = self.process
        assert process is not None and process.stdin is not None and process.stdout is not None
        async with self._lock:
            process.stdin.write(line.encode() + b"\n")
            await process.stdin.drain()
            answer = await asyncio.wait_for(process.stdout.readline(), 30)
        result: dict[str, Any] = orjson.loads(answer)
        return result

    async def stats(self) -> dict[str, Any]:
        return await self.command("stats")

    async def stop(self) -> None:
        process = self.process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(Exception):
            assert process.stdin is not None
            process.stdin.write(b"quit\n")
            await process.stdin.drain()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()

    async def __aenter__(self) -> FakeAPIProcess:
        return await self.start()

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fake_proc")
    parser.add_argument("--api-key", default=None)
    args = parser.parse_args()
    asyncio.run(_child(args.api_key))


if __name__ == "__main__":
    main()

"""What an MCP tool call costs through agentls, and how fast a stop takes effect.

Run from the repository root: `python -m bench.mcp [--runs N] [--stops N]`. Prints one
JSON object. Figures, per transport (stdio, Streamable HTTP on 127.0.0.1):

- `call_ms`: median time of `McpManager.call` on the fixture's `echo` tool, whose own time
  is a function returning its argument, so this is the whole cost a call adds (our code,
  the SDK on both sides, the pipe or the loopback HTTP). Aim: under 5 ms.
- `sdk_call_ms`: the same call on a bare SDK `ClientSession` to the same server, for
  comparison: the difference is what agentls itself adds.
- `stop_ms`: from cancelling the task awaiting a call of the `slow` tool to the
  `CancelledError` in that task (median and max). Aim: under 50 ms.
- `server_saw_stop_ms`: from the cancel to the server's own record of the cancellation
  (polled every millisecond, so up to ~1 ms high).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from agentls.mcp import McpManager, parse_server_configs

SERVER = Path(__file__).resolve().parents[1] / "fixtures" / "mcp" / "server.py"


async def _timed(call: Callable[[], Awaitable[Any]], runs: int) -> list[float]:
    await call()  # warm up: imports, first-use caches
    times: list[float] = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    return times


async def _stops(manager: McpManager, name: str, stops: int, root: Path) -> dict[str, float]:
    stop_ms: list[float] = []
    seen_ms: list[float] = []
    for i in range(stops):
        record = root / f"record-{name}-{i}"
        arguments = json.dumps({"seconds": 60, "record": str(record)})
        task = asyncio.create_task(manager.call(f"mcp__{name}__slow", arguments))
        # The server's record is a file: polling it is the only way to see it.
        while not record.exists():  # noqa: ASYNC110
            await asyncio.sleep(0.001)
        started = time.perf_counter()
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            stop_ms.append((time.perf_counter() - started) * 1000)
        else:
            raise AssertionError("the call was not cancelled")
        while "cancelled" not in record.read_text():  # noqa: ASYNC110
            await asyncio.sleep(0.001)
        seen_ms.append((time.perf_counter() - started) * 1000)
    return {
        "stop_ms": round(statistics.median(stop_ms), 2),
        "stop_max_ms": round(max(stop_ms), 2),
        "server_saw_stop_ms": round(statistics.median(seen_ms), 2),
    }


async def _bare_sdk_call_ms(runs: int) -> float:
    params = StdioServerParameters(command=sys.executable, args=[str(SERVER)], env=dict(os.environ))
    with open(os.devnull, "w") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            await session.list_tools()
            times = await _timed(lambda: session.call_tool("echo", {"text": "x"}), runs)
    return round(statistics.median(times), 3)


@asynccontextmanager
async def _http_server() -> AsyncIterator[str]:
    process = await asyncio.create_subprocess_exec(
        *[sys.executable, str(SERVER), "--http", "--token", "bench-token"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        line = await process.stdout.readline()
        yield f"http://127.0.0.1:{int(line.split()[1])}/mcp"
    finally:
        process.terminate()
        await process.wait()


async def measure(runs: int, stops: int) -> dict[str, Any]:
    out: dict[str, Any] = {"runs": runs, "stops": stops}
    async with _http_server() as url:
        configs, warnings = parse_server_configs(
            {
                "stdio": {"command": sys.executable, "args": [str(SERVER)]},
                "http": {"url": url, "bearer_token_env_var": "BENCH_MCP_TOKEN"},
            }
        )
        assert not warnings, warnings
        env = dict(os.environ) | {"BENCH_MCP_TOKEN": "bench-token"}
        manager = McpManager(configs, env=env)
        started = time.perf_counter()
        await manager.start()
        out["start_ms"] = round((time.perf_counter() - started) * 1000, 1)
        try:
            failed = [s.to_wire() for s in manager.statuses() if s.state != "ready"]
            assert not failed, failed
            with tempfile.TemporaryDirectory(prefix="bench-mcp-") as tmp:
                for name in ("stdio", "http"):
                    times = await _timed(
                        lambda name=name: manager.call(f"mcp__{name}__echo", '{"text": "x"}'), runs
                    )
                    out[name] = {"call_ms": round(statistics.median(times), 3)}
                    out[name] |= await _stops(manager, name, stops, Path(tmp))
        finally:
            started = time.perf_counter()
            await manager.aclose()
            out["close_ms"] = round((time.perf_counter() - started) * 1000, 1)
    out["stdio"]["sdk_call_ms"] = await _bare_sdk_call_ms(runs)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50, help="calls per transport")
    parser.add_argument("--stops", type=int, default=20, help="stopped calls per transport")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args.runs, args.stops)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

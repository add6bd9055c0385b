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
- `first_turn`: a message sent the moment the servers are told to start (as an editor's
  first message, or `agentls chat -p`, can be): `server_start_ms` is how long the server
  took to be ready, `first_request_ms` when the turn's first model request went out (with
  the server's tools), and `excess_ms` the difference. Aim: under 50 ms, i.e. the turn waits
  no longer than the server takes.
- `big_message`: CPU of this process (reader, parse, rendering; the server's own is not
  counted) for one tool result sent as a single line of 10 MiB and 30 MiB, and the bare SDK
  client's for 10 MiB (its reader is quadratic in the line's length).
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

from agentls.agent.context import AgentContext
from agentls.agent.workspace import Workspace
from agentls.config.settings import ApprovalPolicy, Settings
from agentls.mcp import McpManager, parse_server_configs
from agentls.providers.events import Completed, ItemDone, ModelEvent, ModelRequest
from agentls.rollout.paths import WorkspaceLayout

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


async def _first_turn(root: Path) -> dict[str, float]:
    """A turn sent at once while the one configured server starts: how long it waited."""
    first_request: list[float] = []

    async def model(request: ModelRequest) -> AsyncIterator[ModelEvent]:
        first_request.append(time.perf_counter())
        names = {str(tool.get("name")) for tool in request.tools}
        assert "mcp__fx__echo" in names, names
        yield ItemDone(
            {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "ok"}],
            }
        )
        yield Completed("resp_1", {"input_tokens": 1, "output_tokens": 1})

    work = root / "work"
    work.mkdir()
    settings = Settings(
        home=root / "home",
        approval=ApprovalPolicy.NEVER_ASK,
        checkpoints=False,
        mcp_servers={"fx": {"command": sys.executable, "args": [str(SERVER)]}},
    )
    context = AgentContext(settings=settings, workspace=work, model_stream=model, env=os.environ)
    workspace = Workspace(context, WorkspaceLayout.for_path(settings.home, work))
    try:
        started = time.perf_counter()
        starting = asyncio.create_task(workspace.start_mcp())
        ready: list[float] = []
        starting.add_done_callback(lambda _task: ready.append(time.perf_counter()))
        result = await workspace.session_for_send(None).send("hi", lambda _event: None)
        assert result.status == "completed", result
        await starting
    finally:
        await workspace.shutdown()
    return {
        "server_start_ms": round((ready[0] - started) * 1000, 1),
        "first_request_ms": round((first_request[0] - started) * 1000, 1),
        "excess_ms": round((first_request[0] - ready[0]) * 1000, 1),
    }


async def _big_message() -> dict[str, float]:
    configs, _ = parse_server_configs({"fx": {"command": sys.executable, "args": [str(SERVER)]}})
    manager = McpManager(configs, env=dict(os.environ))
    out: dict[str, float] = {}
    await manager.start()
    try:
        for mib in (10, 30):
            arguments = json.dumps({"size": mib * 1024 * 1024})
            cpu = time.process_time()
            result = await manager.call("mcp__fx__raw_result", arguments)
            assert not result.is_error, result.output[:200]
            out[f"cpu_ms_{mib}mib"] = round((time.process_time() - cpu) * 1000, 1)
    finally:
        await manager.aclose()
    params = StdioServerParameters(command=sys.executable, args=[str(SERVER)], env=dict(os.environ))
    with open(os.devnull, "w") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            cpu = time.process_time()
            await session.call_tool("raw_result", {"size": 10 * 1024 * 1024})
            out["sdk_cpu_ms_10mib"] = round((time.process_time() - cpu) * 1000, 1)
    return out


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
    with tempfile.TemporaryDirectory(prefix="bench-mcp-turn-") as tmp:
        out["first_turn"] = await _first_turn(Path(tmp))
    out["big_message"] = await _big_message()
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

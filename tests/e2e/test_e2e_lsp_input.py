"""What a client may send that it should not: the server answers or drops it, and goes on.

These speak raw LSP frames to `agentls serve` over stdio, so nothing in a client library
can tidy the input first.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fixtures.fake_api import FakeModelAPI
from lsprotocol import types
from tests.e2e.conftest import Starter
from tests.e2e.harness import server_env
from tests.helpers import Changes, wait_for


class RawClient:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.messages: list[dict[str, Any]] = []
        self.arrivals = Changes()  # a message came
        self.reading = True
        self._reader = asyncio.ensure_future(self._read_all())

    @classmethod
    async def start(cls, env: dict[str, str]) -> RawClient:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "agentls",
            "serve",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
            limit=1 << 24,
        )
        return cls(process)

    async def _read_all(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        while True:
            header = await stdout.readuntil(b"\r\n\r\n")
            length = int(header.split(b"Content-Length:")[1].split(b"\r\n")[0])
            self.messages.append(json.loads(await stdout.readexactly(length)))
            self.arrivals.changed()

    def write(self, body: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))

    def send(self, message: dict[str, Any]) -> None:
        self.write(json.dumps({"jsonrpc": "2.0", **message}).encode())

    async def answer(self, msg_id: Any, timeout: float = 20) -> dict[str, Any]:
        """The first answer to `msg_id`, received or still to come."""
        return await self.first(
            lambda m: m.get("id") == msg_id and "method" not in m, timeout, f"an answer to {msg_id}"
        )

    async def first(
        self, match: Callable[[dict[str, Any]], bool], timeout: float, what: str
    ) -> dict[str, Any]:
        def find() -> dict[str, Any] | None:
            return next((m for m in self.messages if match(m)), None)

        return await wait_for(find, timeout, what=what, changes=self.arrivals)

    async def initialize(self, workspace: Path, **options: Any) -> None:
        self.send(
            {
                "id": "init",
                "method": "initialize",
                "params": {
                    "capabilities": {},
                    "rootUri": workspace.as_uri(),
                    "initializationOptions": {"approvals": True, **options},
                },
            }
        )
        assert "result" in await self.answer("init")
        self.send({"method": "initialized", "params": {}})

    async def alive(self) -> None:
        """The server still answers a real request."""
        self.send({"id": "probe", "method": "agent/listSessions", "params": {}})
        answer = await self.answer("probe")
        assert "result" in answer, answer
        self.messages = [m for m in self.messages if m.get("id") != "probe"]

    async def close(self) -> int:
        self._reader.cancel()
        if self.process.returncode is None:
            self.process.kill()
        return await self.process.wait()


@pytest.fixture
async def raw(api: FakeModelAPI, home: Path, workspace: Path) -> Any:
    client = await RawClient.start(server_env(home, api.base_url))
    await client.initialize(workspace)
    yield client
    await client.close()


async def test_json_nested_thousands_deep_is_answered_and_survived(raw: RawClient) -> None:
    depth = 100_000
    raw.write(
        b'{"jsonrpc":"2.0","id":"deep","method":"agent/listSessions","params":'
        + b"[" * depth
        + b"]" * depth
        + b"}"
    )
    raw.write(b"[" * depth + b"]" * depth)
    await raw.alive()
    errors = [m for m in raw.messages if m.get("id") is None and "error" in m]
    assert errors and all(m["error"]["code"] in (-32700, -32600) for m in errors), errors


async def test_ids_of_the_wrong_type_are_answered_or_dropped(raw: RawClient) -> None:
    for bad in ([1, 2], {"an": "object"}, True, 1.5, None):
        raw.send({"id": bad, "method": "agent/listSessions", "params": {}})
        raw.send({"method": "$/cancelRequest", "params": {"id": bad}})
        raw.send({"id": bad, "result": {"decision": "approve"}})
        raw.send({"id": bad, "error": {"code": 1, "message": "x"}})
    await raw.alive()
    refusals = [m for m in raw.messages if "error" in m]
    assert refusals, raw.messages
    assert all(m["id"] is None and m["error"]["code"] == -32600 for m in refusals), refusals
    assert all("result" not in m for m in raw.messages if m.get("id") != "init")


async def test_unknown_methods_and_garbage_params(raw: RawClient) -> None:
    raw.send({"id": "u1", "method": "agent/noSuchMethod", "params": {}})
    raw.send({"method": "agent/noSuchNotification", "params": {}})
    raw.send({"id": "g1", "method": "agent/send", "params": "not an object"})
    raw.send({"id": "g2", "method": "agent/send", "params": {"text": 5}})
    raw.send({"id": "g3", "method": "textDocument/hover", "params": {"position": "nowhere"}})
    raw.send({"method": "textDocument/didOpen", "params": {"textDocument": 7}})
    assert (await raw.answer("u1"))["error"]["code"] == -32601
    assert (await raw.answer("g1"))["error"]["code"] == -32602
    bad_text = await raw.answer("g2")
    assert bad_text["error"]["code"] == -32602 and "'text'" in bad_text["error"]["message"]
    assert (await raw.answer("g3"))["error"]["code"] in (-32602, -32601)
    await raw.alive()


async def test_a_reused_request_id_is_refused_not_answered_twice(
    raw: RawClient, api: FakeModelAPI
) -> None:
    raw.send({"id": "same", "method": "agent/send", "params": {"text": "stream: 2000"}})
    raw.send({"id": "same", "method": "agent/listSessions", "params": {}})
    first = await raw.answer("same")
    assert first["error"]["code"] == -32600 and "in use" in first["error"]["message"]
    raw.send({"method": "$/cancelRequest", "params": {"id": "same"}})

    turn = await raw.first(
        lambda m: m.get("id") == "same" and "result" in m, 20, "the turn's own answer"
    )
    assert turn["result"]["status"] in ("interrupted", "completed")
    assert len([m for m in raw.messages if m.get("id") == "same"]) == 2


async def test_exit_without_shutdown_exits_1(
    api: FakeModelAPI, home: Path, workspace: Path
) -> None:
    client = await RawClient.start(server_env(home, api.base_url))
    await client.initialize(workspace)
    client.send({"method": "exit"})
    assert await asyncio.wait_for(client.process.wait(), 20) == 1
    await client.close()

    client = await RawClient.start(server_env(home, api.base_url))
    await client.initialize(workspace)
    client.send({"id": "down", "method": "shutdown"})
    assert (await client.answer("down"))["result"] is None
    client.send({"id": "late", "method": "agent/listSessions", "params": {}})
    late = await client.answer("late")
    assert late["error"]["code"] == -32600
    client.send({"method": "exit"})
    assert await asyncio.wait_for(client.process.wait(), 20) == 0
    await client.close()


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def test_a_client_that_stops_reading_does_not_grow_the_server(
    api: FakeModelAPI, home: Path, workspace: Path
) -> None:
    """A command floods output while the client reads nothing: memory stays bounded, the
    recorded output is intact, and once the client reads again the turn's end arrives."""
    client = await RawClient.start(server_env(home, api.base_url))
    await client.initialize(workspace, approval="never-ask", sandbox="off")
    client._reader.cancel()  # stop reading
    script = "timeout 4 yes 'flood of output that nobody reads' ; echo done-flooding"
    client.send({"id": "flood", "method": "agent/send", "params": {"text": f"run: {script}"}})
    peak = 0.0
    for _ in range(60):  # the server's size, sampled through the flood and after it
        peak = max(peak, _rss_mb(client.process.pid))
        await asyncio.sleep(0.1)
    client._reader = asyncio.ensure_future(client._read_all())
    result = await client.answer("flood", timeout=60)
    assert result["result"]["status"] == "completed", result
    events = [m["params"] for m in client.messages if m.get("method") == "agent/event"]
    completed = [e for e in events if e["type"] == "toolCallCompleted"]
    assert completed and "done-flooding" in completed[0]["output"]
    assert peak < 250, f"the server grew to {peak:.0f} MB while the client did not read"
    await client.close()


async def test_configuration_change_is_used_by_the_next_turn(
    start: Starter, api: FakeModelAPI
) -> None:
    agent = await start()
    await agent.send("first")
    assert api.requests[-1]["model"] != "gpt-5.1-mini"
    agent.client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"agentls": {"model": "gpt-5.1-mini"}})
    )
    await agent.request("agent/listSessions", {})  # handled after the notification
    await agent.send("second")
    assert api.requests[-1]["model"] == "gpt-5.1-mini"

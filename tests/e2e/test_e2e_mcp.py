"""MCP tools through the real server: listed, called on both wires, stopped, contained."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from fixtures.fake_api import CallItem, FakeModelAPI, Reply, TextItem
from tests.e2e.conftest import Starter
from tests.helpers import alive, pids_with_marker, process_tree, wait_for, wait_for_file

FIXTURE = str(Path(__file__).resolve().parents[2] / "fixtures" / "mcp" / "server.py")
SECRET = "fixture-secret-value-0123456789"


def servers(**extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "fix": {"command": sys.executable, "args": [FIXTURE], "env": {"FIXTURE_SECRET": SECRET}},
        **extra,
    }


async def ready(agent: Any, name: str = "fix", timeout: float = 30) -> dict[str, Any]:
    """The server's status once it has settled (ready or failed), asked of the agent."""

    async def settled() -> dict[str, Any] | None:
        listed = await agent.request("agent/mcpServers", {})
        for server in listed["servers"]:
            if server["name"] == name and server["state"] in ("ready", "failed"):
                return dict(server)
        return None

    return await wait_for(settled, timeout, interval=0.05, what=f"MCP server {name} to settle")


@pytest.mark.parametrize("wire", ["responses", "chat"])
async def test_a_tool_is_listed_and_called(start: Starter, api: FakeModelAPI, wire: str) -> None:
    agent = await start(init_options={"mcpServers": servers(), "wireApi": wire})
    status = await ready(agent)
    assert status["state"] == "ready", status
    assert "echo" in status["tools"]
    api.enqueue(
        Reply([CallItem("mcp__fix__echo", {"text": "hello from mcp"})]),
        Reply([TextItem("done")]),
    )
    result = await agent.send("use the tool")
    assert result["status"] == "completed", result
    started = await agent.wait_event("toolCallStarted")
    assert started["name"] == "mcp__fix__echo"
    assert started["mcp"] == {"server": "fix", "tool": "echo"}
    completed = await agent.wait_event("toolCallCompleted")
    assert completed["status"] == "completed"
    assert "hello from mcp" in completed["output"]
    first = api.requests[0]
    names = [t.get("name") or t.get("function", {}).get("name") for t in first["tools"]]
    assert "mcp__fix__echo" in names and "shell" in names
    assert api.rejected == []


async def test_stop_cancels_the_call_at_the_server(
    start: Starter, api: FakeModelAPI, tmp_path: Path
) -> None:
    record = tmp_path / "slow-record.txt"
    agent = await start(init_options={"mcpServers": servers()})
    await ready(agent)
    api.enqueue(Reply([CallItem("mcp__fix__slow", {"seconds": 30, "record": str(record)})]))
    msg_id, pending = agent.start("agent/send", {"text": "slow tool"})
    await agent.wait_event("toolCallStarted")
    await wait_for_file(record, "started", 10)
    agent.cancel(msg_id)
    result = await asyncio.wait_for(pending, 15)
    assert result["status"] == "interrupted"
    completed = await agent.wait_event("toolCallCompleted")
    assert completed["status"] == "aborted"
    await wait_for_file(record, "cancelled", 10)
    assert (await agent.send("next turn"))["status"] == "completed"
    assert api.rejected == []


async def test_a_broken_server_is_reported_and_the_others_work(
    start: Starter, api: FakeModelAPI
) -> None:
    broken = {"command": sys.executable, "args": [FIXTURE, "--crash"]}
    broken["env"] = {"FIXTURE_SECRET": SECRET}  # type: ignore[assignment]
    agent = await start(init_options={"mcpServers": servers(broken=broken)})
    bad = await ready(agent, "broken")
    good = await ready(agent, "fix")
    assert bad["state"] == "failed" and good["state"] == "ready"
    assert SECRET not in str(bad)
    capability = agent.initialize_result.capabilities.experimental["agent"]
    assert {s["name"] for s in capability["mcp"]} == {"fix", "broken"}
    await wait_for(lambda: any("'broken'" in m.message for m in agent.client.messages), 10)
    assert all(SECRET not in m.message for m in agent.client.messages)
    api.enqueue(
        Reply([CallItem("mcp__fix__echo", {"text": "still here"})]), Reply([TextItem("ok")])
    )
    assert (await agent.send("go"))["status"] == "completed"


async def test_nothing_an_mcp_server_started_survives_sigkill(
    start: Starter, api: FakeModelAPI, tmp_path: Path
) -> None:
    token = f"mcp-child-{uuid.uuid4().hex}"
    agent = await start(init_options={"mcpServers": servers()})
    await ready(agent)
    ready_file = str(tmp_path / "child-ready")
    api.enqueue(
        Reply([CallItem("mcp__fix__spawn_child", {"token": token, "ready_file": ready_file})])
    )
    _msg, pending = agent.start("agent/send", {"text": "spawn"})
    await wait_for(lambda: bool(pids_with_marker(token)), 15)
    # this server's own fixture servers: other tests may run theirs at the same time
    fixtures = set(process_tree([agent.server.pid])) & set(pids_with_marker(FIXTURE))
    assert fixtures
    os.kill(agent.server.pid, signal.SIGKILL)
    await agent.server.wait()
    pending.cancel()
    await wait_for(lambda: not pids_with_marker(token), 15, explain=lambda: pids_with_marker(token))
    await wait_for(
        lambda: not [p for p in fixtures if alive(p)],
        15,
        explain=lambda: [p for p in fixtures if alive(p)],
    )

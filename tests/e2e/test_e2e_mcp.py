"""MCP tools through the real server: listed, called on both wires, stopped, contained."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from fixtures.fake_api import CallItem, FakeModelAPI, Reply, TextItem
from tests.e2e.conftest import Starter
from tests.e2e.harness import server_env
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


def _mcp_waiting(agent: Any) -> list[dict[str, Any]]:
    return [e for e in agent.events if e["type"] == "mcpWaiting"]


def _tool_names(request: dict[str, Any]) -> set[str]:
    return {str(t.get("name") or t.get("function", {}).get("name")) for t in request["tools"]}


async def test_a_message_sent_at_once_gets_the_tools_of_a_starting_server(
    start: Starter, api: FakeModelAPI
) -> None:
    """Issue 20.7: the first send used to race the servers' start and miss their tools."""
    slow = {"command": sys.executable, "args": [FIXTURE, "--slow-start", "2"]}
    agent = await start(init_options={"mcpServers": {"slow": slow}})
    api.enqueue(
        Reply([CallItem("mcp__slow__echo", {"text": "it waited"})]), Reply([TextItem("done")])
    )
    result = await agent.send("right away")  # no wait for agent/mcpServers first
    assert result["status"] == "completed", result
    assert "mcp__slow__echo" in _tool_names(api.requests[0])
    started, completed = _mcp_waiting(agent)
    assert (started["phase"], started["servers"]) == ("started", ["slow"])
    assert (completed["phase"], completed["ready"], completed["failed"]) == (
        "completed",
        ["slow"],
        [],
    )
    assert started["seq"] == 1  # right after turnStarted, before any model output
    done = await agent.wait_event("toolCallCompleted")
    assert (done["status"], done["output"]) == ("completed", "it waited")


async def test_a_stop_while_waiting_for_a_server_stops_the_turn_at_once(
    start: Starter, api: FakeModelAPI
) -> None:
    slow = {
        "command": sys.executable,
        "args": [FIXTURE, "--slow-start", "30"],
        "startup_timeout_s": 60,
    }
    agent = await start(init_options={"mcpServers": {"slow": slow}})
    msg_id, pending = agent.start("agent/send", {"text": "go"})
    await agent.wait_event("mcpWaiting")
    stopped_at = asyncio.get_running_loop().time()
    agent.cancel(msg_id)
    result = await asyncio.wait_for(pending, 10)
    assert result["status"] == "interrupted"
    assert asyncio.get_running_loop().time() - stopped_at < 2.0
    assert api.requests == []


async def test_a_one_shot_chat_gets_the_tools_of_a_starting_server(
    api: FakeModelAPI, home: Path, workspace: Path
) -> None:
    """`agentls chat -p` sends as soon as the server is up: it must still get the tools."""
    from tests.e2e.test_e2e_chat import run_chat

    home.mkdir(parents=True, exist_ok=True)
    python, fixture = json.dumps(sys.executable), json.dumps(FIXTURE)
    (home / "config.toml").write_text(
        f'[mcp_servers.slow]\ncommand = {python}\nargs = [{fixture}, "--slow-start", "2"]\n'
        'approval = "never-ask"\n'
    )
    api.enqueue(
        Reply([CallItem("mcp__slow__echo", {"text": "from the slow server"})]),
        Reply([TextItem("done")]),
    )
    code, out, err = await run_chat(server_env(home, api.base_url), workspace, "-p", "go")
    assert code == 0, err
    assert "waiting for MCP servers to start: slow" in err
    assert "from the slow server" in err
    assert out.strip() == "done"
    assert "mcp__slow__echo" in _tool_names(api.requests[0])

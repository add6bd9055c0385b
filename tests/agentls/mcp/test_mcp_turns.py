"""MCP in the turn loop, without LSP: the wait for servers still starting, approvals kept by
tool identity, `readOnlyHint` trusted only where the user says so."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from tests.agentls.mcp.mcp_helpers import stdio_table
from tests.helpers import wait_for

from agentls.agent.approvals import ApprovalRequest, Decision
from agentls.agent.context import AgentContext
from agentls.agent.workspace import Workspace
from agentls.config.settings import ApprovalPolicy, Settings
from agentls.providers.events import Completed, ItemDone, ModelEvent, ModelRequest
from agentls.rollout.paths import WorkspaceLayout

Part = tuple[str, str, str] | tuple[str, str]


def call(name: str, arguments: dict[str, Any] | None = None) -> Part:
    return ("call", name, json.dumps(arguments or {}))


def text(words: str) -> Part:
    return ("text", words)


@dataclass
class Model:
    """Scripted replies: each a list of function calls (any name) and texts."""

    replies: list[list[Part]] = field(default_factory=list)
    requests: list[ModelRequest] = field(default_factory=list)
    request_times: list[float] = field(default_factory=list)

    def tool_names(self, request: int = 0) -> set[str]:
        return {str(t.get("name")) for t in self.requests[request].tools}

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        self.requests.append(request)
        self.request_times.append(time.monotonic())
        number = len(self.requests)
        reply = self.replies.pop(0) if self.replies else [text("done")]
        for index, part in enumerate(reply):
            if part[0] == "call":
                yield ItemDone(
                    {
                        "type": "function_call",
                        "call_id": f"call_{number}_{index}",
                        "name": part[1],
                        "arguments": part[2],  # type: ignore[misc]
                    }
                )
            else:
                yield ItemDone(
                    {
                        "id": f"msg_{number}_{index}",
                        "type": "message",
                        "role": "assistant",
                        "content": [{"type": "output_text", "text": part[1]}],
                    }
                )
        yield Completed(f"resp_{number}", {"input_tokens": 1, "output_tokens": 1})


class Events:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any]) -> None:
        self.items.append(event)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.items if e["type"] == kind]


@dataclass
class Approvals:
    """Answers approvals by `(server, tool)`; anything not listed is approved once."""

    decisions: dict[tuple[str, str], Decision] = field(default_factory=dict)
    asked: list[tuple[str, str]] = field(default_factory=list)

    async def __call__(self, request: ApprovalRequest) -> Decision:
        tool = request.tool or {}
        key = (str(tool.get("server")), str(tool.get("tool")))
        self.asked.append(key)
        return self.decisions.get(key, "approve")


@pytest.fixture
async def workspaces(tmp_path: Path) -> AsyncIterator[list[Workspace]]:
    made: list[Workspace] = []
    yield made
    for workspace in made:
        await workspace.shutdown()


def make_workspace(
    tmp_path: Path,
    made: list[Workspace],
    model: Model,
    servers: dict[str, dict[str, Any]],
    *,
    approval: ApprovalPolicy = ApprovalPolicy.NEVER_ASK,
    approver: Approvals | None = None,
) -> Workspace:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    settings = Settings(home=tmp_path / "home", approval=approval, mcp_servers=servers)
    context = AgentContext(
        settings=settings,
        workspace=work,
        model_stream=model.stream,
        env=dict(os.environ),
        **({"approver": approver} if approver is not None else {}),
    )
    workspace = Workspace(context, WorkspaceLayout.for_path(settings.home, work))
    made.append(workspace)
    return workspace


def outputs(events: Events) -> list[tuple[str, str]]:
    return [(e["status"], e["output"]) for e in events.of("toolCallCompleted")]


# -- the wait for servers still starting ------------------------------------------------------


async def test_a_message_sent_at_once_waits_for_a_starting_server(
    tmp_path: Path, workspaces: list[Workspace]
) -> None:
    model = Model([[call("mcp__fx__echo", {"text": "from mcp"})], [text("done")]])
    ws = make_workspace(tmp_path, workspaces, model, {"fx": stdio_table("--slow-start", "1.5")})
    starting = asyncio.create_task(ws.start_mcp())  # as the editor does at `initialized`
    events = Events()
    result = await ws.session_for_send(None).send("use the tool", events)
    assert result.status == "completed", result
    assert "mcp__fx__echo" in model.tool_names(0)
    assert outputs(events) == [("completed", "from mcp")]
    kinds = [e["type"] for e in events.items]
    assert kinds[:3] == ["turnStarted", "mcpWaiting", "mcpWaiting"]
    started, completed = events.of("mcpWaiting")
    assert (started["phase"], started["servers"]) == ("started", ["fx"])
    assert (completed["phase"], completed["ready"], completed["failed"]) == (
        "completed",
        ["fx"],
        [],
    )
    assert completed["waitedMs"] >= 1000  # the server's own slow start
    await starting
    # Once the servers are up, a turn does not wait, and says nothing about it.
    again = Events()
    assert (await ws.session_for_send(None).send("again", again)).status == "completed"
    assert again.of("mcpWaiting") == []


async def test_a_server_that_never_starts_is_reported_and_the_turn_goes_on(
    tmp_path: Path, workspaces: list[Workspace]
) -> None:
    model = Model([[call("mcp__fx__echo", {"text": "ok"})], [text("done")]])
    servers = {"hang": stdio_table("--hang", startup_timeout_s=1), "fx": stdio_table()}
    ws = make_workspace(tmp_path, workspaces, model, servers)
    starting = asyncio.create_task(ws.start_mcp())
    events = Events()
    began = time.monotonic()
    result = await ws.session_for_send(None).send("go", events)
    assert result.status == "completed", result
    started, completed = events.of("mcpWaiting")
    assert sorted(started["servers"]) == ["fx", "hang"]
    assert completed["ready"] == ["fx"]
    assert completed["failed"] == [{"name": "hang", "error": "did not start within 1 s"}]
    assert completed["waitedMs"] < 5000
    assert time.monotonic() - began < 15
    names = model.tool_names(0)
    assert "mcp__fx__echo" in names
    assert not any(name.startswith("mcp__hang__") for name in names)
    assert outputs(events) == [("completed", "ok")]
    await starting


async def test_a_stop_during_the_wait_stops_the_turn_at_once(
    tmp_path: Path, workspaces: list[Workspace]
) -> None:
    model = Model()
    servers = {"slow": stdio_table("--slow-start", "30", startup_timeout_s=60)}
    ws = make_workspace(tmp_path, workspaces, model, servers)
    starting = asyncio.create_task(ws.start_mcp())
    events = Events()
    session = ws.session_for_send(None)
    turn = asyncio.create_task(session.send("go", events))
    await wait_for(lambda: bool(events.of("mcpWaiting")), 20.0, what="the wait to begin")
    stopped_at = time.monotonic()
    assert session.interrupt() is not None
    result = await asyncio.wait_for(turn, 10)
    assert result.status == "interrupted"
    assert time.monotonic() - stopped_at < 1.0
    assert model.requests == []  # nothing was sent to the model
    assert [e["phase"] for e in events.of("mcpWaiting")] == ["started"]
    assert events.items[-1]["type"] == "turnCompleted"
    starting.cancel()


async def test_the_wait_is_no_longer_than_the_server_takes_to_start(
    tmp_path: Path, workspaces: list[Workspace]
) -> None:
    model = Model()
    ws = make_workspace(tmp_path, workspaces, model, {"fx": stdio_table("--slow-start", "1")})
    began = time.monotonic()
    starting = asyncio.create_task(ws.start_mcp())
    ready_at: list[float] = []
    starting.add_done_callback(lambda _t: ready_at.append(time.monotonic()))
    events = Events()
    assert (await ws.session_for_send(None).send("go", events)).status == "completed"
    await starting
    _started, completed = events.of("mcpWaiting")
    # The request went out as soon as the server was ready: no fixed delay, no polling.
    assert ready_at[0] - began >= 1.0
    assert completed["waitedMs"] / 1000 <= ready_at[0] - began + 0.05
    assert model.request_times[0] - ready_at[0] < 0.25
    assert "mcp__fx__echo" in model.tool_names(0)


# -- approvals by identity --------------------------------------------------------------------


async def test_an_approved_name_never_passes_to_another_tool(
    tmp_path: Path, workspaces: list[Workspace]
) -> None:
    """`a__b` + `c` and `a` + `b__c` both join to `mcp__a__b__c`. The tool that had the name
    keeps it when the other appears; the newcomer gets a name of its own and is asked."""
    servers = {
        "a": stdio_table(env={"FIXTURE_LABEL": "A"}),
        "a__b": stdio_table("--tool", "c", env={"FIXTURE_LABEL": "B"}),
    }
    approvals = Approvals({("a__b", "c"): "approveForSession", ("a", "b__c"): "deny"})
    model = Model()
    ws = make_workspace(
        tmp_path, workspaces, model, servers, approval=ApprovalPolicy.ASK_UNSAFE, approver=approvals
    )
    await ws.start_mcp()
    assert ws.mcp is not None
    session = ws.session_for_send(None)
    model.replies = [[call("mcp__a__b__c")], [text("one")]]
    first = Events()
    await session.send("call c", first)
    assert outputs(first) == [("completed", "I am c of B")]
    model.replies = [[call("mcp__a__add_tool", {"name": "b__c"})], [text("two")]]
    second = Events()
    await session.send("add b__c to a", second)
    assert outputs(second) == [("completed", "added b__c")]
    manager = ws.mcp
    await wait_for(
        lambda: any(
            (t := manager.lookup(str(d["name"]))) is not None and t.key == ("a", "b__c")
            for d in manager.tool_definitions()
        ),
        20.0,
        what="the changed tool list",
    )
    [newcomer] = [
        str(d["name"])
        for d in manager.tool_definitions()
        if (t := manager.lookup(str(d["name"]))) is not None and t.key == ("a", "b__c")
    ]
    assert newcomer != "mcp__a__b__c"
    assert newcomer.startswith("mcp__a__b__c_")
    kept = manager.lookup("mcp__a__b__c")
    assert kept is not None and kept.key == ("a__b", "c")
    model.replies = [[call("mcp__a__b__c"), call(newcomer)], [text("three")]]
    third = Events()
    await session.send("call both", third)
    assert outputs(third) == [
        ("completed", "I am c of B"),  # approved for the session: the same tool, unasked
        ("denied", "denied"),
    ]
    assert approvals.asked == [("a__b", "c"), ("a", "add_tool"), ("a", "b__c")]


async def test_read_only_hints_count_only_where_the_user_trusts_them(
    tmp_path: Path, workspaces: list[Workspace]
) -> None:
    servers = {
        "plain": stdio_table(),
        "trusted": stdio_table(trust_read_only_hint=True),
        "free": stdio_table(approval="never-ask"),
    }
    approvals = Approvals()
    model = Model(
        [
            [
                call("mcp__plain__lookup", {"key": "k"}),
                call("mcp__trusted__lookup", {"key": "k"}),
                call("mcp__trusted__echo", {"text": "e"}),
                call("mcp__free__echo", {"text": "f"}),
            ],
            [text("done")],
        ]
    )
    ws = make_workspace(
        tmp_path, workspaces, model, servers, approval=ApprovalPolicy.ASK_UNSAFE, approver=approvals
    )
    await ws.start_mcp()
    events = Events()
    assert (await ws.session_for_send(None).send("go", events)).status == "completed"
    assert [status for status, _ in outputs(events)] == ["completed"] * 4
    # The untrusted hint is asked; the trusted one is not; a tool without the hint on the
    # trusting server still is; the server the user let run freely is not.
    assert approvals.asked == [("plain", "lookup"), ("trusted", "echo")]

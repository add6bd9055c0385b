"""The LSP layer's parts depend on what they are given, not on each other: the protocol class
on the names and callback the server hands it, the approver on a small request channel."""

import ast
import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from agentls.agent.approvals import ApprovalRequest
from agentls.lsp.approvals import LspApprover
from agentls.lsp.server import AgentLanguageServer
from agentls.protocol import AgentMethod, AgentNotification, ServerRequest

ROOT = Path(__file__).resolve().parents[3]


def _imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
        elif isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
    return modules


def test_the_protocol_class_imports_neither_the_methods_nor_the_server() -> None:
    imported = _imported_modules(ROOT / "server" / "agentls" / "lsp" / "protocol.py")
    assert not imported & {"agentls.lsp.methods", "agentls.lsp.server"}


def test_the_server_hands_the_protocol_its_method_names_and_capability() -> None:
    server = AgentLanguageServer(env={})
    registered = {name for name in server.protocol.fm.features if name.startswith("agent/")}
    assert server.protocol.request_only_methods == registered
    # the protocol module names every method the server registers, and no other
    assert registered == {method.value for method in AgentMethod}
    assert server.protocol.agent_capability is not None
    capability = server.protocol.agent_capability()
    assert capability["version"] == 1
    assert set(capability["methods"]) == registered


def test_the_client_knows_every_method_name() -> None:
    source = (ROOT / "client-vscode" / "src" / "protocol.ts").read_text()
    methods = source.split("export const Methods = {", 1)[1].split("} as const;", 1)[0]
    names = set(re.findall(r"'(agent/\w+)'", methods))
    wanted = {m.value for enum in (AgentMethod, AgentNotification, ServerRequest) for m in enum}
    assert wanted <= names, f"missing in client-vscode/src/protocol.ts Methods: {wanted - names}"


class FakeChannel:
    """A request channel without a connection: answers come from the test."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any], Any]] = []
        self.cancelled: list[Any] = []
        self.answers: dict[Any, asyncio.Future[Any]] = {}

    def send_request_async(
        self, method: str, params: Any | None = None, msg_id: Any = None
    ) -> asyncio.Future[Any]:
        self.sent.append((method, params, msg_id))
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.answers[msg_id] = future
        return future

    def cancel_outgoing(self, msg_id: Any) -> None:
        self.cancelled.append(msg_id)


def _request() -> ApprovalRequest:
    return ApprovalRequest("s", "t", "c", "shell", "/work", command=["rm", "-rf", "x"])


async def test_the_approver_asks_through_any_request_channel() -> None:
    channel = FakeChannel()
    approver = LspApprover(channel)
    approver.custom_requests = True
    asking = asyncio.ensure_future(approver(_request()))
    await asyncio.sleep(0)
    method, params, msg_id = channel.sent[0]
    assert method == "agent/requestApproval"
    assert params["command"] == ["rm", "-rf", "x"]
    channel.answers[msg_id].set_result({"decision": "approveForSession"})
    assert await asking == "approveForSession"


async def test_a_stopped_question_is_withdrawn_on_the_channel() -> None:
    channel = FakeChannel()
    approver = LspApprover(channel)
    asking = asyncio.ensure_future(approver(_request()))
    await asyncio.sleep(0)
    method, _params, msg_id = channel.sent[0]
    assert method == "window/showMessageRequest"
    asking.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asking
    assert channel.cancelled == [msg_id]

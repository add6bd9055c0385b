"""Approval requests as `session/request_permission`, and the answers as decisions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from acp.exceptions import RequestError
from acp.schema import (
    AllowedOutcome,
    DeniedOutcome,
    FileEditToolCallContent,
    RequestPermissionResponse,
)

from agentls.acp.permissions import (
    PermissionAsker,
    PermissionParams,
    decision_of,
    permission_params,
)
from agentls.agent.approvals import ApprovalRequest

WORKSPACE = Path("/work/project")


def shell(*argv: str, cwd: str = str(WORKSPACE)) -> ApprovalRequest:
    return ApprovalRequest(
        session_id="s1",
        turn_id="turn-1",
        call_id="call_1",
        kind="shell",
        cwd=cwd,
        command=list(argv),
        reason=" ".join(argv),
    )


def patch() -> ApprovalRequest:
    return ApprovalRequest(
        session_id="s1",
        turn_id="turn-1",
        call_id="call_2",
        kind="patch",
        cwd=str(WORKSPACE),
        patch="--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-x\n+y\n",
        changes=[{"path": "a.py", "kind": "update", "diff": "@@ -1 +1 @@\n-x\n+y\n"}],
        reason="apply a patch to a.py",
    )


def mcp() -> ApprovalRequest:
    return ApprovalRequest(
        session_id="s1",
        turn_id="turn-1",
        call_id="call_3",
        kind="mcp",
        cwd=str(WORKSPACE),
        reason="db: migrate {}",
        tool={"server": "db", "tool": "migrate", "arguments": '{"to": 3}'},
    )


def selected(option_id: str) -> RequestPermissionResponse:
    return RequestPermissionResponse(
        outcome=AllowedOutcome(outcome="selected", option_id=option_id)
    )


CANCELLED = RequestPermissionResponse(outcome=DeniedOutcome(outcome="cancelled"))


def wire(params: PermissionParams) -> dict[str, Any]:
    return {
        "toolCall": params.tool_call.model_dump(mode="json", by_alias=True, exclude_none=True),
        "options": [
            o.model_dump(mode="json", by_alias=True, exclude_none=True) for o in params.options
        ],
    }


def test_a_command_is_asked_with_the_command_and_four_options() -> None:
    params = permission_params(shell("npm", "install"), WORKSPACE)
    assert params.session_id == "s1"
    assert wire(params) == {
        "toolCall": {
            "toolCallId": "turn-1/call_1",
            "title": "npm install",
            "kind": "execute",
            "status": "pending",
            "content": [
                {"type": "content", "content": {"type": "text", "text": "```sh\nnpm install\n```"}}
            ],
        },
        "options": [
            {"optionId": "allow_once", "name": "Allow", "kind": "allow_once"},
            {
                "optionId": "allow_always",
                "name": "Always allow this command (this session)",
                "kind": "allow_always",
            },
            {"optionId": "reject_once", "name": "Reject", "kind": "reject_once"},
            {
                "optionId": "reject_always",
                "name": "Always reject this command (this session)",
                "kind": "reject_always",
            },
        ],
    }


def test_a_command_elsewhere_says_where() -> None:
    params = permission_params(shell("make", cwd="/work/project/sub"), WORKSPACE)
    texts = [item.content.text for item in params.tool_call.content or []]  # type: ignore[union-attr]
    assert texts == ["```sh\nmake\n```", "in /work/project/sub"]


def test_a_patch_is_asked_with_its_diffs() -> None:
    params = permission_params(patch(), WORKSPACE)
    call = params.tool_call
    assert (call.title, call.kind, call.tool_call_id) == ("Edit a.py", "edit", "turn-1/call_2")
    diff, reason = call.content or []
    assert isinstance(diff, FileEditToolCallContent)
    assert (diff.path, diff.old_text, diff.new_text) == ("/work/project/a.py", "x\n", "y\n")
    assert reason.content.text == "apply a patch to a.py"  # type: ignore[union-attr]
    assert [loc.path for loc in call.locations or []] == ["/work/project/a.py"]
    assert params.options[3].name == "Reject all edits (this session)"


def test_an_mcp_tool_is_asked_with_its_arguments() -> None:
    params = permission_params(mcp(), WORKSPACE)
    call = params.tool_call
    assert (call.title, call.kind) == ("db: migrate", "other")
    (arguments,) = call.content or []
    assert arguments.content.text == '```json\n{\n  "to": 3\n}\n```'  # type: ignore[union-attr]
    assert params.options[1].name == "Always allow db: migrate (this session)"


@pytest.mark.parametrize(
    ("response", "decision"),
    [
        (selected("allow_once"), "approve"),
        (selected("allow_always"), "approveForSession"),
        (selected("reject_once"), "deny"),
        (selected("reject_always"), "deny"),
        (selected("something-else"), "deny"),
        (CANCELLED, "abort"),
    ],
)
def test_answers_as_decisions(response: RequestPermissionResponse, decision: str) -> None:
    assert decision_of(response) == decision


class FakeClient:
    def __init__(self, *answers: RequestPermissionResponse | Exception) -> None:
        self.answers = list(answers)
        self.asked: list[PermissionParams] = []

    async def __call__(self, params: PermissionParams) -> RequestPermissionResponse:
        self.asked.append(params)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


async def test_reject_always_is_remembered_for_the_session() -> None:
    client = FakeClient(selected("reject_always"), selected("allow_once"))
    asker = PermissionAsker(client, lambda session_id: WORKSPACE)
    assert await asker(shell("rm", "-rf", "build")) == "deny"
    assert await asker(shell("rm", "-rf", "build")) == "deny"  # not asked again
    assert len(client.asked) == 1
    assert await asker(shell("rm", "-rf", "dist")) == "approve"  # another command is asked
    asker.forget("s1")
    client.answers.append(selected("allow_once"))
    assert await asker(shell("rm", "-rf", "build")) == "approve"


async def test_a_client_that_cannot_ask_denies_and_a_gone_one_aborts() -> None:
    client = FakeClient(RequestError.method_not_found("session/request_permission"))
    asker = PermissionAsker(client, lambda session_id: WORKSPACE)
    assert await asker(shell("make")) == "deny"
    client.answers.append(ConnectionError("Connection closed"))
    assert await asker(shell("make")) == "abort"
    client.answers.append(CANCELLED)
    assert await asker(patch()) == "abort"

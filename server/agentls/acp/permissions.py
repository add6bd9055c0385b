"""The core's approval requests, asked as ACP `session/request_permission`.

The core asks through an `Approver` (an `ApprovalRequest` in, a `Decision` out); ACP asks
with a tool call and four options. The options map onto the core's decisions: allow once
is `approve`, allow always is `approveForSession` (the core remembers it), reject once is
`deny`. Reject always has no counterpart in the core, so this adapter remembers it for the
session and denies the same request again without asking. A `cancelled` outcome (the
client answers so when the user stopped the turn) is `abort`: the turn is ending anyway,
and the call is recorded as aborted rather than denied.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from pathlib import Path

from acp.exceptions import RequestError
from acp.schema import (
    AllowedOutcome,
    PermissionOption,
    PermissionOptionKind,
    RequestPermissionResponse,
    ToolCallUpdate,
)

from agentls.acp.tools import (
    APPLY_PATCH,
    SHELL,
    ToolContent,
    call_view,
    diff_contents,
    fenced,
    text_content,
)
from agentls.acp.updates import tool_call_id
from agentls.agent.approvals import ApprovalRequest, Decision
from agentls.history.view import describe_command

__all__ = [
    "PermissionAsker",
    "PermissionParams",
    "decision_of",
    "permission_params",
]

logger = logging.getLogger(__name__)

_DECISIONS: dict[str, Decision] = {
    "allow_once": "approve",
    "allow_always": "approveForSession",
    "reject_once": "deny",
    "reject_always": "deny",
}


@dataclass(frozen=True)
class PermissionParams:
    """The arguments of `Client.request_permission` (the SDK's keyword names)."""

    session_id: str
    tool_call: ToolCallUpdate
    options: list[PermissionOption]


def _options(request: ApprovalRequest) -> list[PermissionOption]:
    if request.kind == "shell":
        always, never = "Always allow this command", "Always reject this command"
    elif request.kind == "patch":
        always, never = "Always allow edits", "Reject all edits"
    else:
        tool = request.tool or {}
        name = f"{tool.get('server', '?')}: {tool.get('tool', '?')}"
        always, never = f"Always allow {name}", f"Always reject {name}"
    labels: list[tuple[PermissionOptionKind, str]] = [
        ("allow_once", "Allow"),
        ("allow_always", f"{always} (this session)"),
        ("reject_once", "Reject"),
        ("reject_always", f"{never} (this session)"),
    ]
    return [PermissionOption(option_id=kind, name=name, kind=kind) for kind, name in labels]


def permission_params(request: ApprovalRequest, workspace: Path) -> PermissionParams:
    """What the client is asked: the call (its title, kind, and the command or the diffs,
    so a client that never saw the call can still judge it) and the four options."""
    content: list[ToolContent] = []
    if request.kind == "shell":
        argv = request.command or []
        command = describe_command(argv)
        view = call_view(SHELL, json.dumps({"command": argv}), workspace)
        if command:
            content.append(text_content(fenced(command, "sh")))
        if Path(request.cwd) != workspace:
            content.append(text_content(f"in {request.cwd}"))
        if request.reason and request.reason != command:
            content.append(text_content(request.reason))
    elif request.kind == "patch":
        view = call_view(APPLY_PATCH, "{}", workspace, changes=request.changes or [])
        if request.changes:
            content.extend(diff_contents(request.changes, workspace))
        elif request.patch:
            content.append(text_content(fenced(request.patch, "diff")))
        if request.reason:
            content.append(text_content(request.reason))
    else:
        tool = request.tool or {}
        server, name = str(tool.get("server", "")), str(tool.get("tool", ""))
        arguments = str(tool.get("arguments", ""))
        view = call_view(
            f"mcp__{server}__{name}", arguments, workspace, mcp={"server": server, "tool": name}
        )
        content.append(text_content(fenced(_pretty(arguments), "json")))
    tool_call = ToolCallUpdate(
        tool_call_id=tool_call_id(request.turn_id, request.call_id),
        title=view.title,
        kind=view.kind,
        status="pending",
        content=content,
        locations=view.locations or None,
    )
    return PermissionParams(request.session_id, tool_call, _options(request))


def _pretty(arguments: str) -> str:
    try:
        return json.dumps(json.loads(arguments), indent=2, ensure_ascii=False)
    except ValueError:
        return arguments


def decision_of(response: RequestPermissionResponse) -> Decision:
    """The core's decision for the client's answer; an option this adapter did not offer
    counts as a rejection."""
    outcome = response.outcome
    if isinstance(outcome, AllowedOutcome):
        return _DECISIONS.get(outcome.option_id, "deny")
    return "abort"  # cancelled: the user stopped the turn


def _key(request: ApprovalRequest) -> Hashable:
    """What "the same request" is for reject always: the same command (as the core keys
    allow always), any patch, the same MCP tool."""
    if request.kind == "shell":
        return ("shell", tuple(request.command or ()))
    if request.kind == "patch":
        return ("patch",)
    tool = request.tool or {}
    return ("mcp", tool.get("server"), tool.get("tool"))


AskClient = Callable[[PermissionParams], Awaitable[RequestPermissionResponse]]


class PermissionAsker:
    """The `Approver` for the sessions of one ACP connection.

    `ask` sends the request (the SDK connection's `request_permission`); `workspace` gives
    a session's folder, for absolute paths and to tell when a command runs elsewhere.
    """

    def __init__(self, ask: AskClient, workspace: Callable[[str], Path]) -> None:
        self._ask = ask
        self._workspace = workspace
        self._rejected: dict[str, set[Hashable]] = {}

    async def __call__(self, request: ApprovalRequest) -> Decision:
        rejected = self._rejected.setdefault(request.session_id, set())
        key = _key(request)
        if key in rejected:
            return "deny"
        params = permission_params(request, self._workspace(request.session_id))
        try:
            response = await self._ask(params)
        except RequestError as exc:  # the client could not ask: nothing runs unasked
            logger.warning("permission request failed (%s): denied", exc)
            return "deny"
        except ConnectionError:  # nobody left to ask: the turn stops
            return "abort"
        outcome = response.outcome
        if isinstance(outcome, AllowedOutcome) and outcome.option_id == "reject_always":
            rejected.add(key)
        return decision_of(response)

    def forget(self, session_id: str) -> None:
        """The session closed: its remembered rejections go with it."""
        self._rejected.pop(session_id, None)

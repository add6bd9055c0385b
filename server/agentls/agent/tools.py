"""The tools a turn offers the model, behind one small interface.

A call goes through two steps: `prepare` reads the arguments (and, for a patch, works out
the changes, in a worker thread: hence async) so `toolCallStarted` can show what will
happen; `run` then asks for approval when the policy says so and does the work. A tool
never records anything itself: it returns a `ToolOutcome` and the turn records it, so every
call gets exactly one output.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from agentls.agent.approvals import ApprovalKind, ApprovalRequest, Decision

DENIED_OUTPUT = (
    "The user denied this command. Do not run it again unchanged; ask or try another way."
)


class AbortRequestedError(Exception):
    """The user answered an approval with "abort": the whole turn stops."""


@dataclass
class ToolOutcome:
    status: str  # completed | failed | denied | aborted
    output: str  # what the model reads
    shown: str | None = None  # what the editor shows, when it differs
    exit_code: int | None = None
    completed_fields: dict[str, Any] = field(default_factory=dict)


class CallScope(Protocol):
    """What one running call may do: stream to the editor, ask the user."""

    call_id: str
    turn_id: str
    session_id: str

    def emit(self, event_type: str, **fields: Any) -> None: ...

    async def approve(self, request: ApprovalRequest) -> Decision: ...


class PreparedCall(Protocol):
    started_fields: dict[str, Any]

    async def run(self, scope: CallScope) -> ToolOutcome: ...


class Tool(Protocol):
    name: str

    def definition(self) -> dict[str, Any]: ...

    async def prepare(self, arguments: str) -> PreparedCall | ToolOutcome: ...


async def decide(scope: CallScope, kind: ApprovalKind, cwd: str, **details: Any) -> Decision:
    """Ask about this call, and turn "abort" into stopping the turn; anything unknown counts
    as deny. `details` are the `ApprovalRequest` fields of that kind of call."""
    from agentls.agent.approvals import DECISIONS

    request = ApprovalRequest(
        session_id=scope.session_id,
        turn_id=scope.turn_id,
        call_id=scope.call_id,
        kind=kind,
        cwd=cwd,
        **details,
    )
    decision = await scope.approve(request)
    if decision == "abort":
        raise AbortRequestedError
    return decision if decision in DECISIONS else "deny"


Settle = Callable[[Callable[..., None]], Awaitable[None]]
"""Waits until the extra tools are known (MCP servers still starting), telling `emit`."""


class ToolBox:
    """The tools of one session, looked up by the name the model used."""

    def __init__(
        self,
        tools: list[Tool],
        extra: Callable[[], list[Tool]] | None = None,
        settle: Settle | None = None,
    ) -> None:
        self._tools = {tool.name: tool for tool in tools}
        self._extra = extra
        self._settle = settle

    async def settle(self, emit: Callable[..., None]) -> None:
        """Before a model request: wait for tools still coming (bounded by their source)."""
        if self._settle is not None:
            await self._settle(emit)

    def _all(self) -> dict[str, Tool]:
        if self._extra is None:
            return self._tools
        return {**{tool.name: tool for tool in self._extra()}, **self._tools}

    def definitions(self) -> list[dict[str, Any]]:
        return [tool.definition() for tool in self._all().values()]

    async def read_ahead(self, name: str, arguments: str) -> None:
        """Let the tool fetch what its plan will read (a patch: the editor's buffers)."""
        reader = getattr(self._all().get(name), "read_ahead", None)
        if reader is not None:
            await reader(arguments)

    async def prepare(self, name: str, arguments: str) -> PreparedCall | ToolOutcome:
        tool = self._all().get(name)
        if tool is None:
            known = ", ".join(f"'{n}'" for n in self._all())
            return ToolOutcome("failed", f"unknown tool '{name}'; the tools are {known}")
        return await tool.prepare(arguments)

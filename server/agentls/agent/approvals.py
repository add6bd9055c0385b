"""When a command needs the user's yes, and how the answer is asked for.

The core only knows an `Approver`: an async callable. The LSP layer supplies one that asks
the editor; without one, anything that needs approval is denied.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from agentls.config.settings import ApprovalPolicy

Decision = Literal["approve", "approveForSession", "deny", "abort"]
ApprovalKind = Literal["shell", "patch", "mcp"]
DECISIONS: frozenset[str] = frozenset({"approve", "approveForSession", "deny", "abort"})


@dataclass(frozen=True)
class ApprovalRequest:
    session_id: str
    turn_id: str
    call_id: str
    kind: ApprovalKind
    cwd: str
    command: list[str] | None = None
    patch: str | None = None
    reason: str | None = None
    changes: list[dict[str, Any]] | None = None
    tool: dict[str, Any] | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "sessionId": self.session_id,
            "turnId": self.turn_id,
            "callId": self.call_id,
            "kind": self.kind,
            "cwd": self.cwd,
        }
        if self.command is not None:
            wire["command"] = self.command
        if self.patch is not None:
            wire["patch"] = self.patch
        if self.reason:
            wire["reason"] = self.reason
        if self.changes is not None:
            wire["changes"] = self.changes
        if self.tool is not None:
            wire["tool"] = self.tool
        return wire


Approver = Callable[[ApprovalRequest], Awaitable[Decision]]


async def deny_all(_request: ApprovalRequest) -> Decision:
    return "deny"


def needs_approval(
    policy: ApprovalPolicy,
    argv: list[str],
    approved_for_session: set[tuple[str, ...]],
    cwd: Path | None = None,
) -> bool:
    """Whether ``argv`` must be approved before it runs in ``cwd``.

    ``cwd`` lets the classifier resolve relative paths and read the repository's git config;
    without it, ``git`` is judged by its arguments alone.
    """
    if policy is ApprovalPolicy.NEVER_ASK or tuple(argv) in approved_for_session:
        return False
    if policy is ApprovalPolicy.ALWAYS_ASK:
        return True
    from agentls.tools.safety import is_read_only  # its grammar loads on first use

    return not is_read_only(argv, cwd)

"""Asking the editor for an approval, and withdrawing the question when the turn stops.

Clients that declared `approvals` get `agent/requestApproval`; others get the standard
`window/showMessageRequest`. If the turn is stopped while the question is open, the client
is told with `$/cancelRequest` and a late answer is dropped (pygls 2.1.1 gets this wrong
on its own: upstream issue #621).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable
from typing import Any, Protocol

from agentls.agent.approvals import DECISIONS, ApprovalRequest, Decision

logger = logging.getLogger(__name__)

ACTIONS: dict[str, Decision] = {
    "Approve": "approve",
    "Approve for session": "approveForSession",
    "Deny": "deny",
}
MESSAGE_WARNING = 2


class RequestChannel(Protocol):
    """What asking needs of the connection: a request out, and a way to withdraw it.

    `AgentProtocol` is one; a test can pass a fake without a pygls server behind it.
    """

    def send_request_async(
        self, method: str, params: Any | None = None, msg_id: Any = None
    ) -> Awaitable[Any]: ...

    def cancel_outgoing(self, msg_id: Any) -> None: ...


class LspApprover:
    def __init__(self, protocol: RequestChannel) -> None:
        self._protocol = protocol
        self._ids = itertools.count(1)
        self.custom_requests = False
        # told when a question waits, so a hidden panel can still draw attention
        self.on_waiting: Any = None

    async def __call__(self, request: ApprovalRequest) -> Decision:
        if self.custom_requests:
            result = await self._ask("agent/requestApproval", request.to_wire())
            decision = result.get("decision") if isinstance(result, dict) else None
            return decision if decision in DECISIONS else "deny"
        what = " ".join(request.command or []) or request.patch or "a change"
        answer = await self._ask(
            "window/showMessageRequest",
            {
                "type": MESSAGE_WARNING,
                "message": f"agentls wants to run: {request.reason or what}\nin {request.cwd}",
                "actions": [{"title": title} for title in ACTIONS],
            },
        )
        title = answer.get("title") if isinstance(answer, dict) else None
        if title is None and answer is not None:
            title = getattr(answer, "title", None)
        return ACTIONS.get(str(title), "deny")

    async def _ask(self, method: str, params: dict[str, Any]) -> Any:
        msg_id = f"agentls-approval-{next(self._ids)}"
        future = self._protocol.send_request_async(method, params, msg_id=msg_id)
        try:
            return await future
        except asyncio.CancelledError:
            self._protocol.cancel_outgoing(msg_id)
            raise
        except Exception as exc:
            logger.warning("approval request failed (%s); treating it as denied", exc)
            return None

"""Asking the editor for an approval, and withdrawing the question when the turn stops.

Clients that declared `approvals` get `agent/requestApproval`; others get the standard
`window/showMessageRequest`. If the turn is stopped while the question is open, the
endpoint tells the client with `$/cancelRequest` and drops any late answer.
"""

from __future__ import annotations

import logging
from typing import Any

from agentls.agent.approvals import DECISIONS, ApprovalRequest, Decision
from agentls.rpc.endpoint import Endpoint
from agentls.rpc.errors import RpcError

logger = logging.getLogger(__name__)

ACTIONS: dict[str, Decision] = {
    "Approve": "approve",
    "Approve for session": "approveForSession",
    "Deny": "deny",
}
MESSAGE_WARNING = 2


class LspApprover:
    def __init__(self, endpoint: Endpoint) -> None:
        self._endpoint = endpoint
        self.custom_requests = False

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
        return ACTIONS.get(str(title), "deny")

    async def _ask(self, method: str, params: dict[str, Any]) -> Any:
        try:
            return await self._endpoint.request(method, params)
        except (RpcError, ConnectionError) as exc:
            logger.warning("approval request failed (%s); treating it as denied", exc)
            return None

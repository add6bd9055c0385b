"""Asking the editor for an approval, and withdrawing the question when the turn stops.

pygls 2.1.1 keeps a server-to-client request's future when the awaiting handler is
cancelled and sends no cancel to the client; a late answer then breaks inside pygls. So
the request goes out with our own id, and on cancellation we drop the future and send
`$/cancelRequest` ourselves.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from agentls.agent.approvals import DECISIONS, ApprovalRequest, Decision

logger = logging.getLogger(__name__)

ACTIONS: dict[str, Decision] = {
    "Approve": "approve",
    "Approve for session": "approveForSession",
    "Deny": "deny",
}


class LspApprover:
    def __init__(self, server: LanguageServer) -> None:
        self._server = server
        self.custom_requests = False

    async def __call__(self, request: ApprovalRequest) -> Decision:
        if self.custom_requests:
            result = await self._ask("agent/requestApproval", request.to_wire())
            decision = result.get("decision") if isinstance(result, dict) else None
            return decision if decision in DECISIONS else "deny"
        what = " ".join(request.command or []) or request.patch or "a change"
        params = types.ShowMessageRequestParams(
            type=types.MessageType.Warning,
            message=f"agentls wants to run: {request.reason or what}\nin {request.cwd}",
            actions=[types.MessageActionItem(title=title) for title in ACTIONS],
        )
        answer = await self._ask(types.WINDOW_SHOW_MESSAGE_REQUEST, params)
        title = getattr(answer, "title", None)
        if title is None and isinstance(answer, dict):
            title = answer.get("title")
        return ACTIONS.get(str(title), "deny")

    async def _ask(self, method: str, params: Any) -> Any:
        protocol = self._server.protocol
        msg_id = f"agentls-approval-{uuid.uuid4().hex}"
        future = protocol.send_request_async(method, params, msg_id=msg_id)
        try:
            return await future
        except asyncio.CancelledError:
            protocol._request_futures.pop(msg_id, None)
            protocol._result_types.pop(msg_id, None)
            protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))
            raise
        except Exception as exc:
            logger.warning("approval request failed (%s); treating it as denied", exc)
            return None

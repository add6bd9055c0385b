"""The `agent/*` methods: params in, one core API call, result out.

Each handler validates its params (pydantic, `agentls.protocol.params`), calls `AgentService` and
shapes the answer; nothing here knows how a turn, an undo or a session file works.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from agentls.lsp.errors import invalid_params

if TYPE_CHECKING:  # the params' validation (pydantic) and the core load on first use
    from agentls.agent.service import AgentService
    from agentls.agent.tasks import EventSink


class MethodHost(Protocol):
    """What the methods need of the LSP server: the core, and where events go."""

    @property
    def service(self) -> AgentService: ...

    def turn_sink(self, work_done_token: str | int | None) -> EventSink: ...

    async def watching(self, timeout_s: float = 2.0) -> None: ...


class AgentMethods:
    def __init__(self, host: MethodHost) -> None:
        self._host = host

    @property
    def _core(self) -> AgentService:
        return self._host.service

    async def send(self, raw: Any) -> dict[str, Any]:
        from agentls.agent.results import InvalidInputError
        from agentls.lsp.params import SendParams, parse_params

        params = parse_params(SendParams, raw, "agent/send")
        sink = self._host.turn_sink(params.workDoneToken)
        try:
            result = await self._core.send(params.sessionId, params.text, sink, params.context)
        except InvalidInputError as exc:  # a malformed attachment
            raise invalid_params(f"agent/send: {exc}") from None
        return result.to_wire()

    async def interrupt(self, raw: Any) -> dict[str, Any]:
        from agentls.lsp.params import SessionParams, parse_params

        params = parse_params(SessionParams, raw, "agent/interrupt")
        turn_id = await self._core.interrupt(params.sessionId)
        if turn_id is None:
            return {"interrupted": False}
        return {"interrupted": True, "turnId": turn_id}

    async def steer(self, raw: Any) -> dict[str, Any]:
        from agentls.lsp.params import SteerParams, parse_params

        params = parse_params(SteerParams, raw, "agent/steer")
        return {"accepted": self._core.steer(params.sessionId, params.text)}

    async def resume(self, raw: Any) -> dict[str, Any]:
        from agentls.lsp.params import ResumeParams, parse_params

        params = parse_params(ResumeParams, raw, "agent/resume")
        return self._core.resume(params.sessionId, params.historyLimit).to_wire()

    async def new_session(self, raw: Any) -> dict[str, Any]:
        from agentls.lsp.params import NewSessionParams, parse_params

        params = parse_params(NewSessionParams, raw, "agent/newSession")
        return {"sessionId": await self._core.new_session(one_shot=params.oneShot)}

    async def list_sessions(self, raw: Any) -> dict[str, Any]:
        from agentls.lsp.params import ListSessionsParams, parse_params

        params = parse_params(ListSessionsParams, raw, "agent/listSessions")
        await self._host.watching()
        try:
            page, cursor = self._core.list_sessions(params.limit, params.cursor, params.query)
        except ValueError as exc:
            raise invalid_params(f"invalid 'cursor': {exc}") from None
        result: dict[str, Any] = {"sessions": [s.to_wire() for s in page]}
        if cursor:
            result["nextCursor"] = cursor
        return result

    # -- long sessions ------------------------------------------------------------------
    async def history(self, raw: Any) -> dict[str, Any]:
        from agentls.lsp.params import HistoryParams, parse_params

        params = parse_params(HistoryParams, raw, "agent/history")
        try:
            entries, cursor = self._core.history_page(params.sessionId, params.cursor, params.limit)
        except ValueError as exc:
            raise invalid_params(f"agent/history: invalid 'cursor': {exc}") from None
        result: dict[str, Any] = {"history": entries}
        if cursor is not None:
            result["cursor"] = cursor
        return result

    async def compact(self, raw: Any) -> dict[str, Any]:
        from agentls.lsp.params import SessionParams, parse_params

        params = parse_params(SessionParams, raw, "agent/compact")
        outcome = await self._core.compact(params.sessionId, self._host.turn_sink(None))
        return {"tokensBefore": outcome.tokens_before, "tokensAfter": outcome.tokens_after}

    async def run_command(self, raw: Any) -> dict[str, Any]:
        from agentls.lsp.params import RunCommandParams, parse_params

        params = parse_params(RunCommandParams, raw, "agent/runCommand")
        sink = self._host.turn_sink(params.workDoneToken)
        result = await self._core.run_command(params.sessionId, params.command, sink)
        return result.to_wire()

    # -- undo, fork and the session list ------------------------------------------------
    async def undo(self, raw: Any) -> dict[str, Any]:
        from agentls.lsp.params import UndoParams, parse_params

        params = parse_params(UndoParams, raw, "agent/undo")
        result = await self._core.undo(
            params.sessionId,
            params.turnId,
            params.restore,
            force=params.force,
            history_limit=params.historyLimit,
        )
        return result.to_wire()

    async def fork(self, raw: Any) -> dict[str, Any]:
        from agentls.lsp.params import ForkParams, parse_params

        params = parse_params(ForkParams, raw, "agent/fork")
        return {"sessionId": await self._core.fork(params.sessionId, params.turnId)}

    async def rename_session(self, raw: Any) -> dict[str, Any]:
        from agentls.lsp.params import RenameSessionParams, parse_params

        params = parse_params(RenameSessionParams, raw, "agent/renameSession")
        self._core.rename_session(params.sessionId, params.title)
        return {}

    async def delete_session(self, raw: Any) -> dict[str, Any]:
        from agentls.lsp.params import DeleteSessionParams, parse_params

        params = parse_params(DeleteSessionParams, raw, "agent/deleteSession")
        self._core.delete_session(params.sessionId)
        return {}

    async def mcp_servers(self, raw: Any) -> dict[str, Any]:
        from agentls.lsp.params import NoParams, parse_params

        parse_params(NoParams, raw, "agent/mcpServers")
        return {"servers": self._core.mcp_statuses()}


Method = Callable[[AgentMethods, Any], Awaitable[dict[str, Any]]]

AGENT_METHODS: dict[str, Method] = {
    "agent/send": AgentMethods.send,
    "agent/interrupt": AgentMethods.interrupt,
    "agent/resume": AgentMethods.resume,
    "agent/newSession": AgentMethods.new_session,
    "agent/listSessions": AgentMethods.list_sessions,
    "agent/steer": AgentMethods.steer,
    "agent/mcpServers": AgentMethods.mcp_servers,
    "agent/history": AgentMethods.history,
    "agent/compact": AgentMethods.compact,
    "agent/runCommand": AgentMethods.run_command,
    "agent/undo": AgentMethods.undo,
    "agent/fork": AgentMethods.fork,
    "agent/renameSession": AgentMethods.rename_session,
    "agent/deleteSession": AgentMethods.delete_session,
}

"""The `agent/*` methods: params in, core call, result out. No turn logic lives here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentls.agent.turn import prepare
from agentls.lsp.errors import invalid_params

if TYPE_CHECKING:
    from agentls.agent.session import Session
    from agentls.lsp.server import AgentLanguageServer


class AgentMethods:
    def __init__(self, server: AgentLanguageServer) -> None:
        self.server = server

    async def send(self, raw: Any) -> dict[str, Any]:
        from agentls.lsp.params import SendParams, parse_params

        params = parse_params(SendParams, raw, "agent/send")
        attachments = self._attachments(params.context)
        stopped = await prepare(self.server.resolve_model())
        session = self.server.agent_workspace().session_for_send(params.sessionId)
        sink = self.server.turn_sink(params.workDoneToken)
        result = await session.send(params.text, sink, attachments, stopped=stopped)
        return result.to_wire()

    def _attachments(self, raw: Any) -> list[dict[str, Any]]:
        """`context` as message parts: the editor's buffer when the file is open, else disk."""
        if not raw:
            return []
        from agentls.agent.attachments import (
            AttachmentError,
            parse_attachments,
            render_attachments,
            uri_to_path,
        )

        try:
            attachments = parse_attachments(raw)
        except AttachmentError as exc:
            raise invalid_params(f"agent/send: invalid '{exc}'") from None
        context = self.server.agent_workspace().context

        def read(uri: str) -> tuple[str, bool] | None:
            path = uri_to_path(uri)
            if path is None:
                return None
            buffer = context.editor.buffer(path)
            if buffer is not None:
                return buffer.text, buffer.unsaved
            try:
                if path.stat().st_size > 8 << 20:
                    return None
                return path.read_bytes().decode("utf-8"), False
            except (OSError, UnicodeDecodeError):
                return None

        return render_attachments(attachments, read, workspace=context.workspace)

    async def interrupt(self, raw: Any) -> dict[str, Any]:
        from agentls.lsp.params import SessionParams, parse_params

        params = parse_params(SessionParams, raw, "agent/interrupt")
        session = self.server.agent_workspace().session_for_interrupt(params.sessionId)
        turn_id = session.interrupt() if session is not None else None
        if turn_id is None or session is None:
            return {"interrupted": False}
        await session.wait_idle()
        return {"interrupted": True, "turnId": turn_id}

    async def steer(self, raw: Any) -> dict[str, Any]:
        from agentls.lsp.params import SteerParams, parse_params

        params = parse_params(SteerParams, raw, "agent/steer")
        session = self.server.agent_workspace().session_for_interrupt(params.sessionId)
        return {"accepted": session is not None and session.steer(params.text)}

    async def resume(self, raw: Any) -> dict[str, Any]:
        from agentls.lsp.params import ResumeParams, parse_params
        from agentls.rollout.reader import bulk_load

        params = parse_params(ResumeParams, raw, "agent/resume")
        with bulk_load():
            workspace = self.server.agent_workspace()
            resumed = workspace.resume(params.sessionId, params.historyLimit)
        result = resumed.to_wire()
        result["instructionFiles"] = [str(p) for p in resumed.session.instruction_files()]
        return result

    async def new_session(self, raw: Any) -> dict[str, Any]:
        from agentls.lsp.params import NewSessionParams, parse_params

        params = parse_params(NewSessionParams, raw, "agent/newSession")
        await self.server.resolve_model()
        session = self.server.agent_workspace().new_session(one_shot=params.oneShot)
        return {"sessionId": session.id}

    async def list_sessions(self, raw: Any) -> dict[str, Any]:
        from agentls.lsp.params import ListSessionsParams, parse_params

        params = parse_params(ListSessionsParams, raw, "agent/listSessions")
        await self.server.watching()
        try:
            page, cursor = self.server.agent_workspace().store.page(
                params.limit, params.cursor, params.query
            )
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
        workspace = self.server.agent_workspace()
        try:
            entries, cursor = workspace.history_page(params.sessionId, params.cursor, params.limit)
        except ValueError as exc:
            raise invalid_params(f"agent/history: invalid 'cursor': {exc}") from None
        result: dict[str, Any] = {"history": entries}
        if cursor is not None:
            result["cursor"] = cursor
        return result

    async def compact(self, raw: Any) -> dict[str, Any]:
        from agentls.agent.compaction import compact_now
        from agentls.agent.results import SessionNotFoundError
        from agentls.lsp.params import SessionParams, parse_params

        params = parse_params(SessionParams, raw, "agent/compact")
        workspace = self.server.agent_workspace()
        session = workspace.session_for_interrupt(params.sessionId)
        if session is None:  # a known session that this server has not opened yet
            if params.sessionId is None:
                raise SessionNotFoundError("no session is open: send a message first")
            session = workspace.open_session(params.sessionId)
        outcome = await compact_now(session, self.server.turn_sink(None))
        return {"tokensBefore": outcome.tokens_before, "tokensAfter": outcome.tokens_after}

    async def run_command(self, raw: Any) -> dict[str, Any]:
        from agentls.agent.user_command import run_user_command
        from agentls.lsp.params import RunCommandParams, parse_params

        params = parse_params(RunCommandParams, raw, "agent/runCommand")
        session = self.server.agent_workspace().session_for_send(params.sessionId)
        sink = self.server.turn_sink(params.workDoneToken)
        result = await run_user_command(session, params.command, sink)
        return result.to_wire()

    # -- undo, fork and the session list ------------------------------------------------
    async def undo(self, raw: Any) -> dict[str, Any]:
        from agentls.agent.undo import undo
        from agentls.lsp.params import UndoParams, parse_params

        params = parse_params(UndoParams, raw, "agent/undo")
        session = self._open_session(params.sessionId)
        others = self.server.agent_workspace().sessions.values()
        result = await undo(
            session,
            params.turnId,
            params.restore,
            force=params.force,
            history_limit=params.historyLimit,
            also_running=[s for s in others if s is not session],
        )
        if result.undone_turns:
            self.server.notify("agent/sessionsChanged", {})
        return result.to_wire()

    async def fork(self, raw: Any) -> dict[str, Any]:
        from agentls.agent.undo import fork
        from agentls.lsp.params import ForkParams, parse_params

        params = parse_params(ForkParams, raw, "agent/fork")
        new_id = await fork(self.server.agent_workspace(), params.sessionId, params.turnId)
        self.server.notify("agent/sessionsChanged", {})
        return {"sessionId": new_id}

    async def rename_session(self, raw: Any) -> dict[str, Any]:
        from agentls.agent.undo import rename_session
        from agentls.lsp.params import RenameSessionParams, parse_params

        params = parse_params(RenameSessionParams, raw, "agent/renameSession")
        rename_session(self.server.agent_workspace(), params.sessionId, params.title)
        self.server.notify("agent/sessionsChanged", {})
        return {}

    async def delete_session(self, raw: Any) -> dict[str, Any]:
        from agentls.agent.undo import delete_session
        from agentls.lsp.params import DeleteSessionParams, parse_params

        params = parse_params(DeleteSessionParams, raw, "agent/deleteSession")
        delete_session(self.server.agent_workspace(), params.sessionId)
        self.server.notify("agent/sessionsChanged", {})
        return {}

    def _open_session(self, session_id: str | None) -> Session:
        """The named session (opened if need be), else the active one."""
        from agentls.agent.results import SessionNotFoundError

        workspace = self.server.agent_workspace()
        session = workspace.session_for_interrupt(session_id)
        if session is None:
            if session_id is None:
                raise SessionNotFoundError("no session is open: pass its sessionId")
            session = workspace.open_session(session_id)
        return session

    async def mcp_servers(self, raw: Any) -> dict[str, Any]:
        from agentls.lsp.params import NoParams, parse_params

        parse_params(NoParams, raw, "agent/mcpServers")
        return {"servers": self.server.agent_workspace().mcp_statuses()}


AGENT_METHODS = {
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

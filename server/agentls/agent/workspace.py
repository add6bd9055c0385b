"""The sessions of one workspace in this server: which is active, which are open.

Opening a session takes its file lock, so two servers on one workspace can each work, but
never write the same session.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentls.agent.context import AgentContext
from agentls.agent.results import SessionNotFoundError, StorageError
from agentls.agent.session import Session
from agentls.agent.tools import Tool
from agentls.rollout.paths import WorkspaceLayout, check_session_id
from agentls.rollout.store import SessionStore

if TYPE_CHECKING:
    from agentls.mcp import McpManager

__all__ = ["ResumeResult", "SessionNotFoundError", "Workspace"]


# `agent/resume` without `historyLimit`: every entry, as before paging existed
ALL_ENTRIES = sys.maxsize


@dataclass
class ResumeResult:
    session: Session
    warnings: list[str]
    history: list[dict[str, Any]] | None = None
    history_cursor: str | None = None

    def to_wire(self) -> dict[str, Any]:
        session = self.session
        wire: dict[str, Any] = {
            "sessionId": session.id,
            "title": session.info.title or "(empty session)",
            "createdAt": session.info.created_at,
            "updatedAt": session.updated_at(),
            "history": self.history if self.history is not None else session.history_view(),
            "warnings": self.warnings,
            "instructionFiles": [str(p) for p in session.instruction_files()],
        }
        if self.history_cursor is not None:
            wire["historyCursor"] = self.history_cursor
        if session.info.forked_from is not None:
            wire["forkedFrom"] = session.info.forked_from
        return wire


class Workspace:
    def __init__(self, context: AgentContext, layout: WorkspaceLayout) -> None:
        self.context = context
        self.layout = layout
        self.store = SessionStore(layout)
        self.sessions: dict[str, Session] = {}
        self.active: Session | None = None
        # told (with the session id) when a session file had to be recreated
        self.on_relinked: Callable[[str], None] | None = None
        self.mcp: McpManager | None = None
        if context.settings.checkpoints and context.checkpoints is None:
            from agentls.agent.checkpoints import Checkpoints

            context.checkpoints = Checkpoints(
                layout.root,
                context.workspace,
                max_file_mb=context.settings.checkpoint_max_file_mb,
                prepare=layout.ensure,
            )
        self._mcp_config: Any = {}

    def _adopt(self, session: Session) -> Session:
        self.sessions[session.id] = session
        session.on_relinked = self._relinked
        session.extra_tools = lambda: self._mcp_tools(session)
        session.settle_tools = self._mcp_started
        return session

    async def _mcp_started(self, emit: Callable[..., None]) -> None:
        """A turn's request waits for MCP servers still starting (each up to its startup
        timeout), so a message sent at once still gets their tools; `emit` says so."""
        if self.mcp is not None:
            await self.mcp.wait_started(emit)

    def _mcp_tools(self, session: Session) -> list[Tool]:
        if self.mcp is None:
            return []
        from agentls.agent.calls.mcp import mcp_tools

        return mcp_tools(self.context, self.mcp, session.approved_tools)

    async def start_mcp(self, on_change: Callable[[], None] | None = None) -> list[str]:
        """Start the configured MCP servers (again, if their settings changed).

        Returns the configuration's warnings; a server that fails is in `mcp_statuses()`.
        """
        config = dict(self.context.settings.mcp_servers)
        if config == self._mcp_config and (self.mcp is not None or not config):
            return []
        self._mcp_config = config
        if not config:
            await self.stop_mcp()
            return []  # the MCP SDK (most of a second to import) is loaded only when needed
        from agentls.mcp import McpManager, parse_server_configs

        configs, warnings = parse_server_configs(config)
        manager = McpManager(configs, env=self.context.tool_env(), on_change=on_change)
        # In place before the old servers go, so a turn sent meanwhile waits for the new.
        previous, self.mcp = self.mcp, manager
        if previous is not None:
            await previous.aclose()
        await manager.start()
        return warnings

    async def stop_mcp(self) -> None:
        manager, self.mcp = self.mcp, None
        if manager is not None:
            await manager.aclose()

    def mcp_statuses(self) -> list[dict[str, Any]]:
        return [status.to_wire() for status in self.mcp.statuses()] if self.mcp else []

    def _relinked(self, session: Session) -> None:
        self.layout.ensure()
        if self.on_relinked is not None:
            self.on_relinked(session.id)

    def new_session(self, *, one_shot: bool = False) -> Session:
        session = self._adopt(Session.create(self.context, self.layout, one_shot=one_shot))
        self.active = session
        return session

    def open_session(self, session_id: str, history_limit: int = 0) -> Session:
        """The session with that id, taking its lock on first use.

        A session opened here reads its newest `history_limit` panel entries on the way.
        """
        check_session_id(session_id)
        found = self.sessions.get(session_id)
        if found is not None:
            return found
        path = self.layout.find_session(session_id)
        if path is None:
            raise SessionNotFoundError(
                f"no session '{session_id}' in this workspace; "
                "agent/listSessions shows the ones there are"
            )
        return self._adopt(Session.open(self.context, path, session_id, history_limit))

    def resume(self, session_id: str | None, history_limit: int | None = None) -> ResumeResult:
        """Open (or take) a session: its newest `history_limit` entries (None: all of them)."""
        if session_id is None:
            latest = self.store.latest()
            if latest is None:
                raise SessionNotFoundError("this workspace has no sessions yet")
            session_id = latest.session_id
        limit = ALL_ENTRIES if history_limit is None else history_limit
        session = self.open_session(session_id, limit)
        self.active = session
        entries, cursor = session.panel_page(limit)
        return ResumeResult(session, list(session.info.warnings), entries, cursor)

    def history_page(
        self, session_id: str | None, cursor: str, limit: int
    ) -> tuple[list[dict[str, Any]], str | None]:
        """`agent/history`: the entries older than `cursor`; ValueError for a foreign cursor."""
        from agentls.rollout.paging import history_page

        return history_page(self.session_file(session_id), cursor, limit)

    def session_file(self, session_id: str | None) -> Path:
        """The file of a session of this workspace (default: the active one)."""
        if session_id is None:
            if self.active is None:
                raise SessionNotFoundError("no session is open; pass its sessionId")
            return self.active.path
        check_session_id(session_id)
        held = self.sessions.get(session_id)
        path = held.path if held else self.layout.find_session(session_id)
        if path is None:
            raise SessionNotFoundError(f"no session '{session_id}' in this workspace")
        return path

    async def fork(self, session_id: str | None, turn_id: str | None) -> str:
        """A new session holding the conversation up to and including `turn_id` (default:
        the last finished turn); returns its id. The original is not touched."""
        from agentls.agent.fork import fork_session

        source = self.session_file(session_id)
        original = session_id or (self.active.id if self.active else "")
        return await fork_session(self.context, self.layout, source, original, turn_id)

    def rename_session(self, session_id: str, title: str) -> None:
        """Append a `session_renamed` record; the listing and resume take the last one."""
        from agentls.rollout.records import EVENT_MSG, SESSION_RENAMED
        from agentls.rollout.writer import RolloutWriteError, RolloutWriter

        clean = " ".join(title.split())
        held = self.sessions.get(session_id)
        if held is not None:
            held.rename(clean)
            return
        path = self.session_file(session_id)
        try:  # another server may hold it: taking the lock tells
            writer = RolloutWriter(path, create=False, secrets=self.context.secrets())
            try:
                writer.append(EVENT_MSG, {"type": SESSION_RENAMED, "title": clean})
            finally:
                writer.close()
        except RolloutWriteError as exc:
            raise StorageError(str(exc.strerror)) from exc

    def delete_session(self, session_id: str) -> Path:
        """Move the session's file to the trash folder, closing it first; refused mid-turn."""
        from agentls.rollout.store import move_to_trash
        from agentls.rollout.writer import RolloutWriter

        path = self.session_file(session_id)
        held = self.sessions.get(session_id)
        if held is not None:
            held.refuse_while_running("delete it")
            held.close()
            del self.sessions[session_id]
            if self.active is held:
                self.active = None
            lock: RolloutWriter | None = None
        else:  # another server may hold it: taking the lock tells
            lock = RolloutWriter(path, create=False)
        try:
            return move_to_trash(self.layout, path)
        except OSError as exc:
            raise StorageError(f"could not move the session to the trash: {exc.strerror}") from exc
        finally:
            if lock is not None:
                lock.close()

    def session_for_send(self, session_id: str | None) -> Session:
        if session_id is not None:
            session = self.open_session(session_id)
        elif self.active is not None:
            session = self.active
        else:
            session = self.new_session()
        self.active = session
        return session

    def session_for_interrupt(self, session_id: str | None) -> Session | None:
        if session_id is None:
            return self.active
        check_session_id(session_id)
        session = self.sessions.get(session_id)
        if session is None and self.layout.find_session(session_id) is None:
            raise SessionNotFoundError(f"no session '{session_id}' in this workspace")
        return session

    async def shutdown(self) -> None:
        """Stop every turn (their tools die with them), then release every lock."""
        for session in self.sessions.values():
            session.interrupt()
        for session in self.sessions.values():
            await session.wait_idle()
        for session in self.sessions.values():
            session.close()
        await self.stop_mcp()
        if self.context.checkpoints is not None:
            await self.context.checkpoints.close()
        self.context.reaper.close()

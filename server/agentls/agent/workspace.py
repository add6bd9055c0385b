"""The sessions of one workspace in this server: which is active, which are open.

Opening a session takes its file lock, so two servers on one workspace can each work, but
never write the same session.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agentls.agent.context import AgentContext
from agentls.agent.session import Session
from agentls.rollout.paths import WorkspaceLayout, check_session_id
from agentls.rollout.store import SessionStore


class SessionNotFoundError(LookupError):
    """No session with that id in this workspace."""


@dataclass
class ResumeResult:
    session: Session
    warnings: list[str]

    def to_wire(self) -> dict[str, Any]:
        session = self.session
        return {
            "sessionId": session.id,
            "title": session.info.title or "(empty session)",
            "createdAt": session.info.created_at,
            "updatedAt": session.updated_at(),
            "history": session.history_view(),
            "warnings": self.warnings,
        }


class Workspace:
    def __init__(self, context: AgentContext, layout: WorkspaceLayout) -> None:
        self.context = context
        self.layout = layout
        self.store = SessionStore(layout)
        self.sessions: dict[str, Session] = {}
        self.active: Session | None = None

    def new_session(self) -> Session:
        session = Session.create(self.context, self.layout)
        self.sessions[session.id] = session
        self.active = session
        return session

    def open_session(self, session_id: str) -> Session:
        """The session with that id, taking its lock on first use."""
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
        session = Session.open(self.context, path, session_id)
        self.sessions[session_id] = session
        return session

    def resume(self, session_id: str | None) -> ResumeResult:
        if session_id is None:
            latest = self.store.latest()
            if latest is None:
                raise SessionNotFoundError("this workspace has no sessions yet")
            session_id = latest.session_id
        session = self.open_session(session_id)
        self.active = session
        return ResumeResult(session, list(session.info.warnings))

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
        self.context.reaper.close()

"""The core API: what every front end (LSP, ACP, tests) calls, and all it may call.

A front end translates its protocol into these methods and the events (plain dicts, one
`EventSink` per call) back into its own messages. It never touches a `Session`, a task or a
rollout: that is what keeps the two front ends from growing two agent loops.

One service serves one workspace folder. It owns the settings, the model client and the
`Workspace` (the sessions open in this process); `configure` builds or rebuilds them from the
user's settings, so a front end only says where its settings come from.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentls.agent.approvals import Approver, deny_all
from agentls.agent.context import AgentContext
from agentls.agent.editor import EditorBuffers, NoEditor
from agentls.agent.results import (
    InvalidInputError,
    NotConfiguredError,
    SessionNotFoundError,
    TurnResult,
)
from agentls.agent.tasks import EventSink, prepare
from agentls.agent.workspace import ResumeResult, Workspace

if TYPE_CHECKING:
    from agentls.agent.compaction import CompactionOutcome
    from agentls.agent.session import Session
    from agentls.agent.undo import Restore, UndoResult
    from agentls.config.settings import Settings
    from agentls.rollout.store import SessionSummary

logger = logging.getLogger(__name__)


class AgentService:
    """Sessions, turns, approvals and events of one workspace, for any front end."""

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        approver: Approver = deny_all,
        editor: EditorBuffers | None = None,
        providers: Callable[[Settings], Any] | None = None,
    ) -> None:
        self.env = env
        self.approver = approver
        self.editor: EditorBuffers = editor if editor is not None else NoEditor()
        # where model clients come from: a front end serving many services (ACP: one per
        # session) shares them, and closes them itself; by default the service owns its own
        self._shared_providers = providers
        self.settings_warnings: list[str] = []
        self.provider: Any = None
        self._retired_providers: list[Any] = []
        self._workspace: Workspace | None = None
        # told after undo, fork, rename or delete changed the session list
        self.on_sessions_changed: Callable[[], None] = lambda: None
        # told (with the session id) when an open session's file had to be recreated
        self.on_session_relinked: Callable[[str], None] = lambda _session_id: None

    # -- configuration -------------------------------------------------------------------
    @property
    def configured(self) -> bool:
        return self._workspace is not None

    @property
    def workspace(self) -> Workspace:
        if self._workspace is None:
            raise NotConfiguredError("initialize the server first")
        return self._workspace

    @property
    def context(self) -> AgentContext:
        return self.workspace.context

    def configure(
        self,
        folder: Path,
        user_options: Mapping[str, Any],
        workspace_config: Mapping[str, Any] | None = None,
    ) -> bool:
        """(Re)build the settings and the model client; True when anything changed.

        `user_options` are the user's own settings (command line, editor settings of the
        user or the machine); `workspace_config` what the opened folder's editor settings
        say, which may not change where the key goes, what runs unasked or which programs
        start (`agentls.config.settings` enforces it).
        """
        from agentls.config.settings import load_settings
        from agentls.providers.factory import build_provider
        from agentls.rollout.paths import WorkspaceLayout

        loaded = load_settings(
            env=self.env, init_options=user_options, workspace_config=workspace_config
        )
        self.settings_warnings = loaded.warnings
        for warning in loaded.warnings:
            logger.warning("%s", warning)
        settings = loaded.settings
        if self._workspace is not None and self._workspace.context.settings == settings:
            return False  # nothing changed: keep the model client (and a loaded local model)
        if self._shared_providers is not None:
            self.provider = self._shared_providers(settings)
        else:
            if self.provider is not None:
                # a running turn may still stream through it: close it when the service ends
                self._retired_providers.append(self.provider)
            self.provider = build_provider(settings, self.env)
            if self.provider.embedded is not None:
                self.provider.embedded.start()  # loads in a thread; sends wait for it
        info = self.provider.info if isinstance(self.provider.info, dict) else {}
        if self._workspace is None:
            context = AgentContext(
                settings=settings,
                workspace=folder,
                model_stream=self.provider.stream,
                approver=self.approver,
                env=self.env,
                editor=self.editor,
                provider_info=info,
            )
            self._workspace = Workspace(context, WorkspaceLayout.for_path(settings.home, folder))
            self._workspace.on_relinked = lambda session_id: self.on_session_relinked(session_id)
        else:
            context = self._workspace.context
            context.settings = settings
            context.model_stream = self.provider.stream
            context.provider_info = info
        return True

    @property
    def folder(self) -> Path:
        return self.context.workspace

    def sessions_folder(self) -> Path:
        """Where this workspace's session files are (made if missing), for watchers."""
        layout = self.workspace.layout
        layout.ensure()
        return layout.sessions_dir

    def open_session_files(self) -> set[Path]:
        """The files of the sessions this process holds (their changes are its own)."""
        return {session.path for session in self.workspace.sessions.values()}

    @property
    def model_info(self) -> dict[str, Any] | None:
        info = self.provider.info if self.provider is not None else None
        return info if isinstance(info, dict) else None

    @property
    def provider_warnings(self) -> list[str]:
        return list(getattr(self.provider, "warnings", []))

    async def resolve_model(self, timeout_s: float = 10) -> None:
        """Settle which model answers (a local server's only one) before a session records
        it; a server that does not answer is the turn's to report, not this call's."""
        resolve = getattr(self.provider, "resolve", None)
        if resolve is None:
            return
        try:
            await asyncio.wait_for(resolve(), timeout_s)
        except Exception as exc:
            logger.info("could not settle the model before the turn: %s", exc)

    # -- sessions ------------------------------------------------------------------------
    async def new_session(self, *, one_shot: bool = False) -> str:
        await self.resolve_model()
        return self.workspace.new_session(one_shot=one_shot).id

    def resume(self, session_id: str | None, history_limit: int | None = None) -> ResumeResult:
        """Open a session (default: the newest) and its newest `history_limit` entries."""
        from agentls.rollout.reader import bulk_load

        with bulk_load():
            return self.workspace.resume(session_id, history_limit)

    def list_sessions(
        self, limit: int, cursor: str | None = None, query: str | None = None
    ) -> tuple[list[SessionSummary], str | None]:
        """A page of the sessions, newest first; ValueError for a cursor not ours."""
        return self.workspace.store.page(limit, cursor, query)

    def history_page(
        self, session_id: str | None, cursor: str, limit: int
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Entries older than `cursor`; ValueError for a cursor not ours."""
        return self.workspace.history_page(session_id, cursor, limit)

    def rename_session(self, session_id: str, title: str) -> None:
        self.workspace.rename_session(session_id, title)
        self.on_sessions_changed()

    def delete_session(self, session_id: str) -> None:
        self.workspace.delete_session(session_id)
        self.on_sessions_changed()

    async def fork(self, session_id: str | None, turn_id: str | None) -> str:
        new_id = await self.workspace.fork(session_id, turn_id)
        self.on_sessions_changed()
        return new_id

    def describe(self, session_id: str) -> tuple[str, str]:
        """The session's title (empty until its first message) and when it last changed."""
        session = self._held(session_id)
        return session.info.title, session.updated_at()

    def instruction_files(self, session_id: str) -> list[Path]:
        return self._held(session_id).instruction_files()

    # -- turns ---------------------------------------------------------------------------
    async def send(
        self,
        session_id: str | None,
        text: str,
        sink: EventSink,
        context: list[Any] | None = None,
    ) -> TurnResult:
        """Run one turn to its end (default session: the active one, else a new one).

        `context` are the editor's attachments (`{uri, range?, text?}`), read from the
        editor's buffer when the file is open there. Cancelling the caller stops the turn;
        the caller still gets the turn's result.
        """
        attachments = await self._attachments(context)
        stopped = await prepare(self.resolve_model())
        session = self.workspace.session_for_send(session_id)
        return await session.send(text, sink, attachments, stopped=stopped)

    async def run_command(
        self, session_id: str | None, command: str, sink: EventSink
    ) -> TurnResult:
        """The user's own command (`!cmd`): runs like an approved `shell` call, never asked."""
        session = self.workspace.session_for_send(session_id)
        return await session.run_command(command, sink)

    def steer(self, session_id: str | None, text: str) -> bool:
        """Add text to the running turn; False when no turn runs."""
        session = self.workspace.session_for_interrupt(session_id)
        return session is not None and session.steer(text)

    async def interrupt(self, session_id: str | None) -> str | None:
        """Stop the running task and wait for its end; its id, or None if nothing ran."""
        session = self.workspace.session_for_interrupt(session_id)
        turn_id = session.interrupt() if session is not None else None
        if turn_id is None or session is None:
            return None
        await session.wait_idle()
        return turn_id

    def running_turn(self, session_id: str) -> str | None:
        session = self.workspace.sessions.get(session_id)
        return session.running_turn_id if session is not None else None

    async def compact(self, session_id: str | None, sink: EventSink) -> CompactionOutcome:
        return await self._held(session_id).compact(sink)

    async def undo(
        self,
        session_id: str | None,
        turn_id: str | None = None,
        restore: Restore = "all",
        *,
        force: bool = False,
        history_limit: int | None = None,
    ) -> UndoResult:
        """Take back a turn (default: the last) and every later one: files, conversation or
        both. Files are not restored while another session's turn changes the workspace."""
        from agentls.agent.undo import undo

        session = self._held(session_id)
        others = [s for s in self.workspace.sessions.values() if s is not session]
        result = await undo(
            session,
            turn_id,
            restore,
            force=force,
            history_limit=history_limit,
            also_running=others,
        )
        if result.undone_turns:
            self.on_sessions_changed()
        return result

    # -- MCP -----------------------------------------------------------------------------
    async def start_mcp(self, on_change: Callable[[], None] | None = None) -> list[str]:
        return await self.workspace.start_mcp(on_change)

    @property
    def mcp_running(self) -> bool:
        return self.workspace.mcp is not None

    def mcp_statuses(self) -> list[dict[str, Any]]:
        return self.workspace.mcp_statuses()

    # -- the end -------------------------------------------------------------------------
    async def close(self) -> None:
        """Stop every task (their tools die with them), release sessions, close clients."""
        if self._workspace is not None:
            await self._workspace.shutdown()
        if self._shared_providers is None:
            for provider in [*self._retired_providers, self.provider]:
                if provider is not None:
                    await provider.aclose()
        self._retired_providers.clear()
        self.provider = None

    # -- helpers -------------------------------------------------------------------------
    def _held(self, session_id: str | None) -> Session:
        """The named session (opened if need be), else the active one."""
        workspace = self.workspace
        session = workspace.session_for_interrupt(session_id)
        if session is None:
            if session_id is None:
                raise SessionNotFoundError("no session is open: pass its sessionId")
            session = workspace.open_session(session_id)
        return session

    async def _attachments(self, raw: list[Any] | None) -> list[dict[str, Any]]:
        """`context` as message parts: the editor's buffer when the file is open, else disk
        (the guarded reader, off the loop); redacted, since they go to the model."""
        if not raw:
            return []
        from agentls.agent.attachments import (
            AttachmentError,
            parse_attachments,
            read_sources,
            render_attachments,
        )

        try:
            attachments = parse_attachments(raw)
        except AttachmentError as exc:
            raise InvalidInputError(f"invalid '{exc}'") from None
        context = self.context
        sources = await read_sources(attachments, context.editor)
        parts = render_attachments(attachments, sources.get, workspace=context.workspace)
        return [{**part, "text": context.redact(part["text"])} for part in parts]

"""The core behind `agentls acp`: each ACP session is served by an `AgentService` of its own.

ACP scopes to a session what LSP scopes to a connection: its folder (`cwd`), its MCP
servers (the client's join the user's), its model and approval mode (config options), and
the editor's files (asked for with the session's id). So one service per session is the
natural fit: nothing of one session leaks into another, and closing a session releases
exactly its lock and its MCP servers. Model clients are shared between services with the
same model settings (the embedded model is loaded once).

The user's own settings (the environment, `config.toml`, what `agentls acp` was started
with) are the only settings: an ACP client is the user's editor, but a session's folder
is a repository, and nothing in it is read as settings.
"""

from __future__ import annotations

import heapq
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson

from agentls.acp.core import (
    ClientFiles,
    CompactResult,
    LoadedSession,
    McpServers,
    ModelChoice,
    SessionPage,
    SessionSettings,
    SessionSummary,
    UndoResult,
)
from agentls.acp.files import ClientBuffers
from agentls.agent.approvals import ApprovalRequest, Approver, Decision, deny_all
from agentls.agent.results import SessionNotFoundError, TurnResult
from agentls.agent.service import AgentService
from agentls.agent.tasks import EventSink
from agentls.config.settings import ApprovalPolicy, Settings, load_settings

logger = logging.getLogger(__name__)

PAGE_SIZE = 50


@dataclass
class _Held:
    """One open ACP session: its service, and what it was configured with."""

    service: AgentService
    cwd: Path
    options: dict[str, Any]
    editor: ClientBuffers
    approver: Approver = deny_all


def _provider_key(settings: Settings) -> tuple[Any, ...]:
    """The settings a model client is built from: sessions agreeing on them share one."""
    return (
        settings.base_url,
        settings.api_key_env,
        settings.model,
        settings.wire_api,
        settings.history,
        settings.model_path,
        settings.local_model,
        settings.local_context_tokens,
        settings.connect_timeout_s,
        settings.stream_idle_timeout_s,
        tuple(sorted(settings.extra_headers.items())),
    )


class ServiceCore:
    """`AgentCore` (what `AcpAgent` calls) over one `AgentService` per open session."""

    def __init__(self, env: Mapping[str, str], user_options: Mapping[str, Any] | None = None):
        self._env = env
        self._options = dict(user_options or {})
        loaded = load_settings(env=env, init_options=self._options)
        for warning in loaded.warnings:
            logger.warning("%s", warning)
        self._home = loaded.settings.home
        self._user_mcp = dict(loaded.settings.mcp_servers)
        self._held: dict[str, _Held] = {}
        self._providers: dict[tuple[Any, ...], Any] = {}

    # -- model clients, shared ------------------------------------------------------------
    def _provider(self, settings: Settings) -> Any:
        from agentls.providers.factory import build_provider

        key = _provider_key(settings)
        provider = self._providers.get(key)
        if provider is None:
            provider = build_provider(settings, self._env)
            if provider.embedded is not None:
                provider.embedded.start()  # loads in a thread; sends wait for it
            self._providers[key] = provider
        return provider

    # -- sessions -------------------------------------------------------------------------
    def _start(self, cwd: Path, mcp_servers: McpServers, files: ClientFiles) -> _Held:
        options = dict(self._options)
        if mcp_servers:
            options["mcp_servers"] = {**self._user_mcp, **mcp_servers}
        editor = ClientBuffers("", files)
        held: _Held

        async def approve(request: ApprovalRequest) -> Decision:
            return await held.approver(request)

        service = AgentService(self._env, approver=approve, editor=editor, providers=self._provider)
        held = _Held(service, cwd, options, editor)
        service.configure(cwd, options)
        for warning in [*service.settings_warnings, *service.provider_warnings]:
            logger.warning("%s", warning)
        return held

    async def _adopt(self, held: _Held, session_id: str) -> None:
        held.editor.session_id = session_id
        self._held[session_id] = held
        for warning in await held.service.start_mcp():
            logger.warning("%s", warning)

    def _get(self, session_id: str) -> _Held:
        held = self._held.get(session_id)
        if held is None:
            raise SessionNotFoundError(f"session {session_id} is not open")
        return held

    def _summary(self, held: _Held, session_id: str) -> SessionSummary:
        title, updated_at = held.service.describe(session_id)
        return SessionSummary(session_id, held.cwd, title or None, updated_at)

    def takes_images(self) -> bool:
        return False  # attachments are text; images need a model and a wire that take them

    async def new_session(
        self, cwd: Path, mcp_servers: McpServers, files: ClientFiles
    ) -> SessionSummary:
        held = self._start(cwd, mcp_servers, files)
        session_id = await held.service.new_session()
        await self._adopt(held, session_id)
        return self._summary(held, session_id)

    async def open_session(
        self,
        session_id: str,
        cwd: Path,
        mcp_servers: McpServers,
        files: ClientFiles,
        *,
        with_history: bool,
    ) -> LoadedSession:
        held = self._held.get(session_id)
        if held is None:
            held = self._start(cwd, mcp_servers, files)
            try:
                resumed = held.service.resume(session_id, None if with_history else 0)
            except BaseException:
                await held.service.close()
                raise
            await self._adopt(held, session_id)
        else:
            resumed = held.service.resume(session_id, None if with_history else 0)
        summary = self._summary(held, session_id)
        return LoadedSession(summary, resumed.history if with_history else None)

    async def list_sessions(self, cwd: Path | None, cursor: str | None) -> SessionPage:
        from agentls.rollout.paths import WorkspaceLayout
        from agentls.rollout.store import SessionStore, decode_cursor, encode_cursor

        folders = [cwd] if cwd is not None else self._known_folders()
        stores = [
            (folder, SessionStore(WorkspaceLayout.for_path(self._home, folder)))
            for folder in folders
        ]
        key = decode_cursor(cursor) if cursor else None
        merged = heapq.merge(
            *([(folder, s) for s in store.summaries()] for folder, store in stores),
            key=lambda pair: (pair[1].updated_ns, pair[1].session_id),
            reverse=True,
        )
        page: list[tuple[Path, Any]] = []
        more = False
        for folder, summary in merged:
            if key is not None and (summary.updated_ns, summary.session_id) >= key:
                continue
            if len(page) == PAGE_SIZE:
                more = True
                break
            page.append((folder, summary))
        sessions = [
            SessionSummary(s.session_id, folder, s.title or None, s.updated_at)
            for folder, s in page
        ]
        next_cursor = encode_cursor(page[-1][1]) if more and page else None
        return SessionPage(sessions, next_cursor)

    def _known_folders(self) -> list[Path]:
        """Every workspace folder with sessions under the state folder, as it recorded."""
        folders: list[Path] = []
        root = self._home / "workspaces"
        try:
            entries = list(os.scandir(root))
        except OSError:
            return folders
        for entry in entries:
            try:
                marker = orjson.loads(Path(entry.path, "workspace.json").read_bytes())
                folders.append(Path(str(marker["path"])))
            except (OSError, ValueError, KeyError, TypeError):
                continue
        return folders

    async def close_session(self, session_id: str) -> None:
        held = self._held.pop(session_id, None)
        if held is not None:
            await held.service.close()

    async def aclose(self) -> None:
        """Every session closed (turns stopped, locks released), then the model clients."""
        for session_id in list(self._held):
            await self.close_session(session_id)
        providers, self._providers = list(self._providers.values()), {}
        for provider in providers:
            await provider.aclose()

    # -- turns ----------------------------------------------------------------------------
    async def send(
        self,
        session_id: str,
        text: str,
        *,
        attachments: list[dict[str, Any]],
        images: list[dict[str, str]],
        sink: EventSink,
        approver: Approver,
    ) -> TurnResult:
        held = self._get(session_id)
        held.approver = approver
        return await held.service.send(session_id, text, sink, attachments or None)

    async def interrupt(self, session_id: str) -> None:
        held = self._held.get(session_id)
        if held is not None:
            await held.service.interrupt(session_id)

    async def run_command(self, session_id: str, command: str, *, sink: EventSink) -> TurnResult:
        return await self._get(session_id).service.run_command(session_id, command, sink)

    async def compact(self, session_id: str, *, sink: EventSink) -> CompactResult:
        outcome = await self._get(session_id).service.compact(session_id, sink)
        return CompactResult(outcome.tokens_before, outcome.tokens_after)

    async def undo(
        self,
        session_id: str,
        *,
        restore: Literal["all", "files", "conversation"],
        force: bool,
    ) -> UndoResult:
        result = await self._get(session_id).service.undo(
            session_id, None, restore, force=force, history_limit=0
        )
        return UndoResult(
            result.restored_files, result.skipped_files, result.undone_turns, result.warnings
        )

    async def fork(self, session_id: str, turn_id: str | None = None) -> SessionSummary:
        held = self._get(session_id)
        new_id = await held.service.fork(session_id, turn_id)
        title, _updated = held.service.describe(session_id)
        return SessionSummary(new_id, held.cwd, title or None, None)

    # -- settings -------------------------------------------------------------------------
    def settings(self, session_id: str) -> SessionSettings:
        settings = self._get(session_id).service.context.settings
        model = ModelChoice(settings.model)
        return SessionSettings(settings.model, settings.approval, (model,), images=False)

    def summary(self, session_id: str) -> SessionSummary:
        return self._summary(self._get(session_id), session_id)

    async def set_model(self, session_id: str, model: str) -> None:
        self._reconfigure(session_id, model=model)

    async def set_approval(self, session_id: str, policy: ApprovalPolicy) -> None:
        self._reconfigure(session_id, approval=policy.value)

    def _reconfigure(self, session_id: str, **changes: Any) -> None:
        """The session's next turns use the change; the running one keeps what it had."""
        held = self._get(session_id)
        held.options.update(changes)
        held.service.configure(held.cwd, held.options)

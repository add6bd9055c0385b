"""The LSP adapter: validate params, call the agent core, forward its events.

Nothing here knows how a turn works; everything here knows what a client may send.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Coroutine, Mapping
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, default_converter, lsp_method
from pygls.protocol.json_rpc import (
    JsonRPCNotification,
    JsonRPCRequestMessage,
    JsonRPCResponseMessage,
)

from agentls import __version__
from agentls.agent.context import AgentContext
from agentls.agent.results import TurnInProgressError
from agentls.agent.workspace import SessionNotFoundError, Workspace
from agentls.config.settings import load_settings
from agentls.lsp.approvals import LspApprover
from agentls.lsp.errors import (
    SESSION_LOCKED,
    SESSION_NOT_FOUND,
    TURN_IN_PROGRESS,
    AgentError,
    invalid_params,
)
from agentls.lsp.params import (
    ListSessionsParams,
    NoParams,
    SendParams,
    SessionParams,
    parse_params,
)
from agentls.lsp.progress import TurnProgress
from agentls.lsp.watcher import watch_sessions
from agentls.providers.factory import Provider, build_provider
from agentls.rollout.paths import InvalidSessionIdError, WorkspaceLayout, uri_to_path
from agentls.rollout.writer import SessionLockedError

logger = logging.getLogger(__name__)

AGENT_METHODS = [
    "agent/send",
    "agent/interrupt",
    "agent/resume",
    "agent/newSession",
    "agent/listSessions",
]


def _keep_params(obj: dict[str, Any], cls: type[Any]) -> Any:
    """Custom params and results stay plain dicts: pygls would make lossy namedtuples."""
    return cls(**obj)


def agent_converter() -> Any:
    converter = default_converter()  # type: ignore[no-untyped-call]
    converter.register_structure_hook(JsonRPCRequestMessage, _keep_params)
    converter.register_structure_hook(JsonRPCNotification, _keep_params)
    converter.register_structure_hook(JsonRPCResponseMessage, _keep_params)
    return converter


class AgentProtocol(LanguageServerProtocol):
    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams) -> Any:
        result = yield from super().lsp_initialize(params)
        server = self._server
        assert isinstance(server, AgentServer)
        result.capabilities.experimental = server.capability()
        return result


class AgentServer(LanguageServer):
    """Owns the workspace's agent state for the lifetime of one client connection."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        super().__init__(
            "agentls",
            __version__,
            text_document_sync_kind=types.TextDocumentSyncKind.None_,
            protocol_cls=AgentProtocol,
            converter_factory=agent_converter,
        )
        self.env: Mapping[str, str] = os.environ if env is None else env
        self.approver = LspApprover(self)
        self.agent: Workspace | None = None
        self.settings_warnings: list[str] = []
        self.init_options: dict[str, Any] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stop_watching = asyncio.Event()
        self.provider: Provider | None = None

    # -- set-up ------------------------------------------------------------------------------
    def capability(self) -> dict[str, Any]:
        model = self.provider.info if self.provider else None
        return {"agent": {"version": 1, "methods": AGENT_METHODS, "model": model}}

    def configure(
        self,
        workspace: Path,
        init_options: Mapping[str, Any] | None,
        workspace_config: Mapping[str, Any] | None = None,
    ) -> None:
        loaded = load_settings(
            env=self.env, init_options=init_options, workspace_config=workspace_config
        )
        self.settings_warnings = loaded.warnings
        for warning in loaded.warnings:
            logger.warning("%s", warning)
        settings = loaded.settings
        previous, self.provider = self.provider, build_provider(settings, self.env)
        if previous is not None:
            self.spawn(previous.aclose())
        if self.provider.embedded is not None:
            self.provider.embedded.start()  # loads in a thread; sends wait for it
        stream = self.provider.stream
        if self.agent is None:
            context = AgentContext(
                settings=settings,
                workspace=workspace,
                model_stream=stream,
                approver=self.approver,
                env=self.env,
            )
            self.agent = Workspace(context, WorkspaceLayout.for_path(settings.home, workspace))
        else:
            self.agent.context.settings = settings
            self.agent.context.model_stream = stream

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Background work with a strong reference and its failures logged."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)

        def done(finished: asyncio.Task[Any]) -> None:
            self._tasks.discard(finished)
            if not finished.cancelled() and finished.exception() is not None:
                logger.error("background task failed", exc_info=finished.exception())

        task.add_done_callback(done)

    def agent_workspace(self) -> Workspace:
        if self.agent is None:
            raise AgentError(-32002, "the server is not initialized yet")
        return self.agent

    def notify_event(self, event: dict[str, Any]) -> None:
        self.protocol.notify("agent/event", event)

    async def start_watcher(self) -> None:
        agent = self.agent_workspace()
        agent.layout.ensure()

        def own_files() -> set[Path]:
            return {s.writer.path for s in agent.sessions.values()}

        await watch_sessions(
            agent.layout.sessions_dir,
            lambda: self.protocol.notify("agent/sessionsChanged", {}),
            own_files,
            self._stop_watching,
        )

    async def close(self) -> None:
        self._stop_watching.set()
        if self.agent is not None:
            await self.agent.shutdown()
        if self.provider is not None:
            await self.provider.aclose()


def workspace_path(params: types.InitializeParams) -> Path:
    for folder in params.workspace_folders or []:
        return uri_to_path(folder.uri)
    if params.root_uri:
        return uri_to_path(params.root_uri)
    if params.root_path:
        return Path(params.root_path)
    return Path.cwd()


def _core_errors(exc: Exception) -> Exception:
    if isinstance(exc, InvalidSessionIdError):
        return invalid_params(f"invalid 'sessionId': {exc}")
    if isinstance(exc, SessionNotFoundError):
        return AgentError(SESSION_NOT_FOUND, str(exc))
    if isinstance(exc, SessionLockedError):
        return AgentError(SESSION_LOCKED, str(exc))
    if isinstance(exc, TurnInProgressError):
        return AgentError(TURN_IN_PROGRESS, str(exc))
    return exc


def create_server(env: Mapping[str, str] | None = None) -> AgentServer:
    server = AgentServer(env)

    @server.feature(types.INITIALIZE)
    def initialize(ls: AgentServer, params: types.InitializeParams) -> None:
        options = params.initialization_options
        options = options if isinstance(options, dict) else {}
        ls.approver.custom_requests = bool(options.get("approvals"))
        ls.init_options = options
        ls.configure(workspace_path(params), options)

    @server.feature(types.INITIALIZED)
    async def initialized(ls: AgentServer, _params: Any) -> None:
        for warning in ls.settings_warnings:
            ls.window_show_message(
                types.ShowMessageParams(type=types.MessageType.Warning, message=warning)
            )
        ls.spawn(ls.start_watcher())
        capabilities = ls.client_capabilities
        if capabilities.workspace and capabilities.workspace.configuration:
            ls.spawn(_pull_configuration(ls))

    async def _pull_configuration(ls: AgentServer) -> None:
        try:
            result = await asyncio.wait_for(
                ls.workspace_configuration_async(
                    types.ConfigurationParams(items=[types.ConfigurationItem(section="agentls")])
                ),
                timeout=5,
            )
        except (TimeoutError, Exception) as exc:
            logger.warning("workspace/configuration failed: %s", exc)
            return
        config = result[0] if result else None
        if isinstance(config, dict) and config:
            agent = ls.agent_workspace()
            ls.configure(agent.context.workspace, ls.init_options, config)

    @server.feature("agent/send")
    async def send(ls: AgentServer, raw: Any) -> dict[str, Any]:
        params = parse_params(SendParams, raw, "agent/send")
        try:
            session = ls.agent_workspace().session_for_send(params.sessionId)
        except Exception as exc:
            raise _core_errors(exc) from None
        progress = TurnProgress(ls, params.workDoneToken)

        def sink(event: dict[str, Any]) -> None:
            ls.notify_event(event)
            progress.on_event(event)

        try:
            result = await session.send(params.text, sink)
        except TurnInProgressError as exc:
            raise _core_errors(exc) from None
        task = asyncio.current_task()
        if task is not None:
            while task.cancelling():
                task.uncancel()
        return result.to_wire()

    @server.feature("agent/interrupt")
    async def interrupt(ls: AgentServer, raw: Any) -> dict[str, Any]:
        params = parse_params(SessionParams, raw, "agent/interrupt")
        try:
            session = ls.agent_workspace().session_for_interrupt(params.sessionId)
        except Exception as exc:
            raise _core_errors(exc) from None
        turn_id = session.interrupt() if session is not None else None
        if turn_id is None or session is None:
            return {"interrupted": False}
        await session.wait_idle()
        return {"interrupted": True, "turnId": turn_id}

    @server.feature("agent/resume")
    def resume(ls: AgentServer, raw: Any) -> dict[str, Any]:
        params = parse_params(SessionParams, raw, "agent/resume")
        try:
            return ls.agent_workspace().resume(params.sessionId).to_wire()
        except Exception as exc:
            raise _core_errors(exc) from None

    @server.feature("agent/newSession")
    def new_session(ls: AgentServer, raw: Any) -> dict[str, Any]:
        parse_params(NoParams, raw, "agent/newSession")
        return {"sessionId": ls.agent_workspace().new_session().id}

    @server.feature("agent/listSessions")
    def list_sessions(ls: AgentServer, raw: Any) -> dict[str, Any]:
        params = parse_params(ListSessionsParams, raw, "agent/listSessions")
        try:
            page, cursor = ls.agent_workspace().store.page(params.limit, params.cursor)
        except ValueError as exc:
            raise invalid_params(f"invalid 'cursor': {exc}") from None
        result: dict[str, Any] = {"sessions": [s.to_wire() for s in page]}
        if cursor:
            result["nextCursor"] = cursor
        return result

    @server.feature(types.SHUTDOWN)
    async def shutdown(ls: AgentServer, _params: Any) -> None:
        await ls.close()

    return server

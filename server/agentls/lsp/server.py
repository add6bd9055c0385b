"""The LSP adapter: validate params, call the agent core, forward its events.

Nothing here knows how a turn works; everything here knows what a client may send. Heavy
modules (pydantic params, the HTTP client, the folder watcher) are imported by the first
request that needs them, so `initialize` is answered within a few dozen milliseconds.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agentls import __version__
from agentls.agent.context import AgentContext
from agentls.agent.workspace import Workspace
from agentls.lsp.approvals import LspApprover
from agentls.lsp.progress import TurnProgress
from agentls.rpc.endpoint import Endpoint
from agentls.rpc.errors import INVALID_REQUEST, SERVER_NOT_INITIALIZED, RpcError, invalid_params

logger = logging.getLogger(__name__)

SESSION_NOT_FOUND = -33001
TURN_IN_PROGRESS = -33002
SESSION_LOCKED = -33003

AGENT_METHODS = [
    "agent/send",
    "agent/interrupt",
    "agent/resume",
    "agent/newSession",
    "agent/listSessions",
]
MESSAGE_WARNING = 2


def workspace_path(params: Mapping[str, Any]) -> Path:
    from agentls.rollout.paths import uri_to_path

    folders = params.get("workspaceFolders")
    if isinstance(folders, list):
        for folder in folders:
            if isinstance(folder, dict) and isinstance(folder.get("uri"), str):
                return uri_to_path(folder["uri"])
    if isinstance(params.get("rootUri"), str):
        return uri_to_path(params["rootUri"])
    if isinstance(params.get("rootPath"), str):
        return Path(params["rootPath"])
    return Path.cwd()


def core_error(exc: Exception) -> Exception:
    """The core's exceptions as the JSON-RPC errors the protocol promises."""
    from agentls.agent.results import TurnInProgressError
    from agentls.agent.workspace import SessionNotFoundError
    from agentls.rollout.paths import InvalidSessionIdError
    from agentls.rollout.writer import SessionLockedError

    if isinstance(exc, InvalidSessionIdError):
        return invalid_params(f"invalid 'sessionId': {exc}")
    if isinstance(exc, SessionNotFoundError):
        return RpcError(SESSION_NOT_FOUND, str(exc))
    if isinstance(exc, SessionLockedError):
        return RpcError(SESSION_LOCKED, str(exc))
    if isinstance(exc, TurnInProgressError):
        return RpcError(TURN_IN_PROGRESS, str(exc))
    return exc


class AgentServer:
    """Owns the workspace's agent state for the lifetime of one client connection."""

    def __init__(self, endpoint: Endpoint, env: Mapping[str, str] | None = None) -> None:
        self.endpoint = endpoint
        self.env: Mapping[str, str] = os.environ if env is None else env
        self.approver = LspApprover(endpoint)
        self.agent: Workspace | None = None
        self.provider: Any = None
        self.retired_providers: list[Any] = []
        self.init_options: dict[str, Any] = {}
        self.settings_warnings: list[str] = []
        self.client_pulls_configuration = False
        self.shutting_down = False
        self._stop_watching = asyncio.Event()
        endpoint.refuse_requests = self._refusal
        for method, handler in {
            "initialize": self.initialize,
            "shutdown": self.shutdown,
            "agent/send": self.send,
            "agent/interrupt": self.interrupt,
            "agent/resume": self.resume,
            "agent/newSession": self.new_session,
            "agent/listSessions": self.list_sessions,
        }.items():
            endpoint.requests[method] = handler
        endpoint.notifications["initialized"] = self.initialized
        endpoint.notifications["exit"] = lambda _params: endpoint.stop()

    def _refusal(self, method: str) -> RpcError | None:
        if self.shutting_down:
            return RpcError(INVALID_REQUEST, "the server is shutting down")
        if self.agent is None and method != "initialize":
            return RpcError(SERVER_NOT_INITIALIZED, "initialize the server first")
        return None

    # -- lifecycle ---------------------------------------------------------------------------
    async def initialize(self, params: Any) -> dict[str, Any]:
        if self.agent is not None:
            raise RpcError(INVALID_REQUEST, "the server is already initialized")
        if not isinstance(params, dict):
            raise invalid_params("initialize: params must be an object")
        options = params.get("initializationOptions")
        self.init_options = options if isinstance(options, dict) else {}
        self.approver.custom_requests = bool(self.init_options.get("approvals"))
        capabilities = params.get("capabilities")
        workspace_caps = capabilities.get("workspace") if isinstance(capabilities, dict) else None
        self.client_pulls_configuration = isinstance(workspace_caps, dict) and bool(
            workspace_caps.get("configuration")
        )
        try:
            workspace = workspace_path(params)
            if "\0" in str(workspace):
                raise ValueError("it contains a NUL byte")
        except ValueError as exc:
            raise invalid_params(
                f"initialize: invalid 'workspaceFolders'/'rootUri': the workspace must be a "
                f"local folder ({exc})"
            ) from None
        self.configure(workspace, self.init_options)
        return {
            "capabilities": {
                "textDocumentSync": 0,
                "experimental": {
                    "agent": {
                        "version": 1,
                        "methods": AGENT_METHODS,
                        "model": self.provider.info if self.provider else None,
                    }
                },
            },
            "serverInfo": {"name": "agentls", "version": __version__},
        }

    def configure(
        self,
        workspace: Path,
        init_options: Mapping[str, Any],
        workspace_config: Mapping[str, Any] | None = None,
    ) -> None:
        from agentls.config.settings import load_settings
        from agentls.providers.factory import build_provider
        from agentls.rollout.paths import WorkspaceLayout

        loaded = load_settings(
            env=self.env, init_options=init_options, workspace_config=workspace_config
        )
        self.settings_warnings = loaded.warnings
        for warning in loaded.warnings:
            logger.warning("%s", warning)
        settings = loaded.settings
        if self.agent is not None and self.agent.context.settings == settings:
            return  # nothing changed: keep the model client (and a loaded local model)
        if self.provider is not None:
            # a running turn may still stream through it: close it when the server ends
            self.retired_providers.append(self.provider)
        self.provider = build_provider(settings, self.env)
        if self.provider.embedded is not None:
            self.provider.embedded.start()  # loads in a thread; sends wait for it
        if self.agent is None:
            context = AgentContext(
                settings=settings,
                workspace=workspace,
                model_stream=self.provider.stream,
                approver=self.approver,
                env=self.env,
            )
            self.agent = Workspace(context, WorkspaceLayout.for_path(settings.home, workspace))
        else:
            self.agent.context.settings = settings
            self.agent.context.model_stream = self.provider.stream

    def initialized(self, _params: Any) -> None:
        for warning in self.settings_warnings:
            self.endpoint.notify(
                "window/showMessage", {"type": MESSAGE_WARNING, "message": f"agentls: {warning}"}
            )
        self.endpoint.spawn(self._watch_sessions())
        self.endpoint.spawn(self._warm_up())
        if self.client_pulls_configuration:
            self.endpoint.spawn(self._pull_configuration())

    async def _warm_up(self) -> None:
        """Import what the first turn needs while the user is still typing.

        `initialize` is answered without these; loading them now, in a worker thread, takes
        their cost off the first `agent/send`.
        """
        import importlib

        settings = self.workspace().context.settings
        wire = "chat" if settings.wire_api.value == "chat" else "responses"
        for name in ("agentls.agent.turn", "agentls.lsp.params", f"agentls.providers.{wire}"):
            await asyncio.to_thread(importlib.import_module, name)

    async def _pull_configuration(self) -> None:
        try:
            result = await asyncio.wait_for(
                self.endpoint.request(
                    "workspace/configuration", {"items": [{"section": "agentls"}]}
                ),
                timeout=5,
            )
        except (TimeoutError, RpcError, ConnectionError) as exc:
            logger.warning("workspace/configuration failed: %s", exc)
            return
        config = result[0] if isinstance(result, list) and result else None
        if isinstance(config, dict) and config:
            agent = self.workspace()
            self.configure(agent.context.workspace, self.init_options, config)
            for warning in self.settings_warnings:
                self.endpoint.notify(
                    "window/showMessage",
                    {"type": MESSAGE_WARNING, "message": f"agentls: {warning}"},
                )

    async def _watch_sessions(self) -> None:
        from agentls.lsp.watcher import watch_sessions

        agent = self.workspace()
        agent.layout.ensure()

        def own_files() -> set[Path]:
            return {s.writer.path for s in agent.sessions.values()}

        await watch_sessions(
            agent.layout.sessions_dir,
            lambda: self.endpoint.notify("agent/sessionsChanged", {}),
            own_files,
            self._stop_watching,
        )

    async def shutdown(self, _params: Any) -> None:
        await self.close()
        self.shutting_down = True

    async def close(self) -> None:
        self._stop_watching.set()
        if self.agent is not None:
            await self.agent.shutdown()
        for provider in [*self.retired_providers, self.provider]:
            if provider is not None:
                await provider.aclose()
        self.retired_providers.clear()

    def workspace(self) -> Workspace:
        if self.agent is None:
            raise RpcError(SERVER_NOT_INITIALIZED, "initialize the server first")
        return self.agent

    # -- agent methods -----------------------------------------------------------------------
    async def send(self, raw: Any) -> dict[str, Any]:
        from agentls.lsp.params import SendParams, parse_params

        params = parse_params(SendParams, raw, "agent/send")
        try:
            session = self.workspace().session_for_send(params.sessionId)
        except Exception as exc:
            raise core_error(exc) from None
        progress = TurnProgress(self.endpoint, params.workDoneToken)
        notify = self.endpoint.notify

        def sink(event: dict[str, Any]) -> None:
            notify("agent/event", event)
            progress.on_event(event)

        try:
            result = await session.send(params.text, sink)
        except Exception as exc:
            raise core_error(exc) from None
        return result.to_wire()

    async def interrupt(self, raw: Any) -> dict[str, Any]:
        from agentls.lsp.params import SessionParams, parse_params

        params = parse_params(SessionParams, raw, "agent/interrupt")
        try:
            session = self.workspace().session_for_interrupt(params.sessionId)
        except Exception as exc:
            raise core_error(exc) from None
        turn_id = session.interrupt() if session is not None else None
        if turn_id is None or session is None:
            return {"interrupted": False}
        await session.wait_idle()
        return {"interrupted": True, "turnId": turn_id}

    async def resume(self, raw: Any) -> dict[str, Any]:
        from agentls.lsp.params import SessionParams, parse_params
        from agentls.rollout.reader import bulk_load

        params = parse_params(SessionParams, raw, "agent/resume")
        try:
            with bulk_load():
                return self.workspace().resume(params.sessionId).to_wire()
        except Exception as exc:
            raise core_error(exc) from None

    async def new_session(self, raw: Any) -> dict[str, Any]:
        from agentls.lsp.params import NoParams, parse_params

        parse_params(NoParams, raw, "agent/newSession")
        return {"sessionId": self.workspace().new_session().id}

    async def list_sessions(self, raw: Any) -> dict[str, Any]:
        from agentls.lsp.params import ListSessionsParams, parse_params

        params = parse_params(ListSessionsParams, raw, "agent/listSessions")
        try:
            page, cursor = self.workspace().store.page(params.limit, params.cursor)
        except ValueError as exc:
            raise invalid_params(f"invalid 'cursor': {exc}") from None
        result: dict[str, Any] = {"sessions": [s.to_wire() for s in page]}
        if cursor:
            result["nextCursor"] = cursor
        return result

"""The LSP adapter: a pygls `LanguageServer` that validates params, calls the core, and
forwards its events.

Nothing here knows how a turn works (that is `agentls.agent.tasks`); everything here knows
what a client may send. Every method is registered in `_register`, where params are
validated and the core's errors are mapped to JSON-RPC errors, once. Heavy modules (the
HTTP client, the folder watcher) are imported by the first request that needs them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from agentls import __version__
from agentls.agent.service import AgentService
from agentls.lsp.approvals import LspApprover
from agentls.lsp.documents import LspBuffers
from agentls.lsp.errors import (
    INVALID_REQUEST,
    PARSE_ERROR,
    SERVER_NOT_INITIALIZED,
    RpcError,
    as_rpc_error,
    invalid_params,
)
from agentls.lsp.progress import TurnProgress
from agentls.lsp.protocol import AgentProtocol, agent_converter

logger = logging.getLogger(__name__)

MESSAGE_WARNING = 2
WARM_UP_DELAY_S = 0.6
Handler = Callable[[Any], Awaitable[Any]]


def workspace_path(params: types.InitializeParams) -> Path:
    from agentls.rollout.paths import uri_to_path

    for folder in params.workspace_folders or []:
        return uri_to_path(folder.uri)
    if params.root_uri:
        return uri_to_path(params.root_uri)
    if params.root_path:
        return Path(params.root_path)
    return Path.cwd()


class AgentLanguageServer(LanguageServer):
    """Owns the workspace's agent state for the lifetime of one client connection."""

    protocol: AgentProtocol

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        auth_token: str | None = None,
    ) -> None:
        super().__init__(
            "agentls",
            __version__,
            protocol_cls=AgentProtocol,
            converter_factory=agent_converter,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
        )
        self.env: Mapping[str, str] = os.environ if env is None else env
        self.auth_token = auth_token
        self.protocol.agent_capability = self.capabilities_extra
        self.approver = LspApprover(self.protocol)
        self.buffers = LspBuffers(self)
        # the core; it serves a folder once `initialize` has named one
        self.core = AgentService(self.env, approver=self.approver, editor=self.buffers)
        self.core.on_sessions_changed = lambda: self.notify("agent/sessionsChanged", {})
        self.core.on_session_relinked = self._session_file_recreated
        self.init_options: dict[str, Any] = {}
        self.client_pulls_configuration = False
        self.exit_code: int | None = None
        self.exited = asyncio.Event()
        self.watcher_ready = asyncio.Event()
        self._stop_watching = asyncio.Event()
        self._background: set[asyncio.Task[Any]] = set()
        self._register()

    # -- registration: every method in one place ------------------------------------------
    def _register(self) -> None:
        from agentls.lsp.methods import AGENT_METHODS, AgentMethods

        methods = AgentMethods(self)
        for name, handler in AGENT_METHODS.items():
            self._feature(name, self._guard(name, handler.__get__(methods)))
        self.protocol.request_only_methods = frozenset(AGENT_METHODS)
        self._feature(types.INITIALIZE, self._initialize, plain=True)
        self._feature(types.INITIALIZED, self._initialized, plain=True)
        self._feature(types.SHUTDOWN, self._shutdown, plain=True)
        self._feature(types.EXIT, self._exit, plain=True)
        self._feature(
            types.WORKSPACE_DID_CHANGE_CONFIGURATION, self._did_change_configuration, plain=True
        )

    def _feature(self, name: str, handler: Callable[..., Any], *, plain: bool = False) -> None:
        # pygls tags the registered function with attributes: give it a plain function
        if asyncio.iscoroutinefunction(handler):

            async def registered(params: Any) -> Any:
                return await handler(params)

        else:

            def registered(params: Any) -> Any:  # type: ignore[misc]
                return handler(params)

        self.feature(name)(registered)

    def _guard(self, name: str, handler: Handler) -> Handler:
        """Refuse before `initialize`, and map the core's errors: once, for every method."""

        async def guarded(params: Any) -> Any:
            if not self.core.configured:
                raise RpcError(SERVER_NOT_INITIALIZED, "initialize the server first")
            try:
                return await handler(params)
            except Exception as exc:
                raise as_rpc_error(exc) from None

        return guarded

    def spawn(self, work: Awaitable[Any]) -> None:
        """Background work with a strong reference, whose failure is logged, not lost."""
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("background task failed", exc_info=task.exception())

    def report_server_error(self, error: Exception, source: Any) -> None:
        """Unreadable input gets a parse error; the rest is logged, never shown as a popup."""
        if isinstance(error, RecursionError):
            self._parse_error("the message is nested too deeply")
        elif isinstance(error, ValueError) and not isinstance(error, RpcError):
            # JSONDecodeError and UnicodeDecodeError are ValueErrors
            self._parse_error(f"the message is not valid JSON ({error.__class__.__name__})")
        else:
            logger.error("%s: %s", getattr(source, "__name__", source), error)

    def _parse_error(self, message: str) -> None:
        self.protocol.send_raw(
            {"jsonrpc": "2.0", "id": None, "error": {"code": PARSE_ERROR, "message": message}}
        )

    def notify(self, method: str, params: Any) -> None:
        self.protocol.notify(method, params)

    def show_message(self, message: str, kind: int = MESSAGE_WARNING) -> None:
        self.notify("window/showMessage", {"type": kind, "message": f"agentls: {message}"})

    # -- lifecycle ---------------------------------------------------------------------------
    async def _initialize(self, params: types.InitializeParams) -> None:
        if self.core.configured:
            raise RpcError(INVALID_REQUEST, "the server is already initialized")
        options = params.initialization_options
        self.init_options = options if isinstance(options, dict) else {}
        if self.auth_token is not None and self.init_options.get("authToken") != self.auth_token:
            # answer, then hang up: a client without the token gets nothing else
            asyncio.get_running_loop().call_later(0.1, self.exited.set)
            raise RpcError(
                INVALID_REQUEST,
                "this server needs its token: pass initializationOptions.authToken "
                "(the token file's content)",
            )
        self.approver.custom_requests = bool(self.init_options.get("approvals"))
        workspace_caps = params.capabilities.workspace
        self.client_pulls_configuration = bool(workspace_caps and workspace_caps.configuration)
        self.buffers.apply_edit_supported = bool(workspace_caps and workspace_caps.apply_edit)
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
        # With a base URL and no model set, the model is a local server's only one: wait
        # for its answer (briefly) so the capability names the model that will answer.
        # Nothing is asked when the model is configured.
        await self.core.resolve_model(timeout_s=1.5)

    def capabilities_extra(self) -> dict[str, Any]:
        """What `initialize` answers under `capabilities.experimental.agent`."""
        from agentls.lsp.methods import AGENT_METHODS

        agent: dict[str, Any] = {
            "version": 1,
            "methods": list(AGENT_METHODS),
            "model": self.core.model_info,
        }
        if self.core.configured:
            context = self.core.context
            reason = context.containment.unavailable_reason()
            agent["sandbox"] = {
                "mode": context.settings.sandbox.value,
                "active": context.containment.active,
                "warning": reason,
            }
            agent["warnings"] = list(self.core.settings_warnings)
            from agentls.agent.instructions import find_instruction_files

            agent["instructionFiles"] = [str(p) for p in find_instruction_files(context.workspace)]
            agent["mcp"] = [
                {"name": name, "state": "starting", "tools": []}
                for name, server in context.settings.mcp_servers.items()
                if server.get("enabled", True) is not False
            ]
        return agent

    def configure(
        self,
        workspace: Path,
        init_options: Mapping[str, Any],
        workspace_config: Mapping[str, Any] | None = None,
    ) -> None:
        first = not self.core.configured
        if self.core.configure(workspace, init_options, workspace_config) and not first:
            self.spawn(self._start_mcp())

    def _session_file_recreated(self, session_id: str) -> None:
        self.show_message(
            f"the sessions folder was deleted while session {session_id} was open; "
            "agentls recreated it and kept the whole conversation"
        )
        self.notify("agent/sessionsChanged", {})

    def _initialized(self, _params: Any) -> None:
        for warning in [*self.core.settings_warnings, *self.core.provider_warnings]:
            self.show_message(warning)
        if self.core.configured:
            reason = self.core.context.containment.unavailable_reason()
            if reason is not None:
                self.show_message(reason)
        self.spawn(self._watch_sessions())
        self.spawn(self._warm_up())
        self.spawn(self._start_mcp())
        if self.client_pulls_configuration:
            self.spawn(self._pull_configuration())

    async def _warm_up(self) -> None:
        """Import what the first turn needs while the user is still typing.

        `initialize` is answered without these; loading them now, in a worker thread, takes
        their cost off the first `agent/send`.
        """
        import importlib

        # What every request needs (the params' validation) comes first: an editor resumes
        # its session right after `initialized`. The turn's modules wait a little, so they
        # do not compete with that (threads share the interpreter); a person takes longer
        # than this to type the first message.
        await asyncio.to_thread(importlib.import_module, "agentls.lsp.params")
        await asyncio.sleep(WARM_UP_DELAY_S)
        settings = self.core.context.settings
        wire = "chat" if settings.wire_api.value == "chat" else "responses"
        for name in (
            "agentls.agent.calls.shell",
            "agentls.agent.calls.patch",
            f"agentls.providers.{wire}",
        ):
            await asyncio.to_thread(importlib.import_module, name)

    async def _start_mcp(self) -> None:
        """Start (or restart, after a settings change) the MCP servers; report failures."""
        if not self.core.configured:
            return
        core = self.core
        reported: set[str] = set()

        def changed() -> None:
            statuses = core.mcp_statuses()
            self.notify("agent/mcpStatus", {"servers": statuses})
            for status in statuses:
                if status.get("state") == "failed" and status["name"] not in reported:
                    reported.add(status["name"])
                    self.show_message(
                        f"MCP server '{status['name']}' is not available: {status.get('error')}; "
                        "its tools are withdrawn, the other tools keep working"
                    )

        for warning in await core.start_mcp(changed):
            self.show_message(warning)
        if core.mcp_running:
            changed()

    async def _pull_configuration(self) -> None:
        """Ask the editor for the `agentls` section: workspace data (an editor merges the
        folder's settings into its answer), applied as such by `_reconfigure`."""
        try:
            result = await asyncio.wait_for(
                self.workspace_configuration_async(
                    types.ConfigurationParams(items=[types.ConfigurationItem(section="agentls")])
                ),
                timeout=5,
            )
        except Exception as exc:
            logger.warning("workspace/configuration failed: %s", exc)
            return
        config = result[0] if isinstance(result, list | tuple) and result else None
        if isinstance(config, dict) and config:
            self._reconfigure(config)

    def _reconfigure(self, section: dict[str, Any]) -> None:
        """Apply the editor's `agentls` settings section; the next turn uses them.

        The section may hold the opened folder's settings, so it goes in as the workspace's
        (which may not set where the key goes, what runs unasked or which programs start);
        only `initializationOptions` speak for the user.
        """
        self.configure(self.core.folder, self.init_options, workspace_config=section)
        for warning in self.core.settings_warnings:
            self.show_message(warning)

    async def _did_change_configuration(self, params: types.DidChangeConfigurationParams) -> None:
        """Settings changed in the editor: read them again; the next turn uses them.
        Pushed or pulled, they are the workspace's (see `_reconfigure`)."""
        if not self.core.configured:
            return
        if self.client_pulls_configuration:
            await self._pull_configuration()
            return
        settings = params.settings
        section = settings.get("agentls") if isinstance(settings, dict) else None
        if isinstance(section, dict):
            self._reconfigure(section)

    async def _watch_sessions(self) -> None:
        from agentls.lsp.watcher import watch_sessions

        await watch_sessions(
            self.core.sessions_folder(),
            lambda: self.notify("agent/sessionsChanged", {}),
            self.core.open_session_files,
            self._stop_watching,
            self.watcher_ready,
        )

    async def watching(self, timeout_s: float = 2.0) -> None:
        """Wait (briefly) until changes to the session folder are being watched."""
        if self.watcher_ready.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.watcher_ready.wait(), timeout_s)

    async def _shutdown(self, _params: Any) -> None:
        await self.close()

    def _exit(self, _params: Any) -> None:
        self.exit_code = 0 if self.protocol._shutdown else 1
        self.exited.set()

    async def close(self) -> None:
        """Stop every turn (their tools die with them), release sessions, close clients."""
        self._stop_watching.set()
        await self.core.close()

    @property
    def service(self) -> AgentService:
        return self.core

    def turn_sink(self, work_done_token: str | int | None) -> Callable[[dict[str, Any]], None]:
        """Where a turn's events go: `agent/event`, and `$/progress` when a token was given."""
        progress = TurnProgress(self.notify, work_done_token)
        notify = self.protocol.notify

        def sink(event: dict[str, Any]) -> None:
            notify("agent/event", event)
            progress.on_event(event)

        return sink

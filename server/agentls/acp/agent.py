"""The ACP `Agent` of `agentls acp`: the SDK's methods, each a thin call into the core.

The SDK (`agent-client-protocol`) does the JSON-RPC framing, the routing and the param
validation; this class only translates: params into core calls (`core.AgentCore`), core
events into `session/update`s (`updates`, `history`), approvals into permission requests
(`permissions`), and the core's errors into JSON-RPC errors with the same codes.

A prompt runs the core's turn in a task of its own, so `session/cancel` can stop it at any
point, even before the turn has started; the prompt then still answers, once, with
`cancelled` after every update of the turn was sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from acp import PROTOCOL_VERSION, RequestError, run_agent
from acp.interfaces import Client
from acp.schema import (
    AcpMcpServer,
    AgentCapabilities,
    AgentMessageChunk,
    AudioContentBlock,
    AuthenticateResponse,
    ClientCapabilities,
    CloseSessionResponse,
    CurrentModeUpdate,
    EmbeddedResourceContentBlock,
    ForkSessionResponse,
    HttpMcpServer,
    ImageContentBlock,
    Implementation,
    InitializeResponse,
    ListSessionsResponse,
    LoadSessionResponse,
    McpCapabilities,
    McpServerStdio,
    NewSessionResponse,
    PromptCapabilities,
    PromptResponse,
    ResourceContentBlock,
    ResumeSessionResponse,
    SessionCapabilities,
    SessionCloseCapabilities,
    SessionForkCapabilities,
    SessionInfo,
    SessionListCapabilities,
    SessionResumeCapabilities,
    SetSessionConfigOptionResponse,
    SetSessionModeResponse,
    SseMcpServer,
    StopReason,
    TextContentBlock,
    Usage,
)

from agentls import __version__
from agentls.acp.config import (
    ConfigError,
    available_commands,
    config_options,
    config_update,
    read_approval,
    read_config_value,
    session_modes,
)
from agentls.acp.core import AgentCore, ClientFiles, SessionSummary
from agentls.acp.history import history_updates
from agentls.acp.mcp import McpServerError, mcp_tables
from agentls.acp.outbox import UpdateOutbox
from agentls.acp.permissions import PermissionAsker, PermissionParams
from agentls.acp.prompt import PromptError, SlashCommand, parse_command, read_prompt, undo_options
from agentls.acp.updates import EventTranslator, Update, title_update
from agentls.agent.approvals import ApprovalRequest, Decision
from agentls.agent.results import CoreError, TurnResult
from agentls.config.settings import ApprovalPolicy

__all__ = ["AcpAgent", "serve", "stop_reason"]

logger = logging.getLogger(__name__)

ClientMcpServers = list[HttpMcpServer | SseMcpServer | AcpMcpServer | McpServerStdio]
PromptBlocks = list[
    TextContentBlock
    | ImageContentBlock
    | AudioContentBlock
    | ResourceContentBlock
    | EmbeddedResourceContentBlock
]
T = TypeVar("T")

NOT_OPEN = -33001  # agentls's "no such session" (SessionNotFoundError)
BUSY = -33002  # agentls's "a turn is already running" (TurnInProgressError)
_TOO_MANY_REQUESTS = "the model kept calling tools"


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    """The core's refusals as JSON-RPC errors: its own codes, its own words."""
    try:
        yield
    except CoreError as exc:
        raise RequestError(exc.code, str(exc)) from None
    except (PromptError, ConfigError, McpServerError) as exc:
        raise RequestError(-32602, str(exc)) from None


def stop_reason(result: TurnResult, cancelled: bool) -> StopReason:
    """The prompt's answer for a turn's result; a failed turn is an error (raised).

    A stop the user asked for is `cancelled` whatever the turn made of it. A response cut
    at its token limit is `max_tokens`, a refused one `refusal`, a turn that reached the
    core's cap on model requests `max_turn_requests`.
    """
    if cancelled or result.status == "interrupted":
        return "cancelled"
    if result.status == "completed":
        return "end_turn"
    error = result.error or {}
    message = str(error.get("message") or "the turn failed")
    if error.get("code") == "incomplete" and "max_output_tokens" in message:
        return "max_tokens"
    if error.get("code") == "incomplete" and "content_filter" in message:
        return "refusal"
    if message.startswith(_TOO_MANY_REQUESTS):
        return "max_turn_requests"
    data = {k: v for k, v in error.items() if k != "message"} or None
    raise RequestError(-32603, message, data)


def _usage(result: TurnResult) -> Usage | None:
    usage = result.usage or {}
    if "input_tokens" not in usage or "output_tokens" not in usage:
        return None
    total = usage.get("total_tokens", usage["input_tokens"] + usage["output_tokens"])
    return Usage(
        input_tokens=usage["input_tokens"], output_tokens=usage["output_tokens"], total_tokens=total
    )


def _cwd(cwd: str) -> Path:
    path = Path(cwd)
    if not path.is_absolute():
        raise RequestError(-32602, f"cwd must be an absolute path, got {cwd!r}")
    return path


@dataclass
class _Session:
    """A session this connection has open."""

    id: str
    cwd: Path
    translator: EventTranslator
    outbox: UpdateOutbox
    title: str | None = None
    work: asyncio.Future[Any] | None = None  # the running prompt's core call
    cancelled: bool = False

    def sink(self, event: dict[str, Any]) -> None:
        """The core's event sink for this session's turns."""
        self.outbox.put_all(self.translator.translate(event))

    def say(self, text: str) -> None:
        """A message of the agent's own (a command's result)."""
        self.outbox.put(
            AgentMessageChunk(
                session_update="agent_message_chunk",
                content=TextContentBlock(type="text", text=text),
            )
        )


class AcpAgent:
    """The SDK `Agent` over an `AgentCore` (one per connection)."""

    def __init__(self, core: AgentCore) -> None:
        self._core = core
        self._conn: Client | None = None
        self._capabilities = ClientCapabilities()
        self._sessions: dict[str, _Session] = {}
        self._asker = PermissionAsker(self._ask, self._workspace)

    # -- the connection -----------------------------------------------------------------
    def on_connect(self, conn: Client) -> None:
        self._conn = conn

    def _client(self) -> Client:
        if self._conn is None:
            raise RequestError(-32603, "the connection is not set up yet")
        return self._conn

    async def _send(self, session_id: str, update: Update) -> None:
        await self._client().session_update(session_id=session_id, update=update)

    async def _ask(self, params: PermissionParams) -> Any:
        return await self._client().request_permission(
            session_id=params.session_id, tool_call=params.tool_call, options=params.options
        )

    def _workspace(self, session_id: str) -> Path:
        session = self._sessions.get(session_id)
        return session.cwd if session is not None else Path.cwd()

    def _files(self) -> ClientFiles:
        """The client's file access, as far as it offered it in `initialize`."""
        fs = self._capabilities.fs
        return ClientFiles(
            read=self._read_file if fs is not None and fs.read_text_file else None,
            write=self._write_file if fs is not None and fs.write_text_file else None,
        )

    async def _read_file(self, session_id: str, path: Path) -> str:
        response = await self._client().read_text_file(session_id=session_id, path=str(path))
        return response.content

    async def _write_file(self, session_id: str, path: Path, text: str) -> None:
        await self._client().write_text_file(session_id=session_id, path=str(path), content=text)

    async def _approve(self, request: ApprovalRequest) -> Decision:
        """The core's approver: the client has seen the call before it is asked about it,
        and an approved call is shown running."""
        session = self._sessions.get(request.session_id)
        if session is not None:
            await session.outbox.drain()
        decision = await self._asker(request)
        if session is not None and decision in ("approve", "approveForSession"):
            session.outbox.put_all(session.translator.running(request.turn_id, request.call_id))
        return decision

    # -- sessions -----------------------------------------------------------------------
    def _open(self, summary: SessionSummary) -> _Session:
        old = self._sessions.pop(summary.session_id, None)
        if old is not None:
            old.outbox.close()  # opened again: the new translator starts afresh
        session = _Session(
            id=summary.session_id,
            cwd=summary.cwd,
            translator=EventTranslator(summary.cwd),
            outbox=UpdateOutbox(summary.session_id, self._send),
            title=summary.title,
        )
        self._sessions[session.id] = session
        return session

    def _session(self, session_id: str) -> _Session:
        session = self._sessions.get(session_id)
        if session is None:
            raise RequestError(
                NOT_OPEN,
                f"session {session_id} is not open on this connection; "
                "create it (session/new) or load it (session/load) first",
            )
        return session

    def _after_answer(self, session: _Session, *updates: Update) -> None:
        """Send `updates` right after the answer being returned: the SDK queues the
        answer before this loop turns again, so the client knows the session by then."""
        asyncio.get_running_loop().call_soon(session.outbox.put_all, list(updates))

    # -- the Agent methods --------------------------------------------------------------
    async def initialize(
        self,
        protocol_version: int,
        client_capabilities: ClientCapabilities | None = None,
        client_info: Implementation | None = None,
        **kwargs: Any,
    ) -> InitializeResponse:
        if client_capabilities is not None:
            self._capabilities = client_capabilities
        return InitializeResponse(
            protocol_version=PROTOCOL_VERSION,
            agent_capabilities=AgentCapabilities(
                load_session=True,
                prompt_capabilities=PromptCapabilities(
                    image=self._core.takes_images(), audio=False, embedded_context=True
                ),
                mcp_capabilities=McpCapabilities(http=True, sse=False),
                session_capabilities=SessionCapabilities(
                    list=SessionListCapabilities(),
                    resume=SessionResumeCapabilities(),
                    close=SessionCloseCapabilities(),
                    fork=SessionForkCapabilities(),
                ),
            ),
            agent_info=Implementation(name="agentls", title="agentls", version=__version__),
            auth_methods=[],
        )

    async def authenticate(self, method_id: str, **kwargs: Any) -> AuthenticateResponse | None:
        raise RequestError(-32602, "agentls offers no authentication methods")

    async def new_session(
        self,
        cwd: str,
        additional_directories: list[str] | None = None,
        mcp_servers: ClientMcpServers | None = None,
        **kwargs: Any,
    ) -> NewSessionResponse:
        with _errors():
            summary = await self._core.new_session(
                _cwd(cwd), mcp_tables(mcp_servers), self._files()
            )
            session = self._open(summary)
            settings = self._core.settings(session.id)
        self._after_answer(session, available_commands())
        return NewSessionResponse(
            session_id=session.id,
            modes=session_modes(settings),
            config_options=list(config_options(settings)),
        )

    async def _reopen(
        self, session_id: str, cwd: str, mcp_servers: ClientMcpServers | None, *, replay: bool
    ) -> _Session:
        open_here = self._sessions.get(session_id)
        if open_here is not None and open_here.work is not None:
            raise RequestError(
                BUSY, f"session {session_id} is running a turn; cancel it before loading it again"
            )
        with _errors():
            loaded = await self._core.open_session(
                session_id, _cwd(cwd), mcp_tables(mcp_servers), self._files(), with_history=replay
            )
        session = self._open(loaded.summary)
        if replay and loaded.history:
            session.outbox.put_all(history_updates(loaded.history, session.cwd))
            await session.outbox.drain()  # the whole conversation before the answer
        return session

    async def load_session(
        self,
        cwd: str,
        session_id: str,
        mcp_servers: ClientMcpServers | None = None,
        additional_directories: list[str] | None = None,
        **kwargs: Any,
    ) -> LoadSessionResponse | None:
        session = await self._reopen(session_id, cwd, mcp_servers, replay=True)
        settings = self._core.settings(session.id)
        after: list[Update] = [available_commands()]
        if session.title:
            after.append(title_update(session.title))
        self._after_answer(session, *after)
        return LoadSessionResponse(
            modes=session_modes(settings), config_options=list(config_options(settings))
        )

    async def resume_session(
        self,
        session_id: str,
        cwd: str,
        additional_directories: list[str] | None = None,
        mcp_servers: ClientMcpServers | None = None,
        **kwargs: Any,
    ) -> ResumeSessionResponse:
        session = await self._reopen(session_id, cwd, mcp_servers, replay=False)
        settings = self._core.settings(session.id)
        self._after_answer(session, available_commands())
        return ResumeSessionResponse(
            modes=session_modes(settings), config_options=list(config_options(settings))
        )

    async def fork_session(
        self,
        session_id: str,
        cwd: str,
        additional_directories: list[str] | None = None,
        mcp_servers: ClientMcpServers | None = None,
        **kwargs: Any,
    ) -> ForkSessionResponse:
        with _errors():
            forked = await self._core.fork(session_id)
        session = await self._reopen(forked.session_id, cwd, mcp_servers, replay=False)
        settings = self._core.settings(session.id)
        self._after_answer(session, available_commands())
        return ForkSessionResponse(
            session_id=session.id,
            modes=session_modes(settings),
            config_options=list(config_options(settings)),
        )

    async def list_sessions(
        self, cwd: str | None = None, cursor: str | None = None, **kwargs: Any
    ) -> ListSessionsResponse:
        with _errors():
            try:
                page = await self._core.list_sessions(_cwd(cwd) if cwd else None, cursor)
            except ValueError as exc:
                raise RequestError(-32602, f"invalid cursor: {exc}") from None
        return ListSessionsResponse(
            sessions=[
                SessionInfo(
                    session_id=s.session_id,
                    cwd=str(s.cwd),
                    title=s.title,
                    updated_at=s.updated_at,
                )
                for s in page.sessions
            ],
            next_cursor=page.next_cursor,
        )

    async def close_session(self, session_id: str, **kwargs: Any) -> CloseSessionResponse | None:
        session = self._sessions.pop(session_id, None)
        if session is not None and session.work is not None:
            session.cancelled = True  # its prompt answers `cancelled`
            session.work.cancel()
        with _errors():
            await self._core.close_session(session_id)
        if session is not None:
            await session.outbox.drain()
            session.outbox.close()
        self._asker.forget(session_id)
        return CloseSessionResponse()

    async def set_session_mode(
        self, session_id: str, mode_id: str, **kwargs: Any
    ) -> SetSessionModeResponse | None:
        session = self._session(session_id)
        with _errors():
            await self._core.set_approval(session_id, read_approval(mode_id))
            settings = self._core.settings(session_id)
        self._after_answer(session, config_update(settings))
        return SetSessionModeResponse()

    async def set_config_option(
        self, config_id: str, session_id: str, value: str | bool, **kwargs: Any
    ) -> SetSessionConfigOptionResponse | None:
        session = self._session(session_id)
        with _errors():
            change = read_config_value(config_id, value, self._core.settings(session_id))
            if change.option == "model":
                await self._core.set_model(session_id, change.value)
            else:
                await self._core.set_approval(session_id, ApprovalPolicy(change.value))
                self._after_answer(
                    session,
                    CurrentModeUpdate(
                        session_update="current_mode_update", current_mode_id=change.value
                    ),
                )
            settings = self._core.settings(session_id)
        return SetSessionConfigOptionResponse(config_options=list(config_options(settings)))

    async def prompt(self, session_id: str, prompt: PromptBlocks, **kwargs: Any) -> PromptResponse:
        session = self._session(session_id)
        if session.work is not None:
            raise RequestError(
                BUSY,
                f"a turn is already running in session {session_id}; "
                "cancel it (session/cancel) or wait for its answer",
            )
        session.cancelled = False
        with _errors():
            settings = self._core.settings(session_id)
            parsed = read_prompt(prompt, session.cwd, images=settings.images)
            command = parse_command(parsed.text)
            if command is not None and (parsed.attachments or parsed.images):
                raise PromptError(f"/{command.name} takes no attachments")
            if command is not None:
                return await self._command(session, command)
            result = await self._run(
                session,
                self._core.send(
                    session_id,
                    parsed.text,
                    attachments=parsed.attachments,
                    images=parsed.images,
                    sink=session.sink,
                    approver=self._approve,
                ),
            )
            return await self._answer(session, result)

    async def cancel(self, session_id: str, **kwargs: Any) -> None:
        session = self._sessions.get(session_id)
        if session is None or session.work is None:
            return
        session.cancelled = True
        session.work.cancel()  # a turn not started yet is stopped before it starts
        await self._core.interrupt(session_id)

    async def aclose(self) -> None:
        """The connection ended: stop and release every session it had open, so their
        locks and MCP servers do not outlive the client."""
        for session_id in list(self._sessions):
            try:
                await self.close_session(session_id)
            except RequestError as exc:
                logger.warning("could not close session %s: %s", session_id, exc)

    async def ext_method(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        raise RequestError.method_not_found(f"_{method}")

    async def ext_notification(self, method: str, params: dict[str, Any]) -> None:
        logger.debug("ignored extension notification _%s", method)

    # -- prompts ------------------------------------------------------------------------
    async def _run(self, session: _Session, call: Awaitable[T]) -> T | None:
        """Run a core call as the session's work, so `cancel` can stop it; None when it
        was stopped without a result of its own (the core gives turns one regardless)."""
        work = asyncio.ensure_future(call)
        session.work = work
        try:
            return await work
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # this prompt itself is being torn down (the connection closed)
            return None
        finally:
            session.work = None

    async def _answer(self, session: _Session, result: TurnResult | None) -> PromptResponse:
        """The prompt's answer, after every update of the turn (and a new title) was sent."""
        with contextlib.suppress(CoreError):  # closed meanwhile: no title to tell
            summary = self._core.summary(session.id)
            if summary.title and summary.title != session.title:
                session.title = summary.title
                session.outbox.put(title_update(summary.title, summary.updated_at))
        await session.outbox.drain()
        if result is None:
            return PromptResponse(stop_reason="cancelled")
        return PromptResponse(
            stop_reason=stop_reason(result, session.cancelled), usage=_usage(result)
        )

    async def _command(self, session: _Session, command: SlashCommand) -> PromptResponse:
        core = self._core
        if command.name == "run":
            if not command.args:
                raise PromptError("/run needs a command, e.g. /run npm test")
            result = await self._run(
                session, core.run_command(session.id, command.args, sink=session.sink)
            )
            return await self._answer(session, result)
        if command.name == "compact":
            compacted = await self._run(session, core.compact(session.id, sink=session.sink))
            if compacted is not None:
                session.say(
                    f"Compacted the conversation: {compacted.tokens_before:,} → "
                    f"{compacted.tokens_after:,} tokens."
                )
        elif command.name == "undo":
            restore, force = undo_options(command.args)
            undone = await self._run(session, core.undo(session.id, restore=restore, force=force))
            if undone is not None:
                session.say(_undo_text(undone.restored_files, undone.skipped_files, restore))
        elif command.name == "fork":
            forked = await self._run(session, core.fork(session.id, command.args or None))
            if forked is not None:
                session.say(
                    f"Forked this conversation into a new session ({forked.session_id}); "
                    "open it from the session list to go on there."
                )
        await session.outbox.drain()
        return PromptResponse(stop_reason="cancelled" if session.cancelled else "end_turn")


def _undo_text(restored: list[str], skipped: list[dict[str, str]], restore: str) -> str:
    lines = ["Undid the last turn."]
    if restore != "files":
        lines.append(
            "The conversation above still shows it; load the session again to see it as it is now."
        )
    if restored:
        lines.append("Restored: " + ", ".join(restored))
    for item in skipped:
        lines.append(f"Skipped {item.get('path')}: {item.get('reason')}")
    return "\n".join(lines)


async def serve(core: AgentCore) -> None:
    """Serve ACP on stdin/stdout until the client closes them.

    stdout carries the protocol: nothing else may write there (log to stderr).
    `session/resume`, `session/close` and `session/fork` are unstable in SDK 0.12.1 and
    routed only with `use_unstable_protocol`. When the client goes, the sessions it had
    open are closed (their turns stopped).
    """
    agent = AcpAgent(core)
    try:
        await run_agent(agent, use_unstable_protocol=True)
    finally:
        await agent.aclose()

"""A scripted `AgentCore` for the adapter's tests, and an ACP client pair over a socket.

The fake keeps the core's contract where the adapter relies on it: events go to the sink
before `send` returns, a cancelled `send` still returns an interrupted result, `interrupt`
returns once the turn is over, refusals are the core's `CoreError`s.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from acp import RequestError
from acp.core import AgentSideConnection, ClientSideConnection
from acp.schema import (
    AllowedOutcome,
    ClientCapabilities,
    DeniedOutcome,
    FileSystemCapabilities,
    PermissionOption,
    ReadTextFileResponse,
    RequestPermissionResponse,
    ToolCallUpdate,
    WriteTextFileResponse,
)

from agentls.acp.agent import AcpAgent
from agentls.acp.core import (
    ClientFiles,
    CompactResult,
    EventSink,
    LoadedSession,
    McpServers,
    ModelChoice,
    SessionPage,
    SessionSettings,
    SessionSummary,
    UndoResult,
)
from agentls.agent.approvals import Approver
from agentls.agent.results import SessionNotFoundError, TurnInProgressError, TurnResult
from agentls.config.settings import ApprovalPolicy


class Events:
    """Emits one turn's events to a sink, numbered as the core numbers them."""

    def __init__(self, session_id: str, turn_id: str, sink: EventSink) -> None:
        self.session_id = session_id
        self.turn_id = turn_id
        self.sink = sink
        self.seq = 0

    def __call__(self, kind: str, **fields: Any) -> None:
        self.sink(
            {
                "sessionId": self.session_id,
                "turnId": self.turn_id,
                "seq": self.seq,
                "type": kind,
                **fields,
            }
        )
        self.seq += 1


@dataclass
class Turn:
    """What the fake's `send` got; the script uses it to emit events and ask approvals."""

    session_id: str
    turn_id: str
    text: str
    attachments: list[dict[str, Any]]
    emit: Events
    approver: Approver
    stop: asyncio.Event


Script = Callable[[Turn], Awaitable[TurnResult]]


async def say_hello(turn: Turn) -> TurnResult:
    turn.emit("turnStarted", text=turn.text)
    turn.emit("textDelta", itemId="m1", delta="Hel")
    turn.emit("textDelta", itemId="m1", delta="lo")
    turn.emit("messageCompleted", itemId="m1", text="Hello")
    turn.emit("turnCompleted", status="completed", finalMessage="Hello")
    return TurnResult(
        turn.session_id,
        turn.turn_id,
        "completed",
        "Hello",
        usage={"input_tokens": 10, "output_tokens": 2, "total_tokens": 12},
    )


@dataclass
class FakeSession:
    summary: SessionSummary
    history: list[dict[str, Any]] = field(default_factory=list)
    model: str = "gpt-5"
    approval: ApprovalPolicy = ApprovalPolicy.ASK_UNSAFE
    running: asyncio.Task[TurnResult] | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)


class FakeCore:
    def __init__(self) -> None:
        self.sessions: dict[str, FakeSession] = {}
        self.script: Script = say_hello
        self.turns: list[Turn] = []
        self.calls: list[tuple[Any, ...]] = []
        self.files: ClientFiles | None = None
        self.images = False
        self.gate: asyncio.Event | None = None  # `send` waits here before its turn starts
        self._next = 0

    def add(self, cwd: Path, title: str | None = None, history: Any = None) -> str:
        self._next += 1
        session_id = f"00000000-0000-0000-0000-{self._next:012d}"
        self.sessions[session_id] = FakeSession(
            SessionSummary(session_id, cwd, title, "2026-01-01T00:00:00Z"), list(history or [])
        )
        return session_id

    def _get(self, session_id: str) -> FakeSession:
        if session_id not in self.sessions:
            raise SessionNotFoundError(f"no session {session_id} in this workspace")
        return self.sessions[session_id]

    def takes_images(self) -> bool:
        return self.images

    async def new_session(
        self, cwd: Path, mcp_servers: McpServers, files: ClientFiles
    ) -> SessionSummary:
        self.calls.append(("new_session", cwd, mcp_servers))
        self.files = files
        return self.sessions[self.add(cwd)].summary

    async def open_session(
        self,
        session_id: str,
        cwd: Path,
        mcp_servers: McpServers,
        files: ClientFiles,
        *,
        with_history: bool,
    ) -> LoadedSession:
        session = self._get(session_id)
        self.calls.append(("open_session", session_id, with_history))
        return LoadedSession(session.summary, list(session.history) if with_history else None)

    async def list_sessions(self, cwd: Path | None, cursor: str | None) -> SessionPage:
        found = [s.summary for s in self.sessions.values() if cwd is None or s.summary.cwd == cwd]
        start = int(cursor) if cursor else 0  # ValueError for a bad cursor, as the core
        page = found[start : start + 2]
        more = str(start + 2) if start + 2 < len(found) else None
        return SessionPage(page, more)

    async def close_session(self, session_id: str) -> None:
        self.calls.append(("close_session", session_id))
        await self.interrupt(session_id)

    async def _turn(
        self,
        session_id: str,
        text: str,
        attachments: list[dict[str, Any]],
        sink: EventSink,
        approver: Approver,
        script: Script,
    ) -> TurnResult:
        session = self._get(session_id)
        if session.running is not None:
            raise TurnInProgressError(f"a turn is already running in session {session_id}")
        turn_id = f"turn-{len(self.turns) + 1}"
        session.stop = asyncio.Event()
        turn = Turn(
            session_id,
            turn_id,
            text,
            attachments,
            Events(session_id, turn_id, sink),
            approver,
            session.stop,
        )
        self.turns.append(turn)
        task = asyncio.ensure_future(script(turn))
        session.running = task
        task.add_done_callback(lambda _: setattr(session, "running", None))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:  # like TurnControl.send: stop, then answer anyway
            session.stop.set()
            return await task

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
        self.calls.append(("send", session_id, text, attachments, images))
        if self.gate is not None:
            try:  # like the core's `prepare`: a stop before the turn still answers
                await self.gate.wait()
            except asyncio.CancelledError:
                return TurnResult(session_id, "turn-stopped-early", "interrupted")
        return await self._turn(session_id, text, attachments, sink, approver, self.script)

    async def interrupt(self, session_id: str) -> None:
        session = self._get(session_id)
        self.calls.append(("interrupt", session_id))
        session.stop.set()
        if session.running is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(session.running)

    async def run_command(self, session_id: str, command: str, *, sink: EventSink) -> TurnResult:
        self.calls.append(("run_command", session_id, command))

        async def run(turn: Turn) -> TurnResult:
            turn.emit("turnStarted", text=command)
            turn.emit(
                "toolCallStarted",
                callId="us1",
                name="user_shell",
                arguments=f'{{"command": ["bash", "-lc", "{command}"]}}',
            )
            turn.emit("toolOutputDelta", callId="us1", delta="ok\n")
            turn.emit(
                "toolCallCompleted", callId="us1", status="completed", output="ok\n", exitCode=0
            )
            turn.emit("turnCompleted", status="completed")
            return TurnResult(session_id, turn.turn_id, "completed")

        return await self._turn(session_id, command, [], sink, _never, run)

    async def compact(self, session_id: str, *, sink: EventSink) -> CompactResult:
        self._get(session_id)
        self.calls.append(("compact", session_id))
        return CompactResult(50_000, 4_000)

    async def undo(
        self,
        session_id: str,
        *,
        restore: Literal["all", "files", "conversation"],
        force: bool,
    ) -> UndoResult:
        self.calls.append(("undo", session_id, restore, force))
        return UndoResult(
            restored_files=["a.py"],
            skipped_files=[{"path": "b.py", "reason": "changed since the turn"}],
            undone_turns=["turn-1"],
        )

    async def fork(self, session_id: str, turn_id: str | None = None) -> SessionSummary:
        session = self._get(session_id)
        self.calls.append(("fork", session_id, turn_id))
        return self.sessions[self.add(session.summary.cwd, "fork")].summary

    def settings(self, session_id: str) -> SessionSettings:
        session = self._get(session_id)
        return SessionSettings(
            model=session.model,
            approval=session.approval,
            models=[ModelChoice("gpt-5", "openai", 272_000), ModelChoice("gpt-5-mini", "openai")],
            images=self.images,
        )

    def summary(self, session_id: str) -> SessionSummary:
        return self._get(session_id).summary

    def retitle(self, session_id: str, title: str) -> None:
        session = self._get(session_id)
        old = session.summary
        session.summary = SessionSummary(old.session_id, old.cwd, title, old.updated_at)

    async def set_model(self, session_id: str, model: str) -> None:
        self._get(session_id).model = model

    async def set_approval(self, session_id: str, policy: ApprovalPolicy) -> None:
        self._get(session_id).approval = policy


async def _never(request: Any) -> Any:
    raise AssertionError("a user command is never asked")


class RecordingClient:
    """An ACP client that records updates and answers permission requests as told."""

    def __init__(self) -> None:
        self.updates: list[tuple[str, Any]] = []
        self.asked: list[tuple[ToolCallUpdate, list[PermissionOption]]] = []
        self.answer: str | None = "allow_once"  # None: wait for `release`
        self.release = asyncio.Event()
        self.files: dict[str, str] = {}

    async def session_update(self, session_id: str, update: Any, **kwargs: Any) -> None:
        self.updates.append((session_id, update))

    async def request_permission(
        self,
        session_id: str,
        tool_call: ToolCallUpdate,
        options: list[PermissionOption],
        **kwargs: Any,
    ) -> RequestPermissionResponse:
        self.asked.append((tool_call, options))
        if self.answer is None:
            await self.release.wait()
            return RequestPermissionResponse(outcome=DeniedOutcome(outcome="cancelled"))
        return RequestPermissionResponse(
            outcome=AllowedOutcome(outcome="selected", option_id=self.answer)
        )

    async def read_text_file(
        self,
        session_id: str,
        path: str,
        line: int | None = None,
        limit: int | None = None,
        **kwargs: Any,
    ) -> ReadTextFileResponse:
        if path not in self.files:
            raise RequestError.resource_not_found(path)
        return ReadTextFileResponse(content=self.files[path])

    async def write_text_file(
        self, session_id: str, path: str, content: str, **kwargs: Any
    ) -> WriteTextFileResponse:
        self.files[path] = content
        return WriteTextFileResponse()

    def kinds(self) -> list[str]:
        return [update.session_update for _, update in self.updates]


FS = ClientCapabilities(fs=FileSystemCapabilities(read_text_file=True, write_text_file=True))


@contextlib.asynccontextmanager
async def connected(core: FakeCore) -> AsyncIterator[tuple[ClientSideConnection, RecordingClient]]:
    """An `AcpAgent` over `core` and a recording client, joined by a socket pair."""
    left, right = socket.socketpair()
    agent_reader, agent_writer = await asyncio.open_connection(sock=left)
    client_reader, client_writer = await asyncio.open_connection(sock=right)
    agent_side = AgentSideConnection(
        AcpAgent(core), agent_writer, agent_reader, use_unstable_protocol=True
    )
    client = RecordingClient()
    client_side = ClientSideConnection(
        client, client_writer, client_reader, use_unstable_protocol=True
    )
    try:
        yield client_side, client
    finally:
        await client_side.close()
        await agent_side.close()
        for writer in (client_writer, agent_writer):
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

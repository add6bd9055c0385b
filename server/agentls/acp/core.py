"""What the ACP adapter needs from the agent core, as a `typing.Protocol`.

The adapter holds no agent logic: sessions, turns, approvals, undo and the rest live in
the core (`agentls.agent.service.AgentService`), which both front ends call. This module
says exactly which calls the ACP front end makes, in the core's own terms (its event
dicts, its `TurnResult`, its `Approver`, its history entries, its errors), so the core
can be plugged in with at most a thin shim.

Errors: the core raises its `CoreError`s (`SessionNotFoundError` -33001,
`TurnInProgressError` -33002, `NothingToUndoError` -33004, `StorageError` -33005...), which
the adapter answers as JSON-RPC errors with the same code and message; `ValueError` from
`list_sessions` is a bad cursor (-32602).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from agentls.agent.approvals import Approver
from agentls.agent.results import TurnResult
from agentls.agent.tasks import EventSink
from agentls.config.settings import ApprovalPolicy

__all__ = [
    "AgentCore",
    "ClientFiles",
    "CompactResult",
    "EventSink",
    "LoadedSession",
    "McpServers",
    "ModelChoice",
    "SessionPage",
    "SessionSettings",
    "SessionSummary",
    "UndoResult",
]

# Client MCP servers in the form of config.toml's `[mcp_servers.NAME]` tables
# (`{name: {command, args, env} | {url, http_headers}}`), to join the user's own.
McpServers = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class SessionSummary:
    session_id: str
    cwd: Path
    title: str | None = None
    updated_at: str | None = None  # ISO 8601


@dataclass(frozen=True)
class SessionPage:
    sessions: list[SessionSummary]
    next_cursor: str | None = None


@dataclass(frozen=True)
class LoadedSession:
    """An opened session; `history` (only when asked for) is every panel entry, oldest
    first, in `agent/resume`'s form (`{role, text, callId?, toolName?, status?, exitCode?,
    output?, turnId?, outcome?}`)."""

    summary: SessionSummary
    history: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class ModelChoice:
    id: str
    provider: str | None = None
    context_window: int | None = None


@dataclass(frozen=True)
class SessionSettings:
    """What the session's config options show, and whether prompts may carry images."""

    model: str
    approval: ApprovalPolicy
    models: Sequence[ModelChoice] = ()
    images: bool = False


@dataclass(frozen=True)
class CompactResult:
    tokens_before: int
    tokens_after: int


@dataclass(frozen=True)
class UndoResult:
    restored_files: list[str] = field(default_factory=list)
    skipped_files: list[dict[str, str]] = field(default_factory=list)  # {path, reason}
    undone_turns: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ClientFiles:
    """The client's own file access (`fs/read_text_file`, `fs/write_text_file`), offered
    when the client declared them: what the editor shows, unsaved edits included, and
    writes its buffers and undo see. Given to the core with each session it opens.

    `read(session_id, path)` returns the text (absolute `path`); `write(session_id, path,
    text)` replaces it. Either raises `acp.RequestError` when the client refuses.
    """

    read: Callable[[str, Path], Awaitable[str]] | None = None
    write: Callable[[str, Path, str], Awaitable[None]] | None = None


class AgentCore(Protocol):
    """The core API the ACP front end calls (one instance for the whole process)."""

    def takes_images(self) -> bool:
        """Whether the configured model takes images (`initialize` says so to clients)."""
        ...

    async def new_session(
        self, cwd: Path, mcp_servers: McpServers, files: ClientFiles
    ) -> SessionSummary:
        """A new session for the workspace at `cwd`."""
        ...

    async def open_session(
        self,
        session_id: str,
        cwd: Path,
        mcp_servers: McpServers,
        files: ClientFiles,
        *,
        with_history: bool,
    ) -> LoadedSession:
        """Open (resume) a saved session of `cwd`'s workspace; with its whole history for
        `session/load`, without it for `session/resume`."""
        ...

    async def list_sessions(self, cwd: Path | None, cursor: str | None) -> SessionPage:
        """Sessions, newest activity first, a page at a time; `cwd` narrows them to one
        workspace (all known workspaces otherwise)."""
        ...

    async def close_session(self, session_id: str) -> None:
        """Stop the session's turn (if one runs), release it (its lock, its MCP servers)."""
        ...

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
        """Run a turn (`agent/send`): every event goes to `sink` before this returns;
        `attachments` are `agent/send.context` items; approvals go to `approver`. A
        cancelled caller stops the turn and still gets its (interrupted) result."""
        ...

    async def interrupt(self, session_id: str) -> None:
        """Stop the running turn (or compaction, or user command); returns once it ended
        (its records flushed, its processes gone). Nothing running: returns at once."""
        ...

    async def run_command(self, session_id: str, command: str, *, sink: EventSink) -> TurnResult:
        """The user's own command (`agent/runCommand`), as a turn."""
        ...

    async def compact(self, session_id: str, *, sink: EventSink) -> CompactResult: ...

    async def undo(
        self,
        session_id: str,
        *,
        restore: Literal["all", "files", "conversation"],
        force: bool,
    ) -> UndoResult:
        """Take back the last turn (`agent/undo` without `turnId`)."""
        ...

    async def fork(self, session_id: str, turn_id: str | None = None) -> SessionSummary:
        """A new session holding the conversation up to `turn_id` (default: the last)."""
        ...

    def settings(self, session_id: str) -> SessionSettings: ...

    def summary(self, session_id: str) -> SessionSummary:
        """The session as listed now (its title changes after the first turn)."""
        ...

    async def set_model(self, session_id: str, model: str) -> None:
        """The model of the session's next turns (one of `settings().models`)."""
        ...

    async def set_approval(self, session_id: str, policy: ApprovalPolicy) -> None: ...

"""The `agent/*` method names, and the shapes of what the server answers and sends besides
events: results, its own request (`agent/requestApproval`) and notifications.

Plain TypedDicts, as for events: the wire is dicts, and these say which keys they have. The
params of each method are pydantic models in `agentls.protocol.params` (validated, so a bad
field is named); they live apart because pydantic costs a noticeable import that the
server's start does not need.

No `from __future__ import annotations`, as in `events`: TypedDict needs evaluated
annotations to know which keys are `NotRequired`.
"""

from enum import StrEnum
from typing import Any, Literal, NotRequired, TypedDict

from agentls.protocol.events import FileChange, TurnError, TurnStatus, Usage


class AgentMethod(StrEnum):
    """Requests from the client; each answers once."""

    SEND = "agent/send"
    INTERRUPT = "agent/interrupt"
    RESUME = "agent/resume"
    NEW_SESSION = "agent/newSession"
    LIST_SESSIONS = "agent/listSessions"
    STEER = "agent/steer"
    MCP_SERVERS = "agent/mcpServers"
    HISTORY = "agent/history"
    COMPACT = "agent/compact"
    RUN_COMMAND = "agent/runCommand"
    UNDO = "agent/undo"
    FORK = "agent/fork"
    RENAME_SESSION = "agent/renameSession"
    DELETE_SESSION = "agent/deleteSession"


class AgentNotification(StrEnum):
    """Notifications from the server."""

    EVENT = "agent/event"
    SESSIONS_CHANGED = "agent/sessionsChanged"
    MCP_STATUS = "agent/mcpStatus"


class ServerRequest(StrEnum):
    """Requests from the server to the client."""

    REQUEST_APPROVAL = "agent/requestApproval"


Decision = Literal["approve", "approveForSession", "deny", "abort"]
ApprovalKind = Literal["shell", "patch", "mcp"]
McpServerState = Literal["starting", "ready", "failed", "disabled"]


# -- turns ---------------------------------------------------------------------------------
class TurnResult(TypedDict):
    """`agent/send` and `agent/runCommand`: how the turn ended."""

    sessionId: str
    turnId: str
    status: TurnStatus
    finalMessage: NotRequired[str]
    usage: NotRequired[Usage]
    error: NotRequired[TurnError]


class InterruptResult(TypedDict):
    interrupted: bool
    turnId: NotRequired[str]


class SteerResult(TypedDict):
    accepted: bool


class CompactResult(TypedDict):
    tokensBefore: int
    tokensAfter: int


# -- sessions and their history ------------------------------------------------------------
class TurnOutcome(TypedDict):
    """On a turn's last history entry: how it ended (`reason` when not by the user's stop)."""

    status: TurnStatus
    usage: NotRequired[Usage]
    error: NotRequired[TurnError]
    reason: NotRequired[str]


class HistoryEntry(TypedDict):
    """One entry of the panel's history; for a tool entry `text` is the command."""

    role: Literal["user", "assistant", "tool"]
    text: str
    turnId: NotRequired[str]
    callId: NotRequired[str]
    toolName: NotRequired[str]
    status: NotRequired[str]
    exitCode: NotRequired[int]
    output: NotRequired[str]
    changes: NotRequired[list[FileChange]]
    context: NotRequired[list[dict[str, Any]]]
    outcome: NotRequired[TurnOutcome]


class ForkedFrom(TypedDict):
    sessionId: str
    turnId: str


class ResumeResult(TypedDict):
    sessionId: str
    title: str
    createdAt: str
    updatedAt: str
    history: list[HistoryEntry]
    warnings: list[str]
    instructionFiles: list[str]
    historyCursor: NotRequired[str]
    forkedFrom: NotRequired[ForkedFrom]


class HistoryPage(TypedDict):
    """`agent/history`: the entries just before the cursor, and the cursor before those."""

    history: list[HistoryEntry]
    cursor: NotRequired[str]


class NewSessionResult(TypedDict):
    sessionId: str


class ForkResult(TypedDict):
    """`agent/fork`: the new session."""

    sessionId: str


class SessionSummary(TypedDict):
    sessionId: str
    title: str
    createdAt: str
    updatedAt: str
    turns: int
    oneShot: bool


class ListSessionsResult(TypedDict):
    sessions: list[SessionSummary]
    nextCursor: NotRequired[str]


class SkippedFile(TypedDict):
    path: str
    reason: str


class UndoResult(TypedDict):
    sessionId: str
    restoredFiles: list[str]
    skippedFiles: list[SkippedFile]
    history: list[HistoryEntry]
    undoneTurns: list[str]
    historyCursor: NotRequired[str]
    warnings: NotRequired[list[str]]


class EmptyResult(TypedDict):
    """`agent/renameSession`, `agent/deleteSession`: `{}`."""


# -- MCP -----------------------------------------------------------------------------------
class McpServerStatus(TypedDict):
    name: str
    state: McpServerState
    error: str | None
    tools: list[str]


class McpServersResult(TypedDict):
    """`agent/mcpServers`, and the params of the `agent/mcpStatus` notification."""

    servers: list[McpServerStatus]


# -- the server's request ------------------------------------------------------------------
class ApprovalParams(TypedDict):
    """`agent/requestApproval`: a call that needs the user's yes."""

    sessionId: str
    turnId: str
    callId: str
    kind: ApprovalKind
    cwd: str
    command: NotRequired[list[str]]
    patch: NotRequired[str]
    reason: NotRequired[str]
    changes: NotRequired[list[FileChange]]
    tool: NotRequired[dict[str, Any]]


class ApprovalResult(TypedDict):
    decision: Decision


# -- initialize ----------------------------------------------------------------------------
class SandboxInfo(TypedDict):
    mode: str
    active: bool
    warning: str | None


class AgentCapability(TypedDict):
    """`capabilities.experimental.agent` of the `initialize` answer."""

    version: int
    methods: list[str]
    model: dict[str, Any] | None
    sandbox: NotRequired[SandboxInfo]
    warnings: NotRequired[list[str]]
    instructionFiles: NotRequired[list[str]]
    mcp: NotRequired[list[McpServerStatus]]

"""Every `agent/event` the server sends, typed: the names and each one's fields.

An event is a plain dict on the wire (`{sessionId, turnId, seq, type, ...}`, see
docs/protocol.md); the TypedDicts below say which keys it carries, so that the server's
consumers (the terminal chat, `$/progress`, the outbox) and the VS Code client's generated
`protocolTypes.ts` (`python -m agentls.protocol.typescript`) agree on one list. They cost
nothing at run time: an event stays a dict, built without a class in between, which matters
at tens of thousands of deltas a second.

Adding an event: a member of `EventType`, a TypedDict here, its entry in `EVENTS`; then
regenerate the client's types (a test fails until that is done).
"""

from enum import StrEnum
from typing import Literal, NotRequired, TypedDict


class EventType(StrEnum):
    """The `type` of an `agent/event`; a `str`, so it compares and encodes as its value."""

    TURN_STARTED = "turnStarted"
    TEXT_DELTA = "textDelta"
    MESSAGE_COMPLETED = "messageCompleted"
    TOOL_CALL_STARTED = "toolCallStarted"
    TOOL_OUTPUT_DELTA = "toolOutputDelta"
    TOOL_CALL_COMPLETED = "toolCallCompleted"
    RETRYING = "retrying"
    TURN_DIFF = "turnDiff"
    TOKEN_USAGE = "tokenUsage"
    COMPACTION = "compaction"
    STEERED = "steered"
    MCP_WAITING = "mcpWaiting"
    TURN_COMPLETED = "turnCompleted"


TurnStatus = Literal["completed", "interrupted", "failed"]
ToolStatus = Literal["completed", "failed", "denied", "aborted"]
CompactionPhase = Literal["started", "completed", "failed"]


# -- shapes the events share (also used in results) ---------------------------------------
class Usage(TypedDict, total=False):
    """A turn's token counts, summed over its model responses (the API's own names)."""

    input_tokens: int
    output_tokens: int
    total_tokens: int


class TurnError(TypedDict):
    """Why a turn failed, worded for the user."""

    message: str
    code: NotRequired[str]
    httpStatus: NotRequired[int]


class FileChange(TypedDict):
    """One file of an `apply_patch` call, with its unified diff."""

    path: str
    kind: Literal["add", "delete", "update"]
    movePath: NotRequired[str]
    diff: str


class McpCallInfo(TypedDict):
    """Which MCP server and tool a call goes to."""

    server: str
    tool: str


class DiffFile(TypedDict):
    """A file of a `turnDiff`, with its line counts."""

    path: str
    added: int
    removed: int


# -- the events ----------------------------------------------------------------------------
class EventBase(TypedDict):
    """What every event carries; `seq` starts at 0 in each turn and grows by one, so a gap
    shows live deltas the outbox dropped for a client that stopped reading."""

    sessionId: str
    turnId: str
    seq: int


class TurnStartedEvent(EventBase):
    type: Literal[EventType.TURN_STARTED]
    text: str


class TextDeltaEvent(EventBase):
    type: Literal[EventType.TEXT_DELTA]
    itemId: str
    delta: str


class MessageCompletedEvent(EventBase):
    type: Literal[EventType.MESSAGE_COMPLETED]
    itemId: str
    text: str


class ToolCallStartedEvent(EventBase):
    """`readOnly` for a shell call (the classifier's verdict), `changes` for a patch, `mcp`
    for an MCP tool."""

    type: Literal[EventType.TOOL_CALL_STARTED]
    callId: str
    name: str
    arguments: str
    readOnly: NotRequired[bool]
    changes: NotRequired[list[FileChange]]
    mcp: NotRequired[McpCallInfo]


class ToolOutputDeltaEvent(EventBase):
    type: Literal[EventType.TOOL_OUTPUT_DELTA]
    callId: str
    delta: str


class ToolCallCompletedEvent(EventBase):
    type: Literal[EventType.TOOL_CALL_COMPLETED]
    callId: str
    status: ToolStatus
    output: str
    exitCode: NotRequired[int]
    changes: NotRequired[list[FileChange]]


class RetryingEvent(EventBase):
    """The partial text of the failed attempt is to be dropped: the retry streams it again."""

    type: Literal[EventType.RETRYING]
    attempt: int
    delayMs: int
    reason: str


class TurnDiffEvent(EventBase):
    """Every change in the workspace since the turn began, after each call that changed files."""

    type: Literal[EventType.TURN_DIFF]
    diff: str
    files: list[DiffFile]
    truncated: NotRequired[bool]


class TokenUsageEvent(EventBase):
    """How full the context window is; `estimated` right after a compaction, until the next
    response reports the real count."""

    type: Literal[EventType.TOKEN_USAGE]
    inputTokens: int
    outputTokens: int
    contextWindow: NotRequired[int]
    percent: NotRequired[int]
    estimated: NotRequired[bool]


class CompactionEvent(EventBase):
    type: Literal[EventType.COMPACTION]
    phase: CompactionPhase
    reason: str
    tokensBefore: NotRequired[int]
    tokensAfter: NotRequired[int]
    contextWindow: NotRequired[int]
    percent: NotRequired[int]
    error: NotRequired[TurnError]


class SteeredEvent(EventBase):
    """Text the user added to the running turn (`agent/steer`) joined it here."""

    type: Literal[EventType.STEERED]
    text: str


class McpFailure(TypedDict):
    name: str
    error: str


class McpWaitingEvent(EventBase):
    """The turn waits for MCP servers still starting before its model request."""

    type: Literal[EventType.MCP_WAITING]
    phase: Literal["started", "completed"]
    servers: list[str]
    ready: NotRequired[list[str]]
    failed: NotRequired[list[McpFailure]]
    waitedMs: NotRequired[int]


class TurnCompletedEvent(EventBase):
    """Always the turn's last event."""

    type: Literal[EventType.TURN_COMPLETED]
    status: TurnStatus
    finalMessage: NotRequired[str]
    usage: NotRequired[Usage]
    error: NotRequired[TurnError]


AgentEvent = (
    TurnStartedEvent
    | TextDeltaEvent
    | MessageCompletedEvent
    | ToolCallStartedEvent
    | ToolOutputDeltaEvent
    | ToolCallCompletedEvent
    | RetryingEvent
    | TurnDiffEvent
    | TokenUsageEvent
    | CompactionEvent
    | SteeredEvent
    | McpWaitingEvent
    | TurnCompletedEvent
)

# Each event type's shape, in the order docs/protocol.md lists them.
EVENTS: dict[EventType, type[EventBase]] = {
    EventType.TURN_STARTED: TurnStartedEvent,
    EventType.TEXT_DELTA: TextDeltaEvent,
    EventType.MESSAGE_COMPLETED: MessageCompletedEvent,
    EventType.TOOL_CALL_STARTED: ToolCallStartedEvent,
    EventType.TOOL_OUTPUT_DELTA: ToolOutputDeltaEvent,
    EventType.TOOL_CALL_COMPLETED: ToolCallCompletedEvent,
    EventType.RETRYING: RetryingEvent,
    EventType.TURN_DIFF: TurnDiffEvent,
    EventType.TOKEN_USAGE: TokenUsageEvent,
    EventType.COMPACTION: CompactionEvent,
    EventType.STEERED: SteeredEvent,
    EventType.MCP_WAITING: McpWaitingEvent,
    EventType.TURN_COMPLETED: TurnCompletedEvent,
}

# Deltas a client can do without: the events that complete a message or a call carry the
# whole text again, so these are what the outbox drops for a client that stops reading.
LIVE_DELTAS: frozenset[str] = frozenset({EventType.TEXT_DELTA, EventType.TOOL_OUTPUT_DELTA})

"""The outcome of a turn, as the core reports it and as the wire carries it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

TurnStatus = Literal["completed", "interrupted", "failed"]


@dataclass(frozen=True)
class TurnResult:
    session_id: str
    turn_id: str
    status: TurnStatus
    final_message: str | None = None
    usage: dict[str, int] | None = None
    error: dict[str, Any] | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "sessionId": self.session_id,
            "turnId": self.turn_id,
            "status": self.status,
        }
        if self.final_message is not None:
            wire["finalMessage"] = self.final_message
        if self.usage:
            wire["usage"] = self.usage
        if self.error:
            wire["error"] = self.error
        return wire


class CoreError(Exception):
    """A refusal the user can act on; `code` is the protocol's error number for it."""

    code = -32603


class SessionNotFoundError(CoreError, LookupError):
    """No session with that id in this workspace."""

    code = -33001


class TurnInProgressError(CoreError, RuntimeError):
    """A send arrived while the session was busy; it is refused, never queued."""

    code = -33002


class NothingToUndoError(CoreError):
    """Undo or fork named a turn the session does not have, or there is no turn at all."""

    code = -33004


class StorageError(CoreError):
    """The session could not be saved (disk full, folder gone); the message says which."""

    code = -33005


class InvalidInputError(CoreError, ValueError):
    """Input the caller can fix (a malformed attachment); the message names the field."""

    code = -32602


class NotConfiguredError(CoreError):
    """A call came before the front end said which folder the service serves."""

    code = -32002

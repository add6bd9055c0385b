"""What a model stream yields to the turn loop, whatever the wire API underneath."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TextDelta:
    item_id: str
    delta: str


@dataclass(frozen=True)
class ItemDone:
    """An output item the service finished; the only form in which output is kept."""

    item: dict[str, Any]


@dataclass(frozen=True)
class Completed:
    response_id: str | None
    usage: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Retry:
    """The previous attempt failed and is being retried: discard its partial output."""

    attempt: int
    delay_s: float
    reason: str


ModelEvent = TextDelta | ItemDone | Completed | Retry


@dataclass(frozen=True)
class ModelRequest:
    model: str
    input: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    instructions: str | None = None
    store: bool = False
    previous_response_id: str | None = None


class ProviderError(Exception):
    """A model API failure, worded for the person who has to fix it."""

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        code: str | None = None,
        retryable: bool = False,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        self.code = code
        self.retryable = retryable
        self.retry_after_s = retry_after_s

    def to_wire(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message}
        if self.code:
            error["code"] = self.code
        if self.http_status is not None:
            error["httpStatus"] = self.http_status
        return error

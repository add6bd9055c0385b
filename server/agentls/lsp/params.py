"""Params as the LSP layer takes them: the protocol's models, and the -32602 that names the
first bad field.

The models themselves live in `agentls.protocol.params` with the rest of the wire protocol;
they are re-exported here for the method handlers.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import ValidationError

from agentls.lsp.errors import invalid_params
from agentls.protocol.params import (
    MAX_HISTORY_PAGE,
    MAX_TEXT_CHARS,
    DeleteSessionParams,
    ForkParams,
    HistoryParams,
    ListSessionsParams,
    NewSessionParams,
    NoParams,
    Params,
    RenameSessionParams,
    ResumeParams,
    RunCommandParams,
    SendParams,
    SessionParams,
    SteerParams,
    UndoParams,
)

__all__ = [
    "MAX_HISTORY_PAGE",
    "MAX_TEXT_CHARS",
    "DeleteSessionParams",
    "ForkParams",
    "HistoryParams",
    "ListSessionsParams",
    "NewSessionParams",
    "NoParams",
    "RenameSessionParams",
    "ResumeParams",
    "RunCommandParams",
    "SendParams",
    "SessionParams",
    "SteerParams",
    "UndoParams",
    "parse_params",
]

P = TypeVar("P", bound=Params)


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "params"


def parse_params(model: type[P], raw: Any, method: str) -> P:
    """Raise -32602 naming the first bad field."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise invalid_params(f"{method}: params must be an object, got {type(raw).__name__}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = _field_path(tuple(first.get("loc", ())))
        raise invalid_params(f"{method}: invalid '{field}': {first.get('msg')}") from None

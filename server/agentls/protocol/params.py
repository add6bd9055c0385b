"""Params of the `agent/*` methods, validated strictly so a bad field is named, never guessed.

The models are the protocol's (docs/protocol.md); `agentls.lsp.params.parse_params` turns a
validation failure into the -32602 answer. Kept apart from the event and result shapes
because importing pydantic is a cost the server's start leaves to a background warm-up.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
)

MAX_TEXT_CHARS = 1_000_000
_SURROGATE = re.compile("[\ud800-\udfff]")


def _without_lone_surrogates(value: Any) -> Any:
    """A message cut inside an emoji arrives with half a surrogate pair; no API takes that."""
    return _SURROGATE.sub("\ufffd", value) if isinstance(value, str) else value


class Params(BaseModel):
    """Unknown fields are ignored (a newer client may send more); the known ones are strict."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class SendParams(Params):
    text: Annotated[
        StrictStr,
        Field(min_length=1, max_length=MAX_TEXT_CHARS),
        BeforeValidator(_without_lone_surrogates),
    ]
    sessionId: StrictStr | None = None
    workDoneToken: StrictStr | StrictInt | None = None
    context: list[Any] | None = None  # editor attachments, checked by agent.attachments


class SessionParams(Params):
    sessionId: StrictStr | None = None


class ListSessionsParams(Params):
    limit: Annotated[StrictInt, Field(ge=1, le=500)] = 50
    cursor: StrictStr | None = None
    query: Annotated[StrictStr, Field(max_length=1000)] | None = None


class NoParams(Params):
    pass


class SteerParams(Params):
    text: Annotated[
        StrictStr,
        Field(min_length=1, max_length=MAX_TEXT_CHARS),
        BeforeValidator(_without_lone_surrogates),
    ]
    sessionId: StrictStr | None = None


class NewSessionParams(Params):
    oneShot: StrictBool = False


# -- long sessions -------------------------------------------------------------------------
MAX_HISTORY_PAGE = 10_000


class ResumeParams(Params):
    sessionId: StrictStr | None = None
    # absent: every entry (what `agent/resume` answered before paging)
    historyLimit: Annotated[StrictInt, Field(ge=0, le=MAX_HISTORY_PAGE)] | None = None


class HistoryParams(Params):
    sessionId: StrictStr | None = None
    cursor: Annotated[StrictStr, Field(min_length=1, max_length=200)]
    limit: Annotated[StrictInt, Field(ge=1, le=MAX_HISTORY_PAGE)] = 200


class RunCommandParams(Params):
    sessionId: StrictStr | None = None
    workDoneToken: StrictStr | StrictInt | None = None
    command: Annotated[
        StrictStr,
        Field(min_length=1, max_length=MAX_TEXT_CHARS),
        BeforeValidator(_without_lone_surrogates),
    ]


# -- undo, fork and the session list ----------------------------------------------------------
class UndoParams(Params):
    sessionId: StrictStr | None = None
    turnId: StrictStr | None = None
    restore: Literal["all", "files", "conversation"] = "all"
    force: StrictBool = False
    # as in agent/resume: the newest entries of the history answered (absent: all)
    historyLimit: Annotated[StrictInt, Field(ge=0, le=MAX_HISTORY_PAGE)] | None = None


class ForkParams(Params):
    sessionId: StrictStr | None = None
    turnId: StrictStr | None = None


class RenameSessionParams(Params):
    sessionId: StrictStr
    title: Annotated[
        StrictStr,
        Field(min_length=1, max_length=1000, pattern=r"\S"),
        BeforeValidator(_without_lone_surrogates),
    ]


class DeleteSessionParams(Params):
    sessionId: StrictStr

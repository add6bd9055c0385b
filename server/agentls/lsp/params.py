"""Params of the agent methods, validated strictly so a bad field is named, never guessed."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
)

from agentls.lsp.errors import invalid_params

MAX_TEXT_CHARS = 1_000_000
_SURROGATE = re.compile("[\ud800-\udfff]")


def _without_lone_surrogates(value: Any) -> Any:
    """A message cut inside an emoji arrives with half a surrogate pair; no API takes that."""
    return _SURROGATE.sub("\ufffd", value) if isinstance(value, str) else value


class _Params(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class SendParams(_Params):
    text: Annotated[
        StrictStr,
        Field(min_length=1, max_length=MAX_TEXT_CHARS),
        BeforeValidator(_without_lone_surrogates),
    ]
    sessionId: StrictStr | None = None  # noqa: N815 - wire name
    workDoneToken: StrictStr | StrictInt | None = None  # noqa: N815 - wire name
    context: list[Any] | None = None  # editor attachments, checked by agent.attachments


class SessionParams(_Params):
    sessionId: StrictStr | None = None  # noqa: N815 - wire name


class ListSessionsParams(_Params):
    limit: Annotated[StrictInt, Field(ge=1, le=500)] = 50
    cursor: StrictStr | None = None
    query: Annotated[StrictStr, Field(max_length=1000)] | None = None


class NoParams(_Params):
    pass


P = TypeVar("P", bound=_Params)


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


class SteerParams(_Params):
    text: Annotated[
        StrictStr,
        Field(min_length=1, max_length=MAX_TEXT_CHARS),
        BeforeValidator(_without_lone_surrogates),
    ]
    sessionId: StrictStr | None = None  # noqa: N815 - wire name


class NewSessionParams(_Params):
    oneShot: StrictBool = False  # noqa: N815 - wire name


# -- long sessions -------------------------------------------------------------------------
MAX_HISTORY_PAGE = 10_000


class ResumeParams(_Params):
    sessionId: StrictStr | None = None  # noqa: N815 - wire name
    # absent: every entry (what `agent/resume` answered before paging)
    historyLimit: Annotated[StrictInt, Field(ge=0, le=MAX_HISTORY_PAGE)] | None = None  # noqa: N815


class HistoryParams(_Params):
    sessionId: StrictStr | None = None  # noqa: N815 - wire name
    cursor: Annotated[StrictStr, Field(min_length=1, max_length=200)]
    limit: Annotated[StrictInt, Field(ge=1, le=MAX_HISTORY_PAGE)] = 200


class RunCommandParams(_Params):
    sessionId: StrictStr | None = None  # noqa: N815 - wire name
    workDoneToken: StrictStr | StrictInt | None = None  # noqa: N815 - wire name
    command: Annotated[
        StrictStr,
        Field(min_length=1, max_length=MAX_TEXT_CHARS),
        BeforeValidator(_without_lone_surrogates),
    ]


# -- undo, fork and the session list ----------------------------------------------------------
class UndoParams(_Params):
    sessionId: StrictStr | None = None  # noqa: N815 - wire name
    turnId: StrictStr | None = None  # noqa: N815 - wire name
    restore: Literal["all", "files", "conversation"] = "all"
    force: StrictBool = False
    # as in agent/resume: the newest entries of the history answered (absent: all)
    historyLimit: Annotated[StrictInt, Field(ge=0, le=MAX_HISTORY_PAGE)] | None = None  # noqa: N815


class ForkParams(_Params):
    sessionId: StrictStr | None = None  # noqa: N815 - wire name
    turnId: StrictStr | None = None  # noqa: N815 - wire name


class RenameSessionParams(_Params):
    sessionId: StrictStr  # noqa: N815 - wire name
    title: Annotated[
        StrictStr,
        Field(min_length=1, max_length=1000, pattern=r"\S"),
        BeforeValidator(_without_lone_surrogates),
    ]


class DeleteSessionParams(_Params):
    sessionId: StrictStr  # noqa: N815 - wire name

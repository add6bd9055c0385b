"""Checking a table of user settings key by key, the same way wherever one is read.

The settings (:mod:`agentls.config.settings`) and each ``[mcp_servers.NAME]`` table
(:mod:`agentls.mcp.config`) come from files and editors the server does not control. A bad
entry must never stop the server, and the user must learn which key was wrong. Both read a
table the same way: each key is normalised, looked up among the known checks, and its
value checked; what is not understood becomes a :class:`UnknownKey` or a :class:`BadValue`,
and each caller words those in its own terms (its source, its fallback).

The checks raise :class:`BadValueError` with a reason that never quotes the value: an MCP
table holds tokens, and one pasted into the wrong key must not reach a log.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

__all__ = [
    "ENV_NAME",
    "BadValue",
    "BadValueError",
    "Check",
    "CheckedTable",
    "Problem",
    "UnknownKey",
    "check_table",
    "choice",
    "http_url",
    "string_table",
]

Check = Callable[[Any], Any]
"""Turns a value as written into the value used, or raises :class:`BadValueError`."""

_Choice = TypeVar("_Choice", bound=StrEnum)

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
"""What a shell accepts as an environment variable's name."""

_HTTP_URL = re.compile(r"https?://[^\s/]+")


class BadValueError(ValueError):
    """A value a check refuses; the message says what was expected, not what was given."""


@dataclass(frozen=True)
class UnknownKey:
    """A key no check is known for, and that the caller did not list as understood."""

    written: object
    """The key as it appears in the table."""
    key: str
    """The key normalised, as the checks know keys."""


@dataclass(frozen=True)
class BadValue:
    """A known key whose value its check refused."""

    written: object
    key: str
    value: Any = field(repr=False)
    """Kept out of ``repr``: it may be a secret in the wrong place."""
    reason: str


Problem = UnknownKey | BadValue


@dataclass
class CheckedTable:
    values: dict[str, Any]
    """The checked values by normalised key; a key whose value was refused is absent."""
    problems: list[Problem]
    """In the table's order, so that warnings read in the order the user wrote the keys."""


def check_table(
    table: Mapping[Any, Any],
    checks: Mapping[str, Check],
    *,
    key: Callable[[str], str] = str,
    understood: Collection[str] = (),
) -> CheckedTable:
    """Checks every entry of ``table``: ``key`` normalises a key as written (camelCase,
    aliases), ``understood`` lists keys that are no setting but are not unknown either
    (they are read elsewhere) and are passed over in silence."""
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    for written, value in table.items():
        name = key(str(written))
        check = checks.get(name)
        if check is None:
            if name not in understood:
                problems.append(UnknownKey(written, name))
            continue
        try:
            values[name] = check(value)
        except ValueError as exc:
            # A check's own refusal says why; any other ValueError may quote the value.
            reason = str(exc) if isinstance(exc, BadValueError) else "not a valid value"
            problems.append(BadValue(written, name, value, reason))
    return CheckedTable(values, problems)


def choice(kind: type[_Choice]) -> Callable[[Any], _Choice]:
    """One of an enumeration's values, as written in the settings."""

    def check(value: Any) -> _Choice:
        try:
            return kind(value)
        except ValueError:
            allowed = ", ".join(member.value for member in kind)
            raise BadValueError(f"expected one of {allowed}") from None

    return check


def string_table(what: str) -> Callable[[Any], dict[str, str]]:
    """A table of strings (headers, environment variables), named ``what`` in the reason."""
    reason = f"expected a table of {what} to string values"

    def check(value: Any) -> dict[str, str]:
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise BadValueError(reason)
        return dict(value)

    return check


def http_url(text: str) -> str:
    """An ``http://`` or ``https://`` URL with a host, from a string already checked as one:
    anything else would only fail later, at the first request, far from the setting."""
    if not _HTTP_URL.match(text):
        raise BadValueError("expected an http:// or https:// URL")
    return text

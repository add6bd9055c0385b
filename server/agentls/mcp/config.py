"""`[mcp_servers.NAME]` tables, read the way the Codex CLI reads them.

A bad entry must never stop the server: a bad value in an optional key falls back to its
default with a warning that names the key; a server with neither a `command` nor a `url`
(or both) is left out with a warning. Environment values and header values are secrets as
far as this package is concerned, so they are kept out of every `repr` and message.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from agentls.config.check import (
    ENV_NAME,
    BadValueError,
    Check,
    UnknownKey,
    check_table,
    choice,
    http_url,
    string_table,
)
from agentls.config.settings import ApprovalPolicy

__all__ = [
    "DEFAULT_MAX_MESSAGE_MB",
    "DEFAULT_STARTUP_TIMEOUT_S",
    "DEFAULT_TOOL_TIMEOUT_S",
    "McpServerConfig",
    "parse_server_configs",
]

DEFAULT_STARTUP_TIMEOUT_S = 10.0
DEFAULT_TOOL_TIMEOUT_S = 60.0
# One message from a server (a tool's result, a tool list) is held whole in memory and
# parsed whole; past this size it is refused and the server restarted. 32 MiB is far more
# than a model can read back, and small enough that parsing it takes a fraction of a second.
DEFAULT_MAX_MESSAGE_MB = 32.0
_MAX_MESSAGE_MB_LIMIT = 1024.0

# The Codex CLI spells the timeouts `_sec`; a copied table should simply work.
_ALIASES = {"startup_timeout_sec": "startup_timeout_s", "tool_timeout_sec": "tool_timeout_s"}


@dataclass(frozen=True)
class McpServerConfig:
    """One configured server; `command` for stdio, `url` for Streamable HTTP."""

    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    cwd: str | None = None
    enabled: bool = True
    startup_timeout_s: float = DEFAULT_STARTUP_TIMEOUT_S
    tool_timeout_s: float = DEFAULT_TOOL_TIMEOUT_S
    approval: ApprovalPolicy | None = None
    url: str | None = None
    bearer_token_env_var: str | None = None
    http_headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    max_message_mb: float = DEFAULT_MAX_MESSAGE_MB
    # A tool's `readOnlyHint` is the server's own claim; only the user can make it a reason
    # to run the tool unasked.
    trust_read_only_hint: bool = False

    @property
    def max_message_bytes(self) -> int:
        return max(1, int(self.max_message_mb * 1024 * 1024))

    @property
    def transport(self) -> Literal["stdio", "http"]:
        return "http" if self.url is not None else "stdio"


def _string(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadValueError("expected a non-empty string")
    return value


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise BadValueError("expected an array of strings")
    return tuple(value)


_string_table = string_table("names")


def _env_table(value: Any) -> dict[str, str]:
    table = _string_table(value)
    for key in table:
        if not ENV_NAME.fullmatch(key):
            raise BadValueError(f"{key!r} is not a valid environment variable name")
    return table


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise BadValueError("expected true or false")
    return value


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadValueError("expected a number of seconds")
    try:
        seconds = float(value)
    except OverflowError:  # an integer too large for a float
        seconds = math.inf
    if not math.isfinite(seconds) or not 0 < seconds <= 86400:
        raise BadValueError("expected a number of seconds between 0 and 86400")
    return seconds


def _megabytes(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadValueError("expected a number of MiB")
    try:
        size = float(value)
    except OverflowError:
        size = math.inf
    if not math.isfinite(size) or not 0 < size <= _MAX_MESSAGE_MB_LIMIT:
        raise BadValueError(f"expected a number of MiB above 0, at most {_MAX_MESSAGE_MB_LIMIT:g}")
    return size


def _env_name(value: Any) -> str:
    name = _string(value)
    if not ENV_NAME.fullmatch(name):
        raise BadValueError("expected an environment variable name")
    return name


def _url(value: Any) -> str:
    return http_url(_string(value))


_CHECKS: dict[str, Check] = {
    "command": _string,
    "args": _strings,
    "env": _env_table,
    "cwd": _string,
    "enabled": _flag,
    "startup_timeout_s": _seconds,
    "tool_timeout_s": _seconds,
    "approval": choice(ApprovalPolicy),
    "url": _url,
    "bearer_token_env_var": _env_name,
    "http_headers": _string_table,
    "max_message_mb": _megabytes,
    "trust_read_only_hint": _flag,
}


def _parse_one(name: str, table: Mapping[str, Any], warnings: list[str]) -> McpServerConfig | None:
    where = f"mcp_servers.{name}"
    checked = check_table(table, _CHECKS, key=lambda written: _ALIASES.get(written, written))
    for problem in checked.problems:
        if isinstance(problem, UnknownKey):
            warnings.append(f"{where}: unknown key {problem.written!r} ignored")
        else:
            # The value itself is not quoted: it may be a token pasted into the wrong key.
            warnings.append(f"{where}.{problem.written}: {problem.reason}; the default is used")
    values = checked.values
    has_command = "command" in values
    has_url = "url" in values
    if has_command == has_url:
        what = "both `command` and `url`" if has_command else "neither `command` nor `url`"
        warnings.append(f"{where}: has {what}; the server is left out")
        return None
    if has_url:
        for stdio_only in ("args", "env", "cwd"):
            if stdio_only in values:
                warnings.append(f"{where}.{stdio_only}: only applies to `command` servers")
                del values[stdio_only]
    else:
        for http_only in ("bearer_token_env_var", "http_headers"):
            if http_only in values:
                warnings.append(f"{where}.{http_only}: only applies to `url` servers")
                del values[http_only]
    return McpServerConfig(name=name, **values)


def parse_server_configs(raw: Mapping[str, Any]) -> tuple[list[McpServerConfig], list[str]]:
    """The servers of `[mcp_servers]`, in name order, and one warning per problem found."""
    configs: list[McpServerConfig] = []
    warnings: list[str] = []
    for name in sorted(raw, key=str):
        table = raw[name]
        if not isinstance(name, str) or not name.strip():
            warnings.append("mcp_servers: a server without a name is left out")
            continue
        if not isinstance(table, Mapping):
            warnings.append(f"mcp_servers.{name}: expected a table; the server is left out")
            continue
        config = _parse_one(name, table, warnings)
        if config is not None:
            configs.append(config)
    return configs, warnings

"""Settings: one typed record merged from every source the protocol names.

A bad value in one source must never stop the server: it is reported in words that name the
setting and the source, and the value from the next lower source (or the default) is used.
The record is a plain dataclass with small field checks: settings are read while
`initialize` waits, and a validation library would cost more to import than all of this.

Not every source may set everything: the workspace (a repository, perhaps someone else's)
may choose the model and how things look, never where the API key goes, what runs
unasked or which programs start. `KEY_SCOPES` says who may set each key, and why.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

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

DEFAULT_BASE_URL = "https://api.openai.com/v1"


class ApprovalPolicy(StrEnum):
    ALWAYS_ASK = "always-ask"
    ASK_UNSAFE = "ask-unsafe"
    NEVER_ASK = "never-ask"


class WireApi(StrEnum):
    RESPONSES = "responses"
    CHAT = "chat"


class SandboxMode(StrEnum):
    """How commands are contained: see docs/security.md."""

    WORKSPACE_WRITE = "workspace-write"
    READ_ONLY = "read-only"
    OFF = "off"


class HistoryMode(StrEnum):
    """`stateless`: full history each turn, `store: false`. `server`: `previous_response_id`."""

    STATELESS = "stateless"
    SERVER = "server"


def default_home() -> Path:
    """The platform's user state folder, resolved only when no home was given."""
    import platformdirs

    return Path(platformdirs.user_state_dir("agentls"))


@dataclass(frozen=True)
class Settings:
    """Everything the server can be told; API keys are read from the environment only."""

    base_url: str = DEFAULT_BASE_URL
    api_key_env: str = "OPENAI_API_KEY"
    model: str = "gpt-5-mini"
    wire_api: WireApi = WireApi.RESPONSES
    history: HistoryMode = HistoryMode.STATELESS
    model_path: Path | None = None
    local_model: bool = True
    local_context_tokens: int = 8192
    approval: ApprovalPolicy = ApprovalPolicy.ASK_UNSAFE
    home: Path = field(default_factory=default_home)
    instructions: str | None = None
    connect_timeout_s: float = 10.0
    stream_idle_timeout_s: float = 120.0
    max_retries: int = 4
    retry_base_delay_s: float = 0.5
    retry_max_delay_s: float = 30.0
    shell_timeout_s: float = 300.0
    kill_grace_s: float = 0.5
    extra_headers: Mapping[str, str] = field(default_factory=dict)
    sandbox: SandboxMode = SandboxMode.WORKSPACE_WRITE
    sandbox_network: bool = True
    checkpoints: bool = True
    checkpoint_max_file_mb: float = 10.0
    context_window: int | None = None
    auto_compact_percent: int = 85
    mcp_servers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    def api_key(self, env: Mapping[str, str] | None = None) -> str | None:
        """The key is looked up at use so it never sits in a dump of the settings."""
        value = (os.environ if env is None else env).get(self.api_key_env, "").strip()
        return value or None

    def has_model_endpoint(self, env: Mapping[str, str] | None = None) -> bool:
        """Without a key the public API cannot answer; a custom base URL may need none."""
        return self.api_key(env) is not None or self.base_url.rstrip("/") != DEFAULT_BASE_URL

    def wants_embedded_model(self, env: Mapping[str, str] | None = None) -> bool:
        """A configured GGUF file, or nothing else to talk to (unless turned off)."""
        if not self.local_model:
            return False
        return self.model_path is not None or not self.has_model_endpoint(env)


# -- field checks (the ones MCP shares are in agentls.config.check) ----------------------------


def _text(*, pattern: str | None = None, empty: bool = False) -> Check:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise BadValueError("expected a string")
        if not empty and not value.strip():
            raise BadValueError("must not be empty")
        if pattern and not re.fullmatch(pattern, value):
            raise BadValueError(f"must match {pattern}")
        return value

    return check


def _url(value: Any) -> str:
    return http_url(_text()(value))


def _number(kind: type[int] | type[float], low: float, high: float) -> Check:
    def check(value: Any) -> int | float:
        if isinstance(value, bool):
            raise BadValueError("expected a number")
        try:
            number = kind(value)
        except (TypeError, ValueError):
            raise BadValueError(f"expected {'an integer' if kind is int else 'a number'}") from None
        except OverflowError:
            # TOML's `inf` as an integer, or an integer too large for a float.
            raise BadValueError(f"must be between {low:g} and {high:g}") from None
        if kind is int and isinstance(value, float) and not value.is_integer():
            raise BadValueError("expected an integer")
        if not low <= number <= high:
            raise BadValueError(f"must be between {low:g} and {high:g}")
        return number

    return check


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise BadValueError("expected true or false")


def _path(value: Any) -> Path:
    if isinstance(value, Path):
        return value
    return Path(os.path.expanduser(_text()(value)))


def _optional(check: Check) -> Check:
    def optional(value: Any) -> Any:
        return None if value is None or value == "" else check(value)

    return optional


def _tables(value: Any) -> dict[str, dict[str, Any]]:
    """`[mcp_servers.NAME]`: a table of tables; each server's own keys are checked by MCP."""
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, Mapping) for k, v in value.items()
    ):
        raise BadValueError("expected a table of named tables")
    return {k: dict(v) for k, v in value.items()}


FIELD_CHECKS: dict[str, Check] = {
    "base_url": _url,
    "api_key_env": _text(pattern=ENV_NAME.pattern),
    "model": _text(),
    "wire_api": choice(WireApi),
    "history": choice(HistoryMode),
    "model_path": _optional(_path),
    "local_model": _flag,
    "local_context_tokens": _number(int, 512, 131072),
    "approval": choice(ApprovalPolicy),
    "home": _path,
    "instructions": _optional(_text(empty=True)),
    "connect_timeout_s": _number(float, 0.001, 3600),
    "stream_idle_timeout_s": _number(float, 0.001, 86400),
    "max_retries": _number(int, 0, 20),
    "retry_base_delay_s": _number(float, 0, 600),
    "retry_max_delay_s": _number(float, 0, 3600),
    "shell_timeout_s": _number(float, 0.001, 86400),
    "kill_grace_s": _number(float, 0, 60),
    "extra_headers": string_table("header names"),
    "sandbox": choice(SandboxMode),
    "sandbox_network": _flag,
    "checkpoints": _flag,
    "checkpoint_max_file_mb": _number(float, 0.001, 100_000),
    "context_window": _optional(_number(int, 256, 100_000_000)),
    "auto_compact_percent": _number(int, 0, 100),
    "mcp_servers": _tables,
}

# Keys that are not settings but are understood where they appear: the profile choice,
# the profiles themselves, and what editors put in `initializationOptions` or their section.
STRUCTURE_KEYS = {"provider", "providers"}
# read by the front end itself, not settings: the LSP client's feature flags and the network
# transports' token (`initializationOptions.authToken`)
CLIENT_KEYS = {"approvals", "server", "trace", "client", "steer_mode", "panel", "auth_token"}


class Scope(StrEnum):
    """Who may set a key: see "Trust boundary" in docs/security.md."""

    USER = "user"
    """Only the user: the command line, the environment, `initializationOptions` (built
    from the user's and the machine's editor settings), `$AGENTLS_HOME/config.toml`."""
    WORKSPACE = "workspace"
    """The workspace as well: its editor settings, as `workspace/configuration` answers."""


_KEY = "where requests carrying the API key go"
_RUNS = "what runs without asking"
_STARTS = "which programs start"

# Every key anyone may write, who may write it, and why. A workspace is a repository the
# user opened, often someone else's: whatever it may set must be harmless to the user even
# when written by an attacker. So the user alone decides where the API key goes, what runs
# unasked, which programs start, and what guards their machine; the workspace may choose the
# model among the user's own providers and how the conversation is presented. A key missing
# here is treated as user-only (tests/agentls/config checks that every setting is listed).
KEY_SCOPES: dict[str, tuple[Scope, str]] = {
    # where the key and the conversation go
    "base_url": (Scope.USER, f"it decides {_KEY}"),
    "provider": (Scope.USER, f"it picks a [providers.*] table, which decides {_KEY}"),
    "providers": (Scope.USER, f"its tables decide {_KEY}"),
    "api_key_env": (Scope.USER, "it decides which secret of the environment is sent"),
    "extra_headers": (Scope.USER, "headers go with every request, to wherever the key goes"),
    "history": (Scope.USER, "it decides whether the provider keeps the conversation"),
    # what runs unasked, and what contains it
    "approval": (Scope.USER, f"it decides {_RUNS}"),
    "sandbox": (Scope.USER, "it decides what commands may touch"),
    "sandbox_network": (Scope.USER, "it decides whether commands reach the network"),
    "shell_timeout_s": (Scope.USER, "it bounds how long a command runs"),
    "kill_grace_s": (Scope.USER, "it bounds how long a stopped command lives on"),
    "rules": (Scope.USER, f"rules decide {_RUNS}"),
    "hooks": (Scope.USER, f"hooks decide {_STARTS} and {_RUNS}"),
    # which programs start, and with what
    "mcp_servers": (Scope.USER, f"it decides {_STARTS}"),
    "server": (Scope.USER, "`server.command` and `server.pythonPath` decide which program runs"),
    "model_path": (Scope.USER, "the embedded model server loads that file"),
    "local_model": (Scope.USER, "it decides whether the embedded model server starts"),
    "local_context_tokens": (Scope.USER, "it sizes the embedded model server's memory"),
    # where state is kept, and the safety net of undo
    "home": (Scope.USER, "it decides where sessions, checkpoints and config.toml are"),
    "checkpoints": (Scope.USER, "turning them off takes away undo"),
    "checkpoint_max_file_mb": (Scope.USER, "it decides which files undo can restore"),
    # the model among the user's providers, and presentation
    "model": (Scope.WORKSPACE, "a model name, sent to the user's own provider"),
    "wire_api": (Scope.WORKSPACE, "the API spoken to the user's own provider"),
    "instructions": (Scope.WORKSPACE, "text for the model, as AGENTS.md in the repository"),
    "context_window": (Scope.WORKSPACE, "when to compact the conversation"),
    "auto_compact_percent": (Scope.WORKSPACE, "when to compact the conversation"),
    "connect_timeout_s": (Scope.WORKSPACE, "patience with the user's own provider"),
    "stream_idle_timeout_s": (Scope.WORKSPACE, "patience with the user's own provider"),
    "max_retries": (Scope.WORKSPACE, "patience with the user's own provider"),
    "retry_base_delay_s": (Scope.WORKSPACE, "patience with the user's own provider"),
    "retry_max_delay_s": (Scope.WORKSPACE, "patience with the user's own provider"),
    "approvals": (Scope.WORKSPACE, "presentation (read from initializationOptions only)"),
    "trace": (Scope.WORKSPACE, "presentation: the client's own log"),
    "client": (Scope.WORKSPACE, "presentation: the client's own settings"),
    "steer_mode": (Scope.WORKSPACE, "presentation: how the client sends steering"),
    "panel": (Scope.WORKSPACE, "presentation: the client's chat panel"),
}

USER_ONLY: frozenset[str] = frozenset(
    {key for key, (scope, _why) in KEY_SCOPES.items() if scope is Scope.USER}
    | (set(FIELD_CHECKS) - set(KEY_SCOPES))
)
"""The keys a workspace may not set: the table's user-only keys, and any setting not in it."""

WORKSPACE_SOURCE = "the workspace's editor settings (workspace/configuration)"

ENV_NAMES: dict[str, str] = {
    "OPENAI_BASE_URL": "base_url",
    "AGENTLS_MODEL": "model",
    "AGENTLS_WIRE_API": "wire_api",
    "AGENTLS_APPROVAL": "approval",
    "AGENTLS_HOME": "home",
    "AGENTLS_HISTORY": "history",
    "AGENTLS_MODEL_PATH": "model_path",
    "AGENTLS_LOCAL_MODEL": "local_model",
    "AGENTLS_SANDBOX": "sandbox",
}


@dataclass
class LoadedSettings:
    settings: Settings
    warnings: list[str] = field(default_factory=list)


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _unknown_key(key: str, source: str, allowed: set[str]) -> str:
    import difflib

    known = sorted({*FIELD_CHECKS, *allowed})
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.7)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"setting '{key}' from {source} is not a setting agentls knows; ignoring it{hint}"


def _apply_layer(
    merged: dict[str, Any],
    layer: Mapping[str, Any],
    source: str,
    warnings: list[str],
    allowed: set[str] = STRUCTURE_KEYS,
) -> None:
    checked = check_table(layer, FIELD_CHECKS, key=_snake, understood=allowed)
    merged.update(checked.values)
    for problem in checked.problems:
        if isinstance(problem, UnknownKey):
            warnings.append(_unknown_key(problem.key, source, allowed))
        else:
            warnings.append(
                f"setting '{problem.key}' from {source}: {problem.value!r} is not valid "
                f"({problem.reason}); keeping the previous value"
            )


_SQUASHED: dict[str, str] = {re.sub(r"[^a-z0-9]", "", key): key for key in KEY_SCOPES}


def _key_named(written: str) -> str:
    """The key that `written` names, however it is spelled: camelCase, SHOUTING, kebab-case,
    with the `agentls.` section in front, or dotted into a table (`server.command`,
    `providers.local.base_url`), so that no spelling slips a user-only key past the check."""
    name = written.strip()
    if name.lower().startswith("agentls."):
        name = name[len("agentls.") :]
    snake = _snake(name.split(".", 1)[0].strip())
    if snake in KEY_SCOPES or snake in FIELD_CHECKS:
        return snake  # exactly as the checks read it
    return _SQUASHED.get(re.sub(r"[^a-z0-9]", "", snake), snake)


def _workspace_layer(layer: Mapping[str, Any], warnings: list[str]) -> dict[str, Any]:
    """The workspace's settings without the keys only the user may set, each named in a
    warning. What remains is checked like any layer (unknown keys are reported there)."""
    kept: dict[str, Any] = {}
    for written, value in layer.items():
        key = _key_named(str(written))
        if key not in USER_ONLY:
            kept[written] = value
            continue
        why = KEY_SCOPES.get(key, (Scope.USER, "it is not known to be harmless"))[1]
        spelled = f"'{written}'" if str(written) == key else f"'{written}' ({key})"
        warnings.append(
            f"setting {spelled} from {WORKSPACE_SOURCE} was ignored: it came from the "
            f"workspace, and only your own settings may set it (user or machine editor "
            f"settings, the environment, $AGENTLS_HOME/config.toml) because {why}"
        )
    return kept


def _config_file_layer(home: Path, warnings: list[str]) -> dict[str, Any]:
    path = home / "config.toml"
    if not path.is_file():
        return {}
    import tomllib

    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        warnings.append(f"config file {path} could not be read ({exc}); ignoring it")
        return {}
    section = data.get("agentls", data)
    return section if isinstance(section, dict) else {}


def _provider_layer(
    config: dict[str, Any], chosen: Any, source: str, warnings: list[str]
) -> dict[str, Any]:
    """`[providers.NAME]` tables of the config file, selected with `provider = "NAME"`."""
    providers = config.get("providers")
    if not chosen:
        for name, table in (providers or {}).items() if isinstance(providers, dict) else ():
            if isinstance(table, dict) and "provider" in table:
                warnings.append(
                    f"'provider' is inside [providers.{name}] in the config file, so no "
                    "profile is chosen: TOML puts every key written after a [table] header "
                    "into that table; move the 'provider' line above the first table"
                )
        return {}
    profile = providers.get(str(chosen)) if isinstance(providers, dict) else None
    if not isinstance(profile, dict):
        known = ", ".join(sorted(providers)) if isinstance(providers, dict) else "none"
        warnings.append(
            f"setting 'provider' from {source}: no [providers.{chosen}] table in the config "
            f"file (known: {known}); using the other settings"
        )
        return {}
    if "provider" in profile:
        warnings.append(
            f"'provider' inside [providers.{chosen}] in the config file has no effect: TOML "
            "puts every key written after a [table] header into that table; move the "
            "'provider' line above the first table"
        )
        profile = {k: v for k, v in profile.items() if k != "provider"}
    return profile


def load_settings(
    *,
    env: Mapping[str, str] | None = None,
    workspace_config: Mapping[str, Any] | None = None,
    init_options: Mapping[str, Any] | None = None,
) -> LoadedSettings:
    """Merge, lowest first: defaults, config file, environment, workspace config, init options.

    `init_options` are the user's (the command line, the user's editor settings);
    `workspace_config` is the opened folder's, and loses every key in `USER_ONLY` with a
    warning before anything reads it: it cannot choose the home (and so the config file),
    nor a provider profile, nor any setting that decides where the key goes or what runs.
    """
    env = os.environ if env is None else env
    warnings: list[str] = []
    merged: dict[str, Any] = {}
    workspace = _workspace_layer(workspace_config or {}, warnings)
    user = init_options or {}
    env_layer = {key: env[name] for name, key in ENV_NAMES.items() if env.get(name)}
    home_hint: Any = env_layer.get("home")
    for raw_key, value in user.items():
        if _snake(str(raw_key)) == "home" and isinstance(value, str) and value:
            home_hint = value
    home = _path(home_hint) if home_hint else default_home()
    config = _config_file_layer(home, warnings)
    layers: list[tuple[Mapping[str, Any], str]] = [
        (config, "the config file"),
        ({"provider": env["AGENTLS_PROVIDER"]} if env.get("AGENTLS_PROVIDER") else {}, "env"),
        (user, "initializationOptions"),
    ]
    chosen, chosen_from = None, ""
    for layer, source in layers:
        if layer.get("provider"):
            chosen, chosen_from = layer["provider"], source
    _apply_layer(merged, config, "the config file", warnings)
    _apply_layer(
        merged,
        _provider_layer(config, chosen, chosen_from, warnings),
        f"[providers.{chosen}] in the config file",
        warnings,
        set(),
    )
    _apply_layer(merged, env_layer, "the environment", warnings)
    client_allowed = STRUCTURE_KEYS | CLIENT_KEYS
    _apply_layer(merged, workspace, WORKSPACE_SOURCE, warnings, client_allowed)
    _apply_layer(merged, user, "initializationOptions", warnings, client_allowed)
    return LoadedSettings(Settings(**merged), warnings)

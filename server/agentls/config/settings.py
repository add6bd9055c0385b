"""Settings: one typed record merged from every source the protocol names.

A bad value in one source must never stop the server: it is reported in words that name the
setting and the source, and the value from the next lower source (or the default) is used.
The record is a plain dataclass with small field checks: settings are read while
`initialize` waits, and a validation library would cost more to import than all of this.
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
CLIENT_KEYS = {"approvals", "server", "trace", "client", "steer_mode", "panel"}

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
    """Merge, lowest first: defaults, config file, environment, workspace config, init options."""
    env = os.environ if env is None else env
    warnings: list[str] = []
    merged: dict[str, Any] = {}
    env_layer = {key: env[name] for name, key in ENV_NAMES.items() if env.get(name)}
    home_hint: Any = env_layer.get("home")
    for layer in (workspace_config or {}, init_options or {}):
        for raw_key, value in layer.items():
            if _snake(str(raw_key)) == "home" and isinstance(value, str) and value:
                home_hint = value
    home = _path(home_hint) if home_hint else default_home()
    config = _config_file_layer(home, warnings)
    layers: list[tuple[Mapping[str, Any], str]] = [
        (config, "the config file"),
        ({"provider": env["AGENTLS_PROVIDER"]} if env.get("AGENTLS_PROVIDER") else {}, "env"),
        (workspace_config or {}, "workspace/configuration"),
        (init_options or {}, "initializationOptions"),
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
    _apply_layer(
        merged, workspace_config or {}, "workspace/configuration", warnings, client_allowed
    )
    _apply_layer(merged, init_options or {}, "initializationOptions", warnings, client_allowed)
    return LoadedSettings(Settings(**merged), warnings)

"""Settings: one typed record merged from every source the protocol names.

A bad value in one source must never stop the server: it is reported in words that name the
setting and the source, and the value from the next lower source (or the default) is used.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

DEFAULT_BASE_URL = "https://api.openai.com/v1"


class ApprovalPolicy(StrEnum):
    ALWAYS_ASK = "always-ask"
    ASK_UNSAFE = "ask-unsafe"
    NEVER_ASK = "never-ask"


class WireApi(StrEnum):
    RESPONSES = "responses"
    CHAT = "chat"


class HistoryMode(StrEnum):
    """`stateless`: full history each turn, `store: false`. `server`: `previous_response_id`."""

    STATELESS = "stateless"
    SERVER = "server"


PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]


class Settings(BaseModel):
    """Everything the server can be told; API keys are read from the environment only."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    base_url: str = DEFAULT_BASE_URL
    api_key_env: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] = "OPENAI_API_KEY"
    model: Annotated[str, Field(min_length=1)] = "gpt-5-mini"
    wire_api: WireApi = WireApi.RESPONSES
    history: HistoryMode = HistoryMode.STATELESS
    model_path: Path | None = None
    local_model: bool = True
    local_context_tokens: Annotated[int, Field(ge=512, le=131072)] = 8192
    approval: ApprovalPolicy = ApprovalPolicy.ASK_UNSAFE
    home: Path = Field(default_factory=lambda: Path(platformdirs.user_state_dir("agentls")))
    instructions: str | None = None
    connect_timeout_s: PositiveFloat = 10.0
    stream_idle_timeout_s: PositiveFloat = 120.0
    max_retries: Annotated[int, Field(ge=0, le=20)] = 4
    retry_base_delay_s: NonNegativeFloat = 0.5
    retry_max_delay_s: NonNegativeFloat = 30.0
    shell_timeout_s: PositiveFloat = 300.0
    kill_grace_s: NonNegativeFloat = 0.5
    extra_headers: dict[str, str] = Field(default_factory=dict)

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


ENV_NAMES: dict[str, str] = {
    "OPENAI_BASE_URL": "base_url",
    "AGENTLS_MODEL": "model",
    "AGENTLS_WIRE_API": "wire_api",
    "AGENTLS_APPROVAL": "approval",
    "AGENTLS_HOME": "home",
    "AGENTLS_HISTORY": "history",
    "AGENTLS_MODEL_PATH": "model_path",
    "AGENTLS_LOCAL_MODEL": "local_model",
}


@dataclass
class LoadedSettings:
    settings: Settings
    warnings: list[str] = field(default_factory=list)


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _field_adapter(annotation: Any, metadata: list[Any]) -> TypeAdapter[Any]:
    if metadata:
        return TypeAdapter(Annotated[(annotation, *metadata)])
    return TypeAdapter(annotation)


_FIELD_ADAPTERS: dict[str, TypeAdapter[Any]] = {
    name: _field_adapter(info.annotation, info.metadata)
    for name, info in Settings.model_fields.items()
}


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    return str(first.get("msg", "invalid value"))


def _apply_layer(
    merged: dict[str, Any], layer: Mapping[str, Any], source: str, warnings: list[str]
) -> None:
    for raw_key, value in layer.items():
        key = _snake(str(raw_key))
        adapter = _FIELD_ADAPTERS.get(key)
        if adapter is None:
            continue
        try:
            merged[key] = adapter.validate_python(value)
        except ValidationError as exc:
            warnings.append(
                f"setting '{key}' from {source}: {value!r} is not valid ({_describe(exc)}); "
                "keeping the previous value"
            )


def _config_file_layer(home: Path, warnings: list[str]) -> dict[str, Any]:
    path = home / "config.toml"
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        warnings.append(f"config file {path} could not be read ({exc}); ignoring it")
        return {}
    section = data.get("agentls", data)
    return section if isinstance(section, dict) else {}


def _provider_layer(
    config: dict[str, Any], chosen: Any, source: str, warnings: list[str]
) -> dict[str, Any]:
    """`[providers.NAME]` tables of the config file, selected with `provider = "NAME"`."""
    if not chosen:
        return {}
    providers = config.get("providers")
    profile = providers.get(str(chosen)) if isinstance(providers, dict) else None
    if not isinstance(profile, dict):
        known = ", ".join(sorted(providers)) if isinstance(providers, dict) else "none"
        warnings.append(
            f"setting 'provider' from {source}: no [providers.{chosen}] table in the config "
            f"file (known: {known}); using the other settings"
        )
        return {}
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
    home_hint = env_layer.get("home")
    for layer in (init_options or {}, workspace_config or {}):
        for raw_key, value in layer.items():
            if _snake(str(raw_key)) == "home" and isinstance(value, str):
                home_hint = value
    home = (
        Path(home_hint)
        if home_hint
        else Settings.model_fields["home"].get_default(call_default_factory=True)
    )
    config = _config_file_layer(Path(home), warnings)
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
    )
    _apply_layer(merged, env_layer, "the environment", warnings)
    _apply_layer(merged, workspace_config or {}, "workspace/configuration", warnings)
    _apply_layer(merged, init_options or {}, "initializationOptions", warnings)
    return LoadedSettings(Settings(**merged), warnings)

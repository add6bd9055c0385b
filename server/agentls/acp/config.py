"""The session's config options (model, approval policy) and its slash commands.

ACP clients draw selectors from `configOptions` (category `model` and `mode`) and send the
choice back with `session/set_config_option`; older clients only know session modes, so
the approval policy is offered as modes too (`session/set_mode`). Slash commands are
advertised with `available_commands_update` and come back as the prompt's text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from acp.schema import (
    AvailableCommand,
    AvailableCommandInput,
    AvailableCommandsUpdate,
    ConfigOptionUpdate,
    SessionConfigOptionSelect,
    SessionConfigSelectOption,
    SessionMode,
    SessionModeState,
    UnstructuredCommandInput,
)

from agentls.acp.core import ModelChoice, SessionSettings
from agentls.config.settings import ApprovalPolicy

__all__ = [
    "APPROVAL_OPTION",
    "MODEL_OPTION",
    "ConfigChange",
    "ConfigError",
    "available_commands",
    "config_options",
    "config_update",
    "read_approval",
    "read_config_value",
    "session_modes",
]

MODEL_OPTION = "model"
APPROVAL_OPTION = "approval"

_APPROVALS: dict[ApprovalPolicy, tuple[str, str]] = {
    ApprovalPolicy.ALWAYS_ASK: ("Always ask", "Ask before every command and every edit"),
    ApprovalPolicy.ASK_UNSAFE: (
        "Ask for changes",
        "Commands that only read run unasked (read-only, offline); edits and other "
        "commands are asked",
    ),
    ApprovalPolicy.NEVER_ASK: (
        "Never ask",
        "Commands and edits run without asking (in the sandbox); edits outside the "
        "workspace are still asked",
    ),
}

_COMMANDS: tuple[tuple[str, str, str | None], ...] = (
    ("compact", "Summarize the conversation to free context", None),
    (
        "undo",
        "Take back the last turn: its file changes and the conversation",
        "files | conversation (default both), force",
    ),
    ("fork", "Go on in a copy of this conversation (a new session)", None),
    ("run", "Run a command yourself in the workspace; the model sees it next turn", "command"),
)


class ConfigError(ValueError):
    """A config option or value this session does not have; the message names it."""


@dataclass(frozen=True)
class ConfigChange:
    option: Literal["model", "approval"]
    value: str


def _model_options(settings: SessionSettings) -> list[SessionConfigSelectOption]:
    models = list(settings.models)
    if all(choice.id != settings.model for choice in models):
        models.insert(0, ModelChoice(settings.model))  # the current one is always a choice
    options = []
    for choice in models:
        details = [d for d in (choice.provider, _window(choice.context_window)) if d]
        options.append(
            SessionConfigSelectOption(
                value=choice.id, name=choice.id, description=", ".join(details) or None
            )
        )
    return options


def _window(tokens: int | None) -> str | None:
    if not tokens:
        return None
    return f"{tokens // 1000}k context" if tokens >= 1000 else f"{tokens} tokens of context"


def config_options(settings: SessionSettings) -> list[SessionConfigOptionSelect]:
    """The session's options, model first (the order is the client's display order)."""
    return [
        SessionConfigOptionSelect(
            type="select",
            id=MODEL_OPTION,
            name="Model",
            category="model",
            current_value=settings.model,
            options=_model_options(settings),
        ),
        SessionConfigOptionSelect(
            type="select",
            id=APPROVAL_OPTION,
            name="Approvals",
            description="When agentls asks before running a command or editing a file",
            category="mode",
            current_value=settings.approval.value,
            options=[
                SessionConfigSelectOption(value=policy.value, name=name, description=about)
                for policy, (name, about) in _APPROVALS.items()
            ],
        ),
    ]


def config_update(settings: SessionSettings) -> ConfigOptionUpdate:
    """Tells the client the options changed (the agent changed them, or another client)."""
    return ConfigOptionUpdate(
        session_update="config_option_update", config_options=list(config_options(settings))
    )


def session_modes(settings: SessionSettings) -> SessionModeState:
    """The approval policies as session modes, for clients without config options."""
    return SessionModeState(
        current_mode_id=settings.approval.value,
        available_modes=[
            SessionMode(id=policy.value, name=name, description=about)
            for policy, (name, about) in _APPROVALS.items()
        ],
    )


def read_config_value(config_id: str, value: str | bool, settings: SessionSettings) -> ConfigChange:
    """The change `session/set_config_option` asks for, checked against the choices."""
    if config_id == MODEL_OPTION:
        known = {choice.id for choice in settings.models} | {settings.model}
        if not isinstance(value, str) or value not in known:
            choices = ", ".join(sorted(known))
            raise ConfigError(f"unknown model {value!r}; the choices are {choices}")
        return ConfigChange("model", value)
    if config_id == APPROVAL_OPTION:
        return ConfigChange("approval", read_approval(value).value)
    raise ConfigError(f"unknown config option {config_id!r}; the options are model, approval")


def read_approval(value: str | bool) -> ApprovalPolicy:
    """An approval policy from a config value or a mode id."""
    if isinstance(value, str) and value in {policy.value for policy in ApprovalPolicy}:
        return ApprovalPolicy(value)
    choices = ", ".join(policy.value for policy in ApprovalPolicy)
    raise ConfigError(f"unknown approval policy {value!r}; use one of {choices}")


def available_commands(names: Sequence[str] | None = None) -> AvailableCommandsUpdate:
    """The slash commands (all of agentls's, or those named)."""
    commands = [
        AvailableCommand(
            name=name,
            description=about,
            input=AvailableCommandInput(UnstructuredCommandInput(hint=hint)) if hint else None,
        )
        for name, about, hint in _COMMANDS
        if names is None or name in names
    ]
    return AvailableCommandsUpdate(
        session_update="available_commands_update", available_commands=commands
    )

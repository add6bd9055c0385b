"""Config options (model, approvals), session modes, and the advertised slash commands."""

from __future__ import annotations

import pytest

from agentls.acp.config import (
    ConfigChange,
    ConfigError,
    available_commands,
    config_options,
    config_update,
    read_config_value,
    session_modes,
)
from agentls.acp.core import ModelChoice, SessionSettings
from agentls.config.settings import ApprovalPolicy

SETTINGS = SessionSettings(
    model="gpt-5",
    approval=ApprovalPolicy.ASK_UNSAFE,
    models=[ModelChoice("gpt-5", "openai", 272_000), ModelChoice("qwen3", "local", 32_768)],
)


def test_model_and_approval_options() -> None:
    model, approval = (
        o.model_dump(mode="json", by_alias=True, exclude_none=True)
        for o in config_options(SETTINGS)
    )
    assert model == {
        "type": "select",
        "id": "model",
        "name": "Model",
        "category": "model",
        "currentValue": "gpt-5",
        "options": [
            {"value": "gpt-5", "name": "gpt-5", "description": "openai, 272k context"},
            {"value": "qwen3", "name": "qwen3", "description": "local, 32k context"},
        ],
    }
    assert approval["category"] == "mode"
    assert approval["currentValue"] == "ask-unsafe"
    assert [o["value"] for o in approval["options"]] == ["always-ask", "ask-unsafe", "never-ask"]


def test_the_current_model_is_a_choice_even_when_unlisted() -> None:
    settings = SessionSettings(model="my-finetune", approval=ApprovalPolicy.NEVER_ASK)
    (model, approval) = config_options(settings)
    assert [o.value for o in model.options] == ["my-finetune"]  # type: ignore[union-attr]
    assert approval.current_value == "never-ask"


def test_config_update_and_modes() -> None:
    update = config_update(SETTINGS).model_dump(mode="json", by_alias=True, exclude_none=True)
    assert update["sessionUpdate"] == "config_option_update"
    assert [o["id"] for o in update["configOptions"]] == ["model", "approval"]
    modes = session_modes(SETTINGS)
    assert modes.current_mode_id == "ask-unsafe"
    assert [m.id for m in modes.available_modes] == ["always-ask", "ask-unsafe", "never-ask"]


def test_reading_a_change() -> None:
    assert read_config_value("model", "qwen3", SETTINGS) == ConfigChange("model", "qwen3")
    assert read_config_value("approval", "never-ask", SETTINGS) == ConfigChange(
        "approval", "never-ask"
    )
    with pytest.raises(ConfigError, match="unknown model 'gpt-2'; the choices are gpt-5, qwen3"):
        read_config_value("model", "gpt-2", SETTINGS)
    with pytest.raises(ConfigError, match="unknown approval policy 'yolo'"):
        read_config_value("approval", "yolo", SETTINGS)
    with pytest.raises(ConfigError, match="unknown approval policy True"):
        read_config_value("approval", True, SETTINGS)
    with pytest.raises(ConfigError, match="unknown config option 'speed'"):
        read_config_value("speed", "fast", SETTINGS)


def test_available_commands() -> None:
    update = available_commands().model_dump(mode="json", by_alias=True, exclude_none=True)
    assert update["sessionUpdate"] == "available_commands_update"
    commands = {c["name"]: c for c in update["availableCommands"]}
    assert list(commands) == ["compact", "undo", "fork", "run"]
    assert commands["run"]["input"] == {"hint": "command"}
    assert "input" not in commands["compact"]
    only = available_commands(["compact"]).available_commands
    assert [c.name for c in only] == ["compact"]

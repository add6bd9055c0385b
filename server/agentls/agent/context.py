"""The services a session works with, gathered so the core never reaches for globals."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from agentls import __version__
from agentls.agent.approvals import Approver, deny_all
from agentls.config.settings import Settings
from agentls.providers.factory import ModelStream
from agentls.tools.reaper import Reaper

SECRET_ENV_NAMES = ("OPENAI_API_KEY",)


@dataclass
class AgentContext:
    settings: Settings
    workspace: Path
    model_stream: ModelStream
    approver: Approver = deny_all
    env: Mapping[str, str] = field(default_factory=dict)
    reaper: Reaper = field(default_factory=Reaper)
    version: str = __version__

    def _secret_names(self) -> set[str]:
        return {self.settings.api_key_env, *SECRET_ENV_NAMES}

    def secrets(self) -> list[str]:
        """Values that must never reach a rollout, whatever prints them."""
        return [v for n in self._secret_names() if (v := self.env.get(n))]

    def tool_env(self) -> dict[str, str]:
        """Tools inherit the environment minus the model key, plus the reaper's mark."""
        names = self._secret_names()
        base = {k: v for k, v in self.env.items() if k not in names}
        return self.reaper.tool_env(base)

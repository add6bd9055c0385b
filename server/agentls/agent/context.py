"""The services a session works with, gathered so the core never reaches for globals."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentls import __version__
from agentls.agent.approvals import Approver, deny_all
from agentls.agent.containment import Containment
from agentls.agent.editor import EditorBuffers, NoEditor
from agentls.config.settings import Settings
from agentls.providers.factory import ModelStream
from agentls.tools.reaper import Reaper

if TYPE_CHECKING:
    from agentls.agent.checkpoints import Checkpoints

SECRET_ENV_NAMES = ("OPENAI_API_KEY",)
REDACTED = "[redacted]"
MIN_SECRET_CHARS = 8  # shorter values would redact ordinary words


@dataclass
class AgentContext:
    settings: Settings
    workspace: Path
    model_stream: ModelStream
    approver: Approver = deny_all
    env: Mapping[str, str] = field(default_factory=dict)
    reaper: Reaper = field(default_factory=Reaper)
    version: str = __version__
    editor: EditorBuffers = field(default_factory=NoEditor)
    provider_info: Mapping[str, Any] = field(default_factory=dict)
    checkpoints: Checkpoints | None = None
    _containment: Containment | None = None
    _secrets: tuple[str, list[str]] | None = None

    @property
    def containment(self) -> Containment:
        if self._containment is None or self._containment.settings is not self.settings:
            self._containment = Containment(self.settings, self.workspace)
        return self._containment

    def _secret_names(self) -> set[str]:
        return {self.settings.api_key_env, *SECRET_ENV_NAMES}

    def secrets(self) -> list[str]:
        """Values that must never reach a rollout, the editor or the model.

        Asked for every event a turn sends (tens of thousands a second), so the answer is
        kept until the setting that names the key's variable changes.
        """
        key = self.settings.api_key_env
        if self._secrets is None or self._secrets[0] != key:
            found = [
                v for n in self._secret_names() if len(v := self.env.get(n, "")) >= MIN_SECRET_CHARS
            ]
            self._secrets = (key, found)
        return self._secrets[1]

    def redact(self, text: str) -> str:
        for secret in self.secrets():
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def redact_fields(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Event fields with every secret replaced, however deep it sits (copied only when
        a secret is there: most events carry none)."""
        secrets = self.secrets()
        if not secrets or not _holds_secret(fields, secrets):
            return fields
        return {key: _redact_value(value, self.redact) for key, value in fields.items()}

    def tool_env(self, *, read_only: bool = False) -> dict[str, str]:
        """Tools inherit the environment minus the model key, plus the reaper's mark.

        Commands that run unasked also get git's executable settings switched off.
        """
        names = self._secret_names()
        base = {k: v for k, v in self.env.items() if k not in names}
        if read_only:
            from agentls.tools.safety import git_safe_env

            base.update(git_safe_env())
        return self.reaper.tool_env(base)


def _holds_secret(value: Any, secrets: list[str]) -> bool:
    if isinstance(value, str):
        return any(secret in value for secret in secrets)
    if isinstance(value, dict):
        return any(_holds_secret(v, secrets) for v in value.values())
    if isinstance(value, list):
        return any(_holds_secret(v, secrets) for v in value)
    return False


def _redact_value(value: Any, redact: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_value(v, redact) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_value(v, redact) for v in value]
    return value

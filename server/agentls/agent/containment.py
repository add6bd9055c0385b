"""Which sandbox a command runs in, and what to do when there is none.

The policy (docs/security.md): commands that run unasked because they read only run
read-only and offline; approved commands, and every command under `never-ask`, may write
the workspace and the temp folder; network as `sandbox_network` says. When bubblewrap
cannot start, every command that is not strictly read-only is asked instead, and the
editor is told once why.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentls.config.settings import SandboxMode, Settings

logger = logging.getLogger(__name__)


@dataclass
class Containment:
    settings: Settings
    workspace: Path
    _status: Any = None

    def status(self) -> Any:
        """The sandbox probe's answer (cached by the sandbox module, so cheap)."""
        if self._status is None:
            from agentls.tools.sandbox import sandbox_status

            self._status = sandbox_status()
        return self._status

    @property
    def active(self) -> bool:
        return self.settings.sandbox is not SandboxMode.OFF and bool(self.status().available)

    def unavailable_reason(self) -> str | None:
        """Why commands run without a sandbox although one was asked for, else None."""
        if self.settings.sandbox is SandboxMode.OFF:
            return None
        status = self.status()
        if status.available:
            return None
        return (
            f"the command sandbox (bubblewrap) cannot start here: {status.reason}. "
            "Every command that is not strictly read-only will be asked before it runs."
        )

    def must_ask(self, argv: list[str], cwd: Path) -> bool:
        """Without the sandbox as a backstop, only strictly read-only commands run unasked."""
        if self.unavailable_reason() is None:
            return False
        from agentls.tools.safety import is_read_only

        return not is_read_only(argv, cwd)

    def run_options(self, *, approved: bool) -> dict[str, Any]:
        """Keyword arguments for `run_command`: the sandbox this command gets."""
        if not self.active:
            return {}
        from agentls.tools.sandbox import command_policy

        return {
            "sandbox": command_policy(
                self.settings.sandbox.value,
                workspace=self.workspace,
                sandbox_network=self.settings.sandbox_network,
                approved=approved,
                state_home=self.settings.home,
            )
        }

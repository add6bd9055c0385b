"""The `shell` tool in a turn: ask when the policy says so, run it contained, stream it."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentls.agent.approvals import needs_approval
from agentls.agent.context import AgentContext
from agentls.agent.tools import DENIED_OUTPUT, CallScope, PreparedCall, Tool, ToolOutcome, decide
from agentls.history.view import describe_call
from agentls.protocol import EventType
from agentls.tools.process import run_command
from agentls.tools.shell import (
    SHELL_TOOL,
    ShellArgs,
    ToolArgumentError,
    format_result_for_model,
    parse_shell_arguments,
    resolve_workdir,
)

logger = logging.getLogger(__name__)


class ShellTool:
    name = "shell"

    def __init__(
        self,
        context: AgentContext,
        approved_commands: set[tuple[str, ...]],
        patch_tool: Tool | None = None,
    ) -> None:
        self.context = context
        self.approved_commands = approved_commands
        self.patch_tool = patch_tool

    def definition(self) -> dict[str, Any]:
        return SHELL_TOOL

    async def prepare(self, arguments: str) -> PreparedCall | ToolOutcome:
        try:
            args = parse_shell_arguments(arguments)
        except ToolArgumentError as exc:
            return ToolOutcome("failed", str(exc))
        if self.patch_tool is not None:
            from agentls.tools.patch import patch_from_shell_command

            # `apply_patch <<'EOF'` through the shell, as the Codex CLI's models write it: the
            # patch tool keeps its diffs, approvals and the editor's unsaved buffers in play
            patch = patch_from_shell_command(args.command)
            if patch is not None:
                return await self.patch_tool.prepare(json.dumps({"input": patch}))
        from agentls.tools.safety import is_read_only

        cwd = resolve_workdir(self.context.workspace, args.workdir)
        read_only = is_read_only(args.command, cwd)
        # `readOnly` lets a front end show what kind of call this is (ACP: read vs execute)
        # without classifying the command a second time
        return ShellCall(
            self,
            args,
            arguments,
            cwd,
            may_change=not read_only,
            started_fields={"readOnly": read_only},
        )


@dataclass
class ShellCall:
    tool: ShellTool
    args: ShellArgs
    arguments: str
    cwd: Path
    may_change: bool = True
    started_fields: dict[str, Any] = field(default_factory=dict)

    async def run(self, scope: CallScope) -> ToolOutcome:
        context = self.tool.context
        settings = context.settings
        args, cwd = self.args, self.cwd
        asked = needs_approval(
            settings.approval, args.command, self.tool.approved_commands, cwd=cwd
        ) or context.containment.must_ask(args.command, cwd)
        if asked:
            decision = await decide(
                scope,
                "shell",
                str(cwd),
                command=args.command,
                reason=describe_call("shell", self.arguments),
            )
            if decision == "deny":
                return ToolOutcome("denied", DENIED_OUTPUT, shown="denied")
            if decision == "approveForSession":
                self.tool.approved_commands.add(tuple(args.command))
        timeout_s = (args.timeout_ms / 1000) if args.timeout_ms else settings.shell_timeout_s
        started = time.monotonic()
        result = await run_command(
            args.command,
            cwd=cwd,
            timeout_s=timeout_s,
            on_output=lambda chunk: scope.emit(EventType.TOOL_OUTPUT_DELTA, delta=chunk),
            env=context.tool_env(read_only=not asked),
            kill_grace_s=settings.kill_grace_s,
            **context.containment.run_options(approved=asked or _never_asks(context)),
        )
        logger.debug("call %s ran %.3f s", scope.call_id, time.monotonic() - started)
        return ToolOutcome(
            "completed" if result.exit_code == 0 else "failed",
            format_result_for_model(result),
            shown=result.output if result.error is None else result.error,
            exit_code=result.exit_code,
        )


def _never_asks(context: AgentContext) -> bool:
    from agentls.config.settings import ApprovalPolicy

    return context.settings.approval is ApprovalPolicy.NEVER_ASK

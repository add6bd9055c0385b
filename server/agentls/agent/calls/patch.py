"""`apply_patch` in a turn: plan, show, ask, then change every file or none.

The plan is made from what the editor shows (unsaved edits included), so the model's
context lines match what the user sees. Files with unsaved edits are changed in the editor
(`workspace/applyEdit`), where the user's undo takes the edit back; the others on disk, all
or nothing. Once writing has begun, a stop waits for it to finish: a patch is never left
half-applied, and the call's output says what happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentls.agent.context import AgentContext
from agentls.agent.tools import CallScope, ToolOutcome, decide
from agentls.config.settings import ApprovalPolicy
from agentls.tools.patch import (
    APPLY_PATCH_TOOL,
    CommitError,
    PatchError,
    PatchPlan,
    commit_plan,
    format_patch_failure,
    invert_plan,
    plan_from_arguments,
    read_disk_text,
)
from agentls.tools.shell import ToolArgumentError

logger = logging.getLogger(__name__)

DENIED_PATCH_OUTPUT = (
    "The user denied this patch. Nothing was changed. Do not apply it again unchanged; "
    "ask or try another way."
)


class PatchTool:
    name = "apply_patch"

    def __init__(self, context: AgentContext, session_approval: set[str]) -> None:
        self.context = context
        self.session_approval = session_approval

    def definition(self) -> dict[str, Any]:
        return APPLY_PATCH_TOOL

    def _read(self, path: Path) -> str | None:
        buffer = self.context.editor.buffer(path)
        return buffer.text if buffer is not None else read_disk_text(path)

    async def read_ahead(self, arguments: str) -> None:
        """Ask the editor for the files the patch names, so the plan sees its buffers."""
        if not self.context.editor.reads_ahead:
            return
        paths: list[Path] = []

        def note(path: Path) -> str | None:
            paths.append(path)
            return read_disk_text(path)

        # a patch that does not apply is reported by `prepare`, on what the editor shows
        with contextlib.suppress(ToolArgumentError, PatchError):
            plan_from_arguments(arguments, self.context.workspace, note)
        if paths:
            await self.context.editor.read_ahead(paths)

    def prepare(self, arguments: str) -> PatchCall | ToolOutcome:
        try:
            plan = plan_from_arguments(arguments, self.context.workspace, self._read)
        except (ToolArgumentError, PatchError) as exc:
            return ToolOutcome("failed", format_patch_failure(exc))
        return PatchCall(self, plan, {"changes": plan.changes_wire()})


@dataclass
class PatchCall:
    tool: PatchTool
    plan: PatchPlan
    started_fields: dict[str, Any] = field(default_factory=dict)
    may_change: bool = True

    def _needs_approval(self) -> bool:
        if self.plan.outside_workspace:
            return True  # whatever the policy
        policy = self.tool.context.settings.approval
        return not (policy is ApprovalPolicy.NEVER_ASK or "patch" in self.tool.session_approval)

    def _unsaved(self) -> tuple[set[Path], str | None]:
        """Files the editor holds with unsaved edits, or why the patch cannot go through."""
        editor = self.tool.context.editor
        unsaved: set[Path] = set()
        for change in self.plan.changes:
            buffer = editor.buffer(change.path)
            if buffer is None or not buffer.unsaved:
                continue
            name = change.display_path
            if change.kind != "update" or change.move_path is not None:
                return unsaved, (
                    f"apply_patch failed: {name} has unsaved changes in the editor; it cannot "
                    "be deleted or moved until they are saved or discarded. Nothing was changed."
                )
            if not editor.can_apply_edits():
                return unsaved, (
                    f"apply_patch failed: {name} has unsaved changes in the editor, and this "
                    "editor cannot take edits from the server (workspace/applyEdit). Ask the "
                    "user to save the file, then try again. Nothing was changed."
                )
            unsaved.add(change.path)
        return unsaved, None

    async def run(self, scope: CallScope) -> ToolOutcome:
        unsaved, refusal = self._unsaved()
        if refusal is not None:
            return ToolOutcome("failed", refusal)
        if self._needs_approval():
            decision = await decide(
                scope,
                "patch",
                str(self.tool.context.workspace),
                patch=self.plan.diff(),
                changes=self.plan.changes_wire(),
                reason=_describe(self.plan),
            )
            if decision == "deny":
                return ToolOutcome("denied", DENIED_PATCH_OUTPUT, shown="denied")
            if decision == "approveForSession" and not self.plan.outside_workspace:
                self.tool.session_approval.add("patch")
        work = asyncio.ensure_future(self._apply(unsaved))
        try:
            return await asyncio.shield(work)
        except asyncio.CancelledError:
            # writing has begun: finish it, report it, then let the stop go on
            outcome = await work
            task = asyncio.current_task()
            if task is not None:
                asyncio.get_running_loop().call_soon(task.cancel)
            return outcome

    async def _apply(self, unsaved: set[Path]) -> ToolOutcome:
        plan = self.plan
        try:
            commit_plan(plan, exclude=unsaved)
        except CommitError as exc:
            return ToolOutcome("failed", f"apply_patch failed: {exc}")
        editor = self.tool.context.editor
        done: list[Any] = []
        for change in plan.changes:
            if change.path not in unsaved:
                continue
            problem = await editor.apply_edit(
                change.path, change.old_text or "", change.new_text or "", "agentls: apply_patch"
            )
            if problem is not None:
                await self._roll_back(unsaved, done)
                return ToolOutcome(
                    "failed",
                    f"apply_patch failed: {change.display_path} is open with unsaved changes "
                    f"and {problem}. Nothing was changed.",
                )
            done.append(change)
        return ToolOutcome(
            "completed",
            plan.summary(unsaved),
            completed_fields={"changes": plan.changes_wire()},
        )

    async def _roll_back(self, unsaved: set[Path], done: list[Any]) -> None:
        """Take back what was written: on disk, and in the buffers already edited."""
        try:
            commit_plan(invert_plan(self.plan), exclude=unsaved, verify=False)
        except CommitError as exc:
            logger.error("could not take back a partly applied patch: %s", exc)
        editor = self.tool.context.editor
        for change in reversed(done):
            problem = await editor.apply_edit(
                change.path, change.new_text or "", change.old_text or "", "agentls: undo patch"
            )
            if problem is not None:
                logger.error("could not take back the edit of %s: %s", change.path, problem)


def _describe(plan: PatchPlan) -> str:
    names = ", ".join(change.display_path for change in plan.changes[:5])
    more = f" and {len(plan.changes) - 5} more" if len(plan.changes) > 5 else ""
    where = " (outside the workspace)" if plan.outside_workspace else ""
    return f"apply a patch to {names}{more}{where}"

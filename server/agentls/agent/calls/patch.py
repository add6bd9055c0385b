"""`apply_patch` in a turn: plan, show, ask, then change every file or none.

The plan is made from what the editor shows (unsaved edits included), so the model's
context lines match what the user sees. Files with unsaved edits are changed in the editor
(`workspace/applyEdit`), where the user's undo takes the edit back; the others on disk, all
or nothing. Once writing has begun, a stop waits for it to finish: a patch is never left
half-applied, and the call's output says what happened.

Planning reads files, which can be slow or hostile (a FIFO, a hung mount), so it runs in a
worker thread with a time bound while the loop serves everything else. Files outside the
workspace are not read before the user says yes: the question shows the patch's own hunks
for them, and the patch is planned for real after approval. A path inside a git directory
is asked every time, whatever was approved for the session (git runs programs its files
name); agentls's own state folder is never written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from agentls.agent.context import AgentContext
from agentls.agent.editor import Buffer
from agentls.agent.tools import CallScope, ToolOutcome, decide
from agentls.config.settings import ApprovalPolicy
from agentls.tools.files import plain_or_missing
from agentls.tools.patch import (
    APPLY_PATCH_TOOL,
    CommitError,
    FileChange,
    Patch,
    PatchError,
    PatchPlan,
    commit_plan,
    format_patch_failure,
    invert_plan,
    parse_apply_patch_arguments,
    parse_patch,
    patch_paths,
    plan_patch,
    read_disk_text,
)
from agentls.tools.shell import ToolArgumentError

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

DENIED_PATCH_OUTPUT = (
    "The user denied this patch. Nothing was changed. Do not apply it again unchanged; "
    "ask or try another way."
)
PLAN_TIMEOUT_S = 30.0


class PatchTool:
    name = "apply_patch"

    def __init__(self, context: AgentContext, session_approval: set[str]) -> None:
        self.context = context
        self.session_approval = session_approval
        self._parsed: tuple[str, Patch] | None = None

    def definition(self) -> dict[str, Any]:
        return APPLY_PATCH_TOOL

    def _parse(self, arguments: str) -> Patch:
        """The patch of these arguments (parsed once for `read_ahead` and `prepare`)."""
        if self._parsed is None or self._parsed[0] != arguments:
            self._parsed = (arguments, parse_patch(parse_apply_patch_arguments(arguments)))
        return self._parsed[1]

    async def read_ahead(self, arguments: str) -> None:
        """Ask the editor for the workspace files the patch names, so the plan sees its
        buffers; files outside are asked for only once the user said yes."""
        if not self.context.editor.reads_ahead:
            return
        try:
            patch = self._parse(arguments)
        except (ToolArgumentError, PatchError):
            return  # reported by `prepare`
        with contextlib.suppress(TimeoutError, OSError):
            paths = await _bounded(_editor_paths, patch, self.context.workspace, inside_only=True)
            if paths:
                await self.context.editor.read_ahead(paths)

    async def prepare(self, arguments: str) -> PatchCall | ToolOutcome:
        try:
            patch = self._parse(arguments)
        except (ToolArgumentError, PatchError) as exc:
            return ToolOutcome("failed", format_patch_failure(exc))
        plan = await self.plan(patch, approved=False)
        if isinstance(plan, ToolOutcome):
            return plan
        return PatchCall(self, patch, plan, {"changes": plan.changes_wire()})

    async def plan(self, patch: Patch, *, approved: bool) -> PatchPlan | ToolOutcome:
        """The plan, made in a worker thread within `PLAN_TIMEOUT_S`; a failure is the
        call's output. Before the user's yes nothing outside the workspace is read.

        The editor's buffers are taken first, here on the loop where they live."""
        context = self.context
        workspace = context.workspace
        try:
            paths = await _bounded(_editor_paths, patch, workspace, inside_only=not approved)
            if approved and context.editor.reads_ahead:
                await context.editor.read_ahead(paths)
            buffers: dict[Path, Buffer | None] = {}
            for path in paths:
                buffers[path] = context.editor.buffer(path)

            def read(path: Path) -> str | None:
                buffer = buffers.get(path)
                return buffer.text if buffer is not None else read_disk_text(path)

            return await _bounded(
                plan_patch,
                patch,
                workspace,
                read,
                defer_outside=not approved,
                protected=(context.settings.home,),
            )
        except PatchError as exc:
            return ToolOutcome("failed", format_patch_failure(exc))
        except TimeoutError:
            return ToolOutcome(
                "failed",
                f"apply_patch failed: reading the files took longer than {PLAN_TIMEOUT_S:g} s "
                "(a file on a hung mount?). Nothing was changed.",
            )
        except (OSError, ValueError) as exc:
            return ToolOutcome("failed", f"apply_patch failed: {exc}\nNothing was changed.")


def _editor_paths(patch: Patch, workspace: Path, *, inside_only: bool) -> list[Path]:
    """The paths to ask the editor about: regular files or none yet (an editor's own reads
    are not guarded, and a kernel file is the guarded reader's to refuse)."""
    return [
        path
        for path in patch_paths(patch, workspace, inside_only=inside_only)
        if plain_or_missing(path)
    ]


async def _bounded(function: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
    """``function`` in a worker thread, given up after `PLAN_TIMEOUT_S` (it has no effects:
    a thread left behind only finishes reading)."""
    return await asyncio.wait_for(asyncio.to_thread(function, *args, **kwargs), PLAN_TIMEOUT_S)


@dataclass
class PatchCall:
    tool: PatchTool
    patch: Patch
    plan: PatchPlan
    started_fields: dict[str, Any] = field(default_factory=dict)
    may_change: bool = True

    def _needs_approval(self) -> bool:
        if self.plan.outside_workspace or self.plan.in_git_dir:
            return True  # whatever the policy and whatever was approved for the session
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
        if not self.plan.deferred:
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
            plan = self.plan
            if decision == "approveForSession" and not (plan.outside_workspace or plan.in_git_dir):
                self.tool.session_approval.add("patch")
        if self.plan.deferred:
            planned = await self._plan_approved()
            if isinstance(planned, ToolOutcome):
                return planned
            self.plan = planned
            unsaved, refusal = self._unsaved()
            if refusal is not None:
                return ToolOutcome("failed", refusal)
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

    async def _plan_approved(self) -> PatchPlan | ToolOutcome:
        """The whole plan, outside files read, once the user said yes to what was shown."""
        planned = await self.tool.plan(self.patch, approved=True)
        if isinstance(planned, ToolOutcome):
            return planned
        if [_targets(c) for c in planned.changes] != [_targets(c) for c in self.plan.changes]:
            return ToolOutcome(
                "failed",
                "apply_patch failed: a link among the patch's paths changed while the user was "
                "asked, so the files are not the ones approved. Nothing was changed.",
            )
        return planned

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


def _targets(change: FileChange) -> tuple[Path, Path | None]:
    return change.real_path, change.real_move_path


def _name(change: FileChange) -> str:
    """The file as the patch names it, and where a link really leads."""
    name = change.display_path
    if change.linked:
        name += f" (a link to {change.real_path})"
    if change.display_move_path is not None:
        name += f" -> {change.display_move_path}"
    return name


def _describe(plan: PatchPlan) -> str:
    """The approval question's reason: the files (their real targets), and why it is asked
    even when patches were approved for the session."""
    names = ", ".join(_name(change) for change in plan.changes[:5])
    more = f" and {len(plan.changes) - 5} more" if len(plan.changes) > 5 else ""
    text = f"apply a patch to {names}{more}"
    if plan.outside_workspace:
        text += " (outside the workspace)"
    if plan.in_git_dir:
        text += (
            "; it changes files inside a git directory, where settings and hooks can make "
            "git run programs"
        )
    if plan.deferred:
        text += (
            "; files outside the workspace are read only after you approve, so their diff "
            "shows the patch's own hunks"
        )
    return text

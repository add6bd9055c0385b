"""``apply_patch``: the Codex CLI's patch language, planned in memory, committed all or nothing.

The steps are separate so the turn loop can stand between them: :func:`parse_patch` (text to
operations), :func:`plan_patch` (every file's new text and diff, nothing written; where
approvals and editor buffers come in), :func:`commit_plan` (the writes), and
:func:`reverse_patch` (a patch that undoes a committed plan).
"""

from agentls.tools.patch.commit import CommitConflictError, CommitError, commit_plan
from agentls.tools.patch.edits import line_edits
from agentls.tools.patch.grammar import Patch, PatchError, parse_patch
from agentls.tools.patch.plan import (
    FileChange,
    HunkMismatchError,
    PatchPlan,
    patch_paths,
    plan_patch,
    read_disk_text,
)
from agentls.tools.patch.reverse import invert_plan, reverse_patch
from agentls.tools.patch.tool import (
    APPLY_PATCH_TOOL,
    format_patch_failure,
    parse_apply_patch_arguments,
    patch_from_shell_command,
    plan_from_arguments,
)

__all__ = [
    "APPLY_PATCH_TOOL",
    "CommitConflictError",
    "CommitError",
    "FileChange",
    "HunkMismatchError",
    "Patch",
    "PatchError",
    "PatchPlan",
    "commit_plan",
    "format_patch_failure",
    "invert_plan",
    "line_edits",
    "parse_apply_patch_arguments",
    "parse_patch",
    "patch_from_shell_command",
    "patch_paths",
    "plan_from_arguments",
    "plan_patch",
    "read_disk_text",
    "reverse_patch",
]

"""Checkpoints: snapshots of a workspace in a shadow git repository, diffs, and undo."""

from agentls.checkpoints.errors import CheckpointError
from agentls.checkpoints.models import (
    FileStat,
    RestoreResult,
    SkippedFile,
    Snapshot,
    WorkspaceDiff,
)
from agentls.checkpoints.repo import ShadowRepo

__all__ = [
    "CheckpointError",
    "FileStat",
    "RestoreResult",
    "ShadowRepo",
    "SkippedFile",
    "Snapshot",
    "WorkspaceDiff",
]

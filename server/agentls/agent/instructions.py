"""Project instructions from ``AGENTS.md`` files, found the way the Codex CLI finds them.

Users already keep these files for the Codex CLI and other agents; reading them by the same
rules means a project behaves the same whichever agent opens it: every folder from the
repository root (the nearest ancestor holding ``.git``, else the workspace alone) down to the
workspace contributes at most one file, ``AGENTS.override.md`` before ``AGENTS.md``, root first,
within a byte budget.

The files come with the repository, so whoever wrote the repository chose them: a file that is
a link out of the repository (to ``/proc/self/environ``, to ``~/.ssh``) is not read, and
reading goes through the guarded reader (regular files only, never more than the budget).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from agentls.tools.files import UnreadableFileError, read_file, within

__all__ = [
    "DEFAULT_MAX_BYTES",
    "FILE_NAMES",
    "PROJECT_DOC_SEPARATOR",
    "ProjectInstructions",
    "compose_instructions",
    "find_instruction_files",
    "load_project_instructions",
]

DEFAULT_MAX_BYTES = 32 * 1024
FILE_NAMES = ("AGENTS.override.md", "AGENTS.md")
# The Codex CLI's separator between configured instructions and the project's files.
PROJECT_DOC_SEPARATOR = "\n\n--- project-doc ---\n\n"

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ProjectInstructions:
    text: str = ""
    files: list[Path] = field(default_factory=list)
    truncated: bool = False


def _repository_root(folder: Path) -> Path | None:
    for candidate in (folder, *folder.parents):
        if os.path.lexists(candidate / ".git"):
            return candidate
    return None


def _folders(workspace: Path) -> tuple[list[Path], Path]:
    """The folders that may hold instruction files, root first, and the root itself."""
    folder = Path(os.path.realpath(workspace))
    root = _repository_root(folder)
    if root is None:
        return [folder], folder
    folders = [folder, *folder.parents]
    folders = folders[: folders.index(root) + 1]
    folders.reverse()
    return folders, root


def _stays_inside(candidate: Path, root: Path) -> bool:
    """A file (links followed) that is in the repository: links out of it do not count."""
    real = os.path.realpath(candidate)
    return within(real, root) and os.path.isfile(real)


def find_instruction_files(workspace: Path) -> list[Path]:
    """The instruction files that apply to ``workspace``, root first."""
    folders, root = _folders(workspace)
    found: list[Path] = []
    for directory in folders:
        for name in FILE_NAMES:
            candidate = directory / name
            if _stays_inside(candidate, root):
                found.append(candidate)
                break
    return found


def load_project_instructions(
    workspace: Path, max_bytes: int = DEFAULT_MAX_BYTES
) -> ProjectInstructions:
    """The files' texts joined by blank lines, cut at ``max_bytes`` with a visible mark.

    Empty files and unreadable ones are skipped, as the Codex CLI skips them; a file is
    decoded leniently (a stray byte must not lose the whole file).
    """
    _, root = _folders(workspace)
    remaining = max_bytes
    parts: list[str] = []
    files: list[Path] = []
    truncated = False
    for path in find_instruction_files(workspace):
        if remaining <= 0:
            truncated = True
            break
        try:
            read = read_file(path, limit=remaining, inside=root)
        except UnreadableFileError as error:
            logger.info("instruction file not read: %s", error)
            continue
        data = read.data
        if read.truncated:
            truncated = True
        text = data.decode("utf-8", errors="replace" if not truncated else "ignore")
        if not text.strip():
            continue
        parts.append(text)
        files.append(path)
        remaining -= len(data)
    text = "\n\n".join(parts)
    if truncated:
        text += (
            f"\n\n[truncated: the AGENTS.md files exceed {max_bytes // 1024} KiB; "
            "the rest was not loaded]"
        )
    return ProjectInstructions(text, files, truncated)


def compose_instructions(base: str | None, project: ProjectInstructions) -> str | None:
    """The model's instructions: the configured ones, then the project's (Codex's layout)."""
    if not project.text:
        return base or None
    if not base:
        return project.text
    return base + PROJECT_DOC_SEPARATOR + project.text

"""Which patch targets are never the model's to change unasked, and which never at all.

Git runs programs its own files name: ``core.fsmonitor`` in ``.git/config``, hooks, filters,
the pager. A patch that writes there turns the next ``git status`` (which agentls may run
unasked, and which the user runs all the time) into running the model's program. So a path
inside any git directory is asked about every time, whatever was approved for the session:
a ``.git`` folder or file at any depth (``pkg/.git/config``, a submodule's), the real target
when links lead there, and any folder shaped like a git directory (``HEAD`` and ``objects``
with ``refs``, or ``commondir``), which is what a ``.git`` file (``gitdir: ...``) points at
wherever it lives. A patch that creates a file named ``HEAD`` may be building one: asked too.

agentls's own state folder (``$AGENTLS_HOME``: sessions, settings, the server token) is never
written by a patch: a session file rewritten by the model could rewrite what the model is
told it said.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from agentls.tools.files import within

__all__ = ["GIT_DIR_NAME", "GitDirs", "ProtectedFolders"]

GIT_DIR_NAME = ".git"


class GitDirs:
    """Whether paths lie in a git directory; each folder is looked at once per plan."""

    def __init__(self) -> None:
        self._looks: dict[str, bool] = {}
        self._below: dict[str, bool] = {}

    def contains(self, path: Path, real: Path) -> bool:
        """``path`` as the patch names it, ``real`` with links followed."""
        named, resolved = str(path), str(real)
        if _has_git_part(named) or _has_git_part(resolved) or real.name == "HEAD":
            return True
        return self._in_git_dir(os.path.dirname(resolved))

    def _in_git_dir(self, folder: str) -> bool:
        """Whether ``folder`` or one above it is shaped like a git directory."""
        below = self._below.get(folder)
        if below is None:
            parent = os.path.dirname(folder)
            below = self._is_git_dir(folder) or (parent != folder and self._in_git_dir(parent))
            self._below[folder] = below
        return below

    def _is_git_dir(self, folder: str) -> bool:
        looks = self._looks.get(folder)
        if looks is None:
            join = os.path.join
            looks = os.path.isfile(join(folder, "HEAD")) and (
                os.path.isfile(join(folder, "commondir"))
                or (os.path.isdir(join(folder, "objects")) and os.path.isdir(join(folder, "refs")))
            )
            self._looks[folder] = looks
        return looks


def _has_git_part(path: str) -> bool:
    return f"{os.sep}{GIT_DIR_NAME}{os.sep}" in path or path.endswith(os.sep + GIT_DIR_NAME)


class ProtectedFolders:
    """Folders no patch may touch, by the path as named and by its real location."""

    def __init__(self, folders: Iterable[Path]) -> None:
        self.folders: list[tuple[Path, set[str]]] = []
        for folder in folders:
            absolute = os.path.abspath(folder)
            self.folders.append((Path(absolute), {absolute, os.path.realpath(absolute)}))

    def holding(self, path: Path, real: Path) -> Path | None:
        """The protected folder ``path`` lies in (as named or once resolved), else None."""
        for shown, forms in self.folders:
            for form in forms:
                if within(str(path), form) or within(str(real), form):
                    return shown
        return None

"""Whether the repository ``git`` will use has config that makes a reading command run one.

A read-only subcommand is not enough: the repository's own config can make ``git status``
run a program (``core.fsmonitor``), ``git diff`` run one per file (``diff.external``,
``diff.<driver>.textconv``), and so on, and that config comes with whatever repository
the user opened. So ``git`` is read-only only when the repositories it may use have none
of those settings in their local config (read by ``git config --file``, which parses the
file and runs nothing). :func:`~.git_env.git_safe_env` is the second line, for a setting
this check failed to see.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from agentls.tools.safety.git_env import git_safe_env

__all__ = ["repository_config_safe"]

_T = TypeVar("_T")

# Whole sections whose settings name programs (or pull in other files).
_DANGEROUS_SECTIONS = frozenset(
    {
        "alias",
        "pager",
        "filter",
        "include",
        "includeif",
        "credential",
        "gpg",
        "difftool",
        "mergetool",
        "browser",
        "man",
        "sendemail",
        "sequence",
        "interactive",
        "guitool",
    }
)
# `section.name` (no subsection) and `section.*.name` settings that do.
_DANGEROUS_KEYS = frozenset(
    {
        "core.fsmonitor",
        "core.pager",
        "core.sshcommand",
        "core.editor",
        "core.hookspath",
        "core.askpass",
        "core.gitproxy",
        "core.worktree",
        "core.alternaterefscommand",
        "diff.external",
        "uploadpack.packobjectshook",
        "log.showsignature",
        "extensions.partialclone",
        "ssh.variant",
    }
)
_DANGEROUS_SUBSECTION_KEYS = frozenset(
    {
        "diff.textconv",
        "diff.command",
        "merge.driver",
        "remote.uploadpack",
        "remote.receivepack",
        "remote.promisor",
        "remote.vcs",
    }
)


def _dangerous(key: str) -> bool:
    section, _, rest = key.partition(".")
    section = section.lower()
    name = rest.rsplit(".", 1)[-1].lower()
    has_subsection = "." in rest
    if section in _DANGEROUS_SECTIONS:
        return True
    if has_subsection:
        return f"{section}.{name}" in _DANGEROUS_SUBSECTION_KEYS
    return f"{section}.{name}" in _DANGEROUS_KEYS


@dataclass(frozen=True)
class _Repository:
    work_tree: Path | None
    git_dir: Path
    common_dir: Path


def _repository_at(folder: Path) -> _Repository | None:
    """The repository whose ``.git`` (or git dir itself) is ``folder``; ``OSError`` when a
    ``.git`` file cannot be followed."""
    dotgit = folder / ".git"
    work_tree: Path | None = folder
    if dotgit.is_dir():
        git_dir = dotgit
    elif dotgit.is_file():
        content = dotgit.read_text(encoding="utf-8", errors="replace").strip()
        if not content.startswith("gitdir:"):
            raise OSError(f"not a gitdir file: {dotgit}")
        git_dir = folder / content.removeprefix("gitdir:").strip()
    elif (folder / "HEAD").is_file() and (folder / "objects").is_dir():
        git_dir, work_tree = folder, None  # inside a bare repository or a git dir itself
    else:
        return None
    common = git_dir
    commondir = git_dir / "commondir"
    if commondir.is_file():
        common = git_dir / commondir.read_text(encoding="utf-8").strip()
    return _Repository(work_tree, git_dir, common)


def _find_repository(start: Path) -> _Repository | None:
    """The repository git would use from ``start``, walking up as git does."""
    for folder in (start, *start.parents):
        found = _repository_at(folder)
        if found is not None:
            return found
    return None


class _PerFileVersion(Generic[_T]):
    """What was read from one file, kept while the file is unchanged: config files and the
    index seldom change, and running git costs milliseconds per command classified. A file's
    version is its inode, size, and change and modification times."""

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._entries: dict[tuple[str, int, int, int, int], _T] = {}

    def get(self, path: Path, read: Callable[[], _T], absent: _T) -> _T:
        """What ``read`` makes of the current version of ``path``; ``absent`` when the file
        cannot be seen."""
        try:
            info = path.stat()
        except OSError:
            return absent
        version = (str(path), info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
        if version not in self._entries:
            if len(self._entries) >= self._size:
                self._entries.clear()
            self._entries[version] = read()
        return self._entries[version]


_CONFIG_KEYS: _PerFileVersion[list[str] | None] = _PerFileVersion()


def _config_keys(path: Path) -> list[str] | None:
    """The keys set in one config file, as git itself parses it; ``None`` if it cannot."""
    return _CONFIG_KEYS.get(path, lambda: _read_config_keys(path), absent=None)


def _read_config_keys(path: Path) -> list[str] | None:
    # `git config --file` parses the file exactly as git will, and needs no repository.
    out = _run_git(["config", "--file", str(path), "--list", "--name-only", "-z"], "/")
    if out is None:
        return None
    return [key for key in out.decode("utf-8", "replace").split("\0") if key]


def _run_git(args: list[str], cwd: Path | str) -> bytes | None:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            env={**os.environ, **git_safe_env(), "GIT_CONFIG_GLOBAL": "/dev/null"},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


_GITLINKS: _PerFileVersion[list[str] | None] = _PerFileVersion()


def _gitlinks(repository: _Repository) -> list[str] | None:
    """Paths of the submodules (gitlinks) in the index: git status and diff look inside
    them, and an embedded repository keeps its own config in its own ``.git``."""
    work_tree = repository.work_tree
    if work_tree is None:
        return []
    return _GITLINKS.get(repository.git_dir / "index", lambda: _read_gitlinks(work_tree), [])


def _read_gitlinks(work_tree: Path) -> list[str] | None:
    # Run only once the repository's own config is known to be clean, and with the safe
    # overrides besides.
    out = _run_git(["ls-files", "--stage", "-z"], work_tree)
    if out is None:
        return None
    return [
        entry.split("\t", 1)[1]
        for entry in out.decode("utf-8", "surrogateescape").split("\0")
        if entry.startswith("160000 ") and "\t" in entry
    ]


_MAX_SUBMODULE_DEPTH = 3


def _repository_safe(repository: _Repository, depth: int) -> bool:
    common, git_dir = repository.common_dir, repository.git_dir
    files = {common / "config", common / "config.worktree", git_dir / "config.worktree"}
    modules = common / "modules"
    if modules.is_dir():  # absorbed submodules keep their configs here
        files.update(modules.rglob("config"))
    for path in sorted(files):
        if not path.is_file():
            continue
        keys = _config_keys(path)
        if keys is None or any(_dangerous(key) for key in keys):
            return False
    if repository.work_tree is None:
        return True
    links = _gitlinks(repository)
    if links is None:
        return False
    for link in links:
        inner = _repository_at(repository.work_tree / link)
        if inner is None:
            continue  # not checked out: git does not look inside
        if depth >= _MAX_SUBMODULE_DEPTH or not _repository_safe(inner, depth + 1):
            return False
    return True


def repository_config_safe(start: Path) -> bool:
    """Whether the repository found from ``start`` (if any), and the submodules it would
    look into, have no local setting that makes a read-only git command run a program."""
    try:
        found = _find_repository(start)
        return found is None or _repository_safe(found, 0)
    except OSError:
        return False

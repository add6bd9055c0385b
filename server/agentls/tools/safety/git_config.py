"""Whether the settings a git command will read make it run a program, or read the kernel's
files.

A read-only subcommand is not enough: the repository's own config can make ``git status``
run a program (``core.fsmonitor``, a ``filter.<driver>.clean`` for a file whose stat
changed), ``git diff`` run one per file (``diff.external``, ``diff.<driver>.textconv``),
``git log`` run gpg (``log.showSignature``), and that config comes with whatever repository
the user opened, or was planted by an earlier command. So a git command is read-only only
when none of the config files git will read for it names a program:

- the repository git will use, as git itself finds it (:mod:`.git_repo`): its ``config``,
  both ``config.worktree`` files, and every file they include (``include.path`` and
  ``includeIf.*.path``, followed whatever the condition, as if every condition held);
- the same for each submodule that is checked out (git status and diff run git inside
  them, with their own config), and for the absorbed submodules' configs;
- the ``-c`` settings of the command line.

The system config is not read at all (``GIT_CONFIG_NOSYSTEM`` in
:func:`~.git_env.git_safe_env`); the user's global config is the user's own and is trusted.
Files are parsed by ``git config --file`` (which reads the file exactly as git will and
runs nothing), and what was read is kept while the file is unchanged. The check is made
at every classification, so a ``.git`` created or changed by an earlier command is read
as it is now. :func:`~.git_env.git_safe_env` is the second line, for a setting this check
failed to see.
"""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Generic, TypeVar

from agentls.tools.safety.git_repo import (
    Repository,
    RepositoryUnknownError,
    find_repository,
    run_git,
)

__all__ = ["config_setting_safe", "repository_config_safe"]

_T = TypeVar("_T")

# Whole sections whose settings name programs.
_PROGRAM_SECTIONS = frozenset(
    {
        "pager",
        "filter",
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
        "imap",
        "instaweb",
        "web",
    }
)
# `section.name` (no subsection) settings that name a program, a hook folder, or make git
# start one (signature checks run gpg, a partial clone fetches).
_PROGRAM_KEYS = frozenset(
    {
        "core.pager",
        "core.sshcommand",
        "core.editor",
        "core.hookspath",
        "core.askpass",
        "core.gitproxy",
        "core.alternaterefscommand",
        "diff.external",
        "uploadpack.packobjectshook",
        "extensions.partialclone",
        "ssh.variant",
        "lfs.standalonetransferagent",
    }
)
# `section.<subsection>.name` settings that do.
_PROGRAM_SUBSECTION_KEYS = frozenset(
    {
        "diff.textconv",
        "diff.command",
        "merge.driver",
        "remote.uploadpack",
        "remote.receivepack",
        "remote.promisor",
        "remote.vcs",
        "trailer.command",
        "trailer.cmd",
    }
)
# Settings that are harmless as booleans and run something otherwise (or when true).
_FALSE = frozenset({"false", "no", "off", "0"})
_BOOLEAN = _FALSE | {"true", "yes", "on", "1", ""}
# Settings naming a file git reads, and may show (blame prints the bad lines of its
# ignore-revs file): they must not lead into /proc or /sys.
_FILE_KEYS = frozenset(
    {
        "blame.ignorerevsfile",
        "mailmap.file",
        "core.attributesfile",
        "core.excludesfile",
        "diff.orderfile",
        "commit.template",
    }
)
_KERNEL = ("/proc", "/sys")
# git stops following includes this deep.
_MAX_INCLUDE_DEPTH = 10
_MAX_SUBMODULE_DEPTH = 3


def _split(key: str) -> tuple[str, str | None, str]:
    """Section (lower case), subsection (as written) and name (lower case) of a key."""
    section, _, rest = key.partition(".")
    subsection, dot, name = rest.rpartition(".")
    return section.lower(), (subsection if dot else None), name.lower()


def _runs_program(key: str, value: str | None) -> bool:
    """Whether ``key = value`` can make a command we let run unasked start a program."""
    section, subsection, name = _split(key)
    text = (value or "").strip().lower()
    if section in _PROGRAM_SECTIONS:
        # `pager.<command> = false` only switches paging off (and true pages with `cat`).
        return not (section == "pager" and text in _BOOLEAN)
    if (section, name) in (("core", "fsmonitor"), ("log", "showsignature")):
        return text not in _FALSE  # true starts the fsmonitor daemon, or gpg
    if section == "alias" or (section == "submodule" and name == "update"):
        return (value or "").lstrip().startswith("!")
    if (section == "pretty" and subsection is None) or (section, name) == ("format", "pretty"):
        return "%g" in text  # signature placeholders run gpg
    if section == "lfs" and subsection is not None:
        # git-lfs, run by the user's own `filter.lfs`, runs these from the repository's config.
        return subsection.lower().startswith(("extension.", "customtransfer."))
    if subsection is not None:
        return f"{section}.{name}" in _PROGRAM_SUBSECTION_KEYS
    return f"{section}.{name}" in _PROGRAM_KEYS


def _is_include(key: str) -> bool:
    section, subsection, name = _split(key)
    return name == "path" and (
        (section == "include" and subsection is None)
        or (section == "includeif" and subsection is not None)
    )


def _under_kernel(path: str) -> bool:
    return any(path == root or path.startswith(root + "/") for root in _KERNEL)


def _expand(value: str, base: str) -> str | None:
    """A path setting as git reads it: ``~/`` is the home folder, a relative path is
    relative to ``base``; ``None`` for forms we do not follow (``~user``, ``%(prefix)``)."""
    if value.startswith("~/"):
        value = os.path.join(os.environ.get("HOME", ""), value[2:])
    elif value.startswith(("~", "%(")):
        return None
    return posixpath.normpath(os.path.join(base, value))


def _file_ok(value: str | None, bases: tuple[str, ...]) -> bool:
    """Whether a file setting cannot lead into /proc or /sys from any folder it may be
    resolved from (symlinks followed)."""
    if value is None:
        return True
    for base in bases:
        path = _expand(value, base)
        if path is None or _under_kernel(path) or _under_kernel(os.path.realpath(path)):
            return False
    return True


def _names_file(key: str) -> bool:
    section, _subsection, name = _split(key)
    return f"{section}.{name}" in _FILE_KEYS


def config_setting_safe(key: str, value: str | None) -> bool:
    """Whether a ``-c key=value`` on the command line keeps a read-only command so: no
    program, no include (a file we have not read), no file to read."""
    section = _split(key)[0]
    if section in ("include", "includeif") or _names_file(key):
        return False
    return not _runs_program(key, value)


# --------------------------------------------------------------------------------------------
# Reading config files
# --------------------------------------------------------------------------------------------


class _PerFileVersion(Generic[_T]):
    """What was read from one file, kept while the file is unchanged: config files and the
    index seldom change, and running git costs milliseconds per command classified. A file's
    version is its inode, size, and change and modification times."""

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._entries: dict[tuple[str, int, int, int, int], _T] = {}

    def get(
        self, path: str, read: Callable[[], _T], absent: _T, info: os.stat_result | None = None
    ) -> _T:
        """What ``read`` makes of the current version of ``path`` (``info``, its ``stat``,
        when already known); ``absent`` when the file cannot be seen."""
        if info is None:
            try:
                info = os.stat(path)
            except OSError:
                return absent
        version = (path, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
        if version not in self._entries:
            if len(self._entries) >= self._size:
                self._entries.clear()
            self._entries[version] = read()
        return self._entries[version]


_Settings = list[tuple[str, str | None]]
_CONFIG: _PerFileVersion[_Settings | None] = _PerFileVersion(256)


def _read_settings(path: str) -> _Settings | None:
    # `git config --file` parses the file exactly as git will, and needs no repository.
    args = ["config", "--file", path, "--list", "-z"]
    done = run_git(args, "/", {"GIT_CONFIG_GLOBAL": "/dev/null"})
    if done is None or done.returncode != 0:
        return None
    settings: _Settings = []
    for entry in done.stdout.decode("utf-8", "surrogateescape").split("\0"):
        if entry:
            key, newline, value = entry.partition("\n")
            settings.append((key, value if newline else None))
    return settings


def _settings(path: str) -> tuple[str, _Settings | None]:
    """The real path of one config file and its settings, as git parses it: ``[]`` when
    there is no such file; ``None`` when it cannot be parsed, is not a file, or is one of
    the kernel's."""
    try:
        info = os.lstat(path)
    except OSError:
        return path, []
    if stat.S_ISLNK(info.st_mode):
        path = os.path.realpath(path)
        try:
            info = os.stat(path)
        except OSError:
            return path, []
    if _under_kernel(path) or not stat.S_ISREG(info.st_mode):
        return path, None
    real = path
    return real, _CONFIG.get(real, lambda: _read_settings(real), absent=None, info=info)


def _file_safe(path: str, bases: tuple[str, ...], seen: set[str], depth: int) -> bool:
    """Whether one config file, and every file it includes, names no program."""
    if depth > _MAX_INCLUDE_DEPTH:
        return False
    real, settings = _settings(path)
    if real in seen:
        return True
    seen.add(real)
    if settings is None:
        return False
    for key, value in settings:
        if _is_include(key):
            # Every include is followed, its condition taken as true: a superset of what
            # git reads. A relative path is relative to the including file. A file we do
            # not find is asked too: git skips a missing file, but one we look for in the
            # wrong place may be one git finds elsewhere.
            target = _expand(value, os.path.dirname(real)) if value else None
            if target is None or not os.path.isfile(target):
                return False
            if not _file_safe(os.path.realpath(target), bases, seen, depth + 1):
                return False
        elif _runs_program(key, value) or (_names_file(key) and not _file_ok(value, bases)):
            return False
    return True


# --------------------------------------------------------------------------------------------
# Submodules
# --------------------------------------------------------------------------------------------

_GITLINKS: _PerFileVersion[list[str] | None] = _PerFileVersion()


def _gitlinks(repository: Repository) -> list[str] | None:
    """Paths of the submodules (gitlinks) in the index: git status and diff look inside
    them, and a submodule keeps its own config."""
    work_tree = repository.work_tree
    if work_tree is None:
        return []
    index = os.environ.get("GIT_INDEX_FILE") or os.path.join(repository.git_dir, "index")
    return _GITLINKS.get(index, lambda: _read_gitlinks(repository, work_tree), [])


def _read_gitlinks(repository: Repository, work_tree: str) -> list[str] | None:
    # Run only once the repository's own config is known to be clean, and with the safe
    # overrides besides.
    args = [f"--git-dir={repository.git_dir}", f"--work-tree={work_tree}"]
    done = run_git([*args, "ls-files", "--stage", "-z"], work_tree)
    if done is None or done.returncode != 0:
        return None
    return [
        entry.split("\t", 1)[1]
        for entry in done.stdout.decode("utf-8", "surrogateescape").split("\0")
        if entry.startswith("160000 ") and "\t" in entry
    ]


# What git drops from the environment of the git it runs in a submodule.
_LOCAL_REPOSITORY_VARIABLES = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_COMMON_DIR",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_IMPLICIT_WORK_TREE",
    "GIT_GRAFT_FILE",
    "GIT_NO_REPLACE_OBJECTS",
    "GIT_REPLACE_REF_BASE",
    "GIT_PREFIX",
    "GIT_SHALLOW_FILE",
    "GIT_CONFIG",
)


def _absorbed_configs(common_dir: str) -> list[str]:
    """Config files of the submodules whose git dirs live under ``modules/``."""
    modules = os.path.join(common_dir, "modules")
    if not os.path.isdir(modules):
        return []
    return sorted(str(path) for path in Path(modules).rglob("config"))


def _locations_ok(repository: Repository) -> bool:
    """The repository may not live in /proc or /sys, nor have ``/`` as its work tree (git
    diff would then read any file its index names, the kernel's included)."""
    places = [repository.git_dir, repository.common_dir]
    if repository.work_tree is not None:
        places.append(repository.work_tree)
    return not any(_under_kernel(place) for place in places) and repository.work_tree != "/"


def _repository_safe(repository: Repository, cwd: str, seen: set[Repository], depth: int) -> bool:
    if repository in seen:
        return True
    seen.add(repository)
    if not _locations_ok(repository):
        return False
    common, git_dir = repository.common_dir, repository.git_dir
    files = [
        os.path.join(common, "config"),
        os.path.join(common, "config.worktree"),
        os.path.join(git_dir, "config.worktree"),
        *_absorbed_configs(common),
    ]
    bases = tuple(dict.fromkeys([repository.work_tree or git_dir, cwd]))
    read: set[str] = set()
    if not all(_file_safe(path, bases, read, 0) for path in dict.fromkeys(files)):
        return False
    if repository.work_tree is None:
        return True
    links = _gitlinks(repository)
    if links is None:
        return False
    for link in links:
        folder = os.path.join(repository.work_tree, link)
        if not os.path.isdir(folder):
            continue  # not checked out: git does not look inside
        if depth >= _MAX_SUBMODULE_DEPTH:
            return False
        inner = find_repository(folder, unset=_LOCAL_REPOSITORY_VARIABLES)
        if inner is not None and not _repository_safe(inner, folder, seen, depth + 1):
            return False
    return True


def repository_config_safe(
    cwd: Path | str,
    location: tuple[str, ...] = (),
    chdirs: tuple[str, ...] = (),
    assignments: Mapping[str, str] | None = None,
    named: tuple[str, ...] = (),
) -> bool:
    """Whether ``git <location> <read-only subcommand>`` run in ``cwd`` (with
    ``assignments`` in its environment) reads no setting that runs a program: in the
    repository git uses, as git finds it, and in the submodules it would look into.
    ``chdirs`` are the ``-C`` folders among ``location``, ``named`` the absolute paths the
    options and assignments name."""
    if not os.path.isdir(cwd):
        return True  # git cannot start there (the `cd` before it failed)
    try:
        found = find_repository(
            str(cwd), location, chdirs=chdirs, assignments=assignments, named=named
        )
        start = str(cwd)
        for folder in chdirs:
            start = os.path.join(start, folder)
        return found is None or _repository_safe(found, os.path.realpath(start), set(), 0)
    except (OSError, RepositoryUnknownError):
        return False

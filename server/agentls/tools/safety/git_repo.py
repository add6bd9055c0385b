"""Which repository ``git`` will use for a command: asked of git itself, remembered while
nothing git looks at has changed.

Finding it by hand went wrong: git skips a ``.git`` folder that is not a valid git dir
(an empty decoy) and then takes the folder itself as a bare repository, so a check that
stopped at the decoy read an empty config while git ran the bare repository's filters.
git's discovery also depends on gitfiles, ``commondir``, ``GIT_DIR`` / ``GIT_WORK_TREE``,
``-C`` / ``--git-dir`` / ``--work-tree``, ``core.worktree``, ``safe.directory`` and
``safe.bareRepository``, ceilings and mount points. So git answers: ``git rev-parse``,
with the command's own location options and environment assignments and the overrides of
:func:`~.git_env.git_safe_env`. ``rev-parse`` only reads config (core.fsmonitor, hooks,
pagers and filters are never started by it, and the overrides switch them off besides).

Running git costs milliseconds, and a shell call is classified more than once, so each
answer is kept with a fingerprint of everything git looked at to reach it: for each folder
from the start up to the one where the repository was found (to ``/`` when none was), the
candidates git tests there (``.git``, and the folder itself as a bare repository: their
``HEAD``, ``commondir``, ``objects``, ``refs``), the folders' owners, the found
repository's git dirs and config files (``core.worktree``, ``core.bare``), and the
variables discovery reads. Folders are fingerprinted without their times (which change
with every file created in them), files with them. The answer is reused only while the
fingerprint is unchanged.
"""

from __future__ import annotations

import os
import stat
import subprocess
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from agentls.tools.safety.git_env import git_safe_env

__all__ = ["Repository", "RepositoryUnknownError", "find_repository", "run_git"]

_TIMEOUT_S = 10.0
# What git tests in each candidate git dir (is_git_directory, validate_headref).
_GIT_DIR_ENTRIES = ("HEAD", "commondir", "objects", "refs")
_CACHE_SIZE = 256


@dataclass(frozen=True)
class Repository:
    """Where git keeps a repository, as real paths."""

    git_dir: str
    common_dir: str
    """Where the shared config, objects and refs are (the main repository's git dir for a
    linked worktree; the git dir itself otherwise)."""
    work_tree: str | None
    """``None`` for a bare repository, or when git runs inside the git dir itself."""


class RepositoryUnknownError(Exception):
    """git could not say which repository it would use (dubious ownership, a broken
    gitfile, a timeout): the command cannot be shown to be safe."""


def _environment(
    assignments: Mapping[str, str] | None = None, unset: tuple[str, ...] = ()
) -> dict[str, str]:
    """Ours, as an unasked command gets it (the safe overrides on top), with the command's
    own assignments; without ``unset``."""
    env = {**os.environ, **git_safe_env(), **(assignments or {})}
    for name in unset:
        env.pop(name, None)
    return env


def run_git(
    args: list[str],
    cwd: str,
    assignments: Mapping[str, str] | None = None,
    unset: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[bytes] | None:
    """``git args`` in ``cwd`` with the safe overrides and ``assignments`` (messages in
    English, to be read); ``None`` when git could not be run or took too long."""
    full_env = {**_environment(assignments, unset), "LC_ALL": "C", "LANGUAGE": "C"}
    try:
        return subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=full_env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None


# --------------------------------------------------------------------------------------------
# Fingerprints
# --------------------------------------------------------------------------------------------

_Version = tuple[int, ...] | None


def _one_version(info: os.stat_result | None) -> _Version:
    if info is None:
        return None
    base = (info.st_mode, info.st_ino, info.st_dev, info.st_uid)
    if stat.S_ISDIR(info.st_mode):
        return base
    return (*base, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def _version(path: str) -> tuple[_Version, _Version]:
    """What matters of one path, as ``lstat`` and ``stat`` see it: kind, identity, owner,
    permissions; and for anything but a folder, size and times (its content)."""
    try:
        link = os.lstat(path)
    except OSError:
        return None, None
    if not stat.S_ISLNK(link.st_mode):
        return _one_version(link), _one_version(link)
    try:
        target: os.stat_result | None = os.stat(path)
    except OSError:
        target = None
    return _one_version(link), _one_version(target)


_ABSENT: tuple[_Version, _Version] = (None, None)
_Probe = tuple[str, str]
"""What to fingerprint: a kind (``walk``, ``dotgit``, ``gitdir``, ``path``) and a path."""


def _git_dir_probe(path: str) -> tuple[object, ...]:
    """A candidate git dir as git tests it (is_git_directory): it needs a ``HEAD`` (whose
    content must look right), ``objects`` and ``refs``, looked for where ``commondir``
    says. Nothing past a missing entry matters, so nothing past it is looked at."""
    own = _version(path)
    if own == _ABSENT:
        return (own,)
    head = _version(os.path.join(path, "HEAD"))
    if head == _ABSENT:
        return (own, head)
    rest = (_version(os.path.join(path, entry)) for entry in ("commondir", "objects", "refs"))
    return (own, head, *rest)


def _probe(kind: str, path: str) -> object:
    if kind == "walk":  # a folder git passed: its `.git`, then the folder as a bare repository
        return (_git_dir_probe(os.path.join(path, ".git")), _git_dir_probe(path))
    if kind == "dotgit":  # the folder where git found `.git`: the folder (owner) and `.git`
        return (_version(path), _git_dir_probe(os.path.join(path, ".git")))
    if kind == "gitdir":
        return _git_dir_probe(path)
    return _version(path)


def _fingerprint(probes: tuple[_Probe, ...]) -> tuple[object, ...]:
    return tuple(_probe(kind, path) for kind, path in probes)


def _folders_up(start: str) -> list[str]:
    folders = [start]
    while (parent := os.path.dirname(folders[-1])) != folders[-1]:
        folders.append(parent)
    return folders


def _walk_probes(folders: list[str], found: Repository | None) -> list[_Probe]:
    """The folders git tested before it found ``found`` (all of them when it found
    nothing, or was told where the repository is), and the one where it did."""
    git_dir = found.git_dir if found is not None else None
    probes: list[_Probe] = []
    for folder in folders:
        dotgit = os.path.join(folder, ".git")
        # A gitfile ends the walk whatever it says (git uses it or fails).
        if os.path.isfile(dotgit) or os.path.realpath(dotgit) == git_dir:
            probes.append(("dotgit", folder))
            break
        probes.append(("walk", folder))
        if folder == git_dir:  # a bare repository, or the git dir itself
            break
    return probes


def _repository_probes(found: Repository) -> list[_Probe]:
    """What decides the repository once found: its git dirs and config files
    (``core.worktree``, ``core.bare``) and the work tree's owner."""
    probes = [("gitdir", found.git_dir), ("gitdir", found.common_dir)]
    probes += [
        ("path", os.path.join(found.common_dir, "config")),
        ("path", os.path.join(found.common_dir, "config.worktree")),
        ("path", os.path.join(found.git_dir, "config.worktree")),
    ]
    if found.work_tree is not None:
        probes.append(("path", found.work_tree))
    return probes


def _covered(probe: _Probe, probes: list[_Probe]) -> bool:
    """Whether ``probe`` is already part of ``probes`` (a ``dotgit`` probe covers its
    folder and its ``.git``)."""
    kind, path = probe
    if probe in probes:
        return True
    if kind == "gitdir" and os.path.basename(path) == ".git":
        return ("dotgit", os.path.dirname(path)) in probes
    return kind == "path" and ("dotgit", path) in probes


# --------------------------------------------------------------------------------------------
# Asking git
# --------------------------------------------------------------------------------------------

_QUERY = [
    "rev-parse",
    "--path-format=absolute",
    "--git-dir",
    "--git-common-dir",
    "--is-bare-repository",
    "--show-toplevel",
]
_NOT_A_REPOSITORY = b"not a git repository"
_NO_SUCH_FOLDER = b"cannot change to"  # a `-C` folder that is not there: git stops first
_NO_WORK_TREE = b"must be run in a work tree"


def _ask_git(
    cwd: str, location: tuple[str, ...], assignments: Mapping[str, str], unset: tuple[str, ...]
) -> Repository | None:
    """The repository git uses in ``cwd`` with these options and variables, or ``None``
    when there is none; :class:`RepositoryUnknownError` when git cannot say."""
    done = run_git([*location, *_QUERY], cwd, assignments, unset)
    if done is None:
        raise RepositoryUnknownError("git could not be run")
    lines = done.stdout.decode("utf-8", "surrogateescape").splitlines()
    if done.returncode != 0:
        if (_NOT_A_REPOSITORY in done.stderr or _NO_SUCH_FOLDER in done.stderr) and not lines:
            return None
        # `--show-toplevel` comes last: without a work tree (a bare repository, or inside
        # the git dir) git prints the rest and stops there.
        if not (_NO_WORK_TREE in done.stderr and len(lines) == 3):
            raise RepositoryUnknownError(done.stderr.decode("utf-8", "replace").strip())
        lines.append("")
    if len(lines) != 4:
        raise RepositoryUnknownError(f"unexpected answer from git rev-parse: {lines!r}")
    git_dir, common_dir, _bare, top = lines
    if not git_dir.startswith("/") or not common_dir.startswith("/"):
        raise RepositoryUnknownError("git gave relative paths (git older than 2.31?)")
    return Repository(
        git_dir=os.path.realpath(git_dir),
        common_dir=os.path.realpath(common_dir),
        work_tree=os.path.realpath(top) if top else None,
    )


@dataclass(frozen=True)
class _Entry:
    probes: tuple[_Probe, ...]
    fingerprint: tuple[object, ...]
    found: Repository | None


_CACHE: dict[tuple[object, ...], _Entry] = {}
_CACHE_LOCK = threading.Lock()

# What git's discovery reads from the environment besides the command's own assignments:
# the git dir and work tree, ceilings, file systems, where objects are, command-line config
# of an enclosing git. Read one by one: copying the whole environment costs more than the
# rest of a warm lookup. (The user's global config is not fingerprinted: its
# `safe.directory` and `safe.bareRepository` can only make git refuse a repository, and
# then the command fails; they never make it pick another.)
_DISCOVERY_VARIABLES = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_COMMON_DIR",
    "GIT_CEILING_DIRECTORIES",
    "GIT_DISCOVERY_ACROSS_FILESYSTEM",
    "GIT_CONFIG_PARAMETERS",
    "GIT_OBJECT_DIRECTORY",
    "GIT_IMPLICIT_WORK_TREE",
)


def find_repository(
    cwd: str,
    location: tuple[str, ...] = (),
    chdirs: tuple[str, ...] = (),
    assignments: Mapping[str, str] | None = None,
    named: tuple[str, ...] = (),
    unset: tuple[str, ...] = (),
) -> Repository | None:
    """The repository ``git <location> ...`` uses when run in ``cwd`` with ``assignments``
    added to the environment and ``unset`` taken out of it; ``None`` outside any
    repository.

    ``chdirs`` are the ``-C`` folders among ``location``; ``named`` the absolute paths the
    options and assignments name, whose real locations the answer depends on. Raises
    :class:`RepositoryUnknownError` when git cannot say.
    """
    assigned = dict(assignments or {})
    start = os.path.realpath(cwd)
    begin = start
    for folder in chdirs:
        if folder:
            begin = os.path.realpath(os.path.join(begin, folder))
    key = (
        start,
        location,
        tuple(sorted(assigned.items())),
        unset,
        tuple(os.environ.get(name) for name in _DISCOVERY_VARIABLES),
        begin,
        tuple(os.path.realpath(path) for path in named),
    )
    with _CACHE_LOCK:
        entry = _CACHE.get(key)
    if entry is not None and _fingerprint(entry.probes) == entry.fingerprint:
        return entry.found
    # The way up is fingerprinted before git is asked, so that a change while git looks is
    # seen at the next lookup; what is kept is the part git tested.
    folders = _folders_up(begin)
    walked = [("walk", folder) for folder in folders]
    walked_before = dict(zip(walked, _fingerprint(tuple(walked)), strict=True))
    found = _ask_git(start, location, assigned, unset)
    probes: list[_Probe] = []
    fingerprint: list[object] = []
    for probe in _walk_probes(folders, found):
        probes.append(probe)
        fingerprint.append(walked_before.get(probe) or _probe(*probe))
    if found is not None:
        for probe in _repository_probes(found):
            if not _covered(probe, probes):
                probes.append(probe)
                fingerprint.append(_probe(*probe))
    with _CACHE_LOCK:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.clear()
        _CACHE[key] = _Entry(tuple(probes), tuple(fingerprint), found)
    return found

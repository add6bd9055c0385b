"""When ``git`` only reads, and the environment that keeps it from running anything.

A read-only subcommand is not enough: the repository's own config can make ``git status``
run a program (``core.fsmonitor``), ``git diff`` run one per file (``diff.external``,
``diff.<driver>.textconv``), and so on, and that config comes with whatever repository
the user opened. So ``git`` is read-only only when the repositories it may use have none
of those settings in their local config (read by ``git config --file``, which parses the
file and runs nothing). :func:`git_safe_env` is the second line: overrides the runner adds
to every command it runs unasked, so that a setting we failed to see is switched off.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from agentls.tools.safety.options import Options, parse_options

__all__ = ["git_args_ok", "git_safe_env", "repository_config_safe"]

# Options before the subcommand that cannot inject configuration or programs (git reads
# these by exact name, no abbreviations).
_GLOBAL_FLAGS = frozenset(
    {"--no-pager", "-P", "--no-optional-locks", "--literal-pathspecs", "--no-replace-objects"}
)

# Long options that write a file or run a program, in any subcommand we allow; git's
# parse-options accepts unambiguous prefixes, so these are matched as such.
_FORBIDDEN_LONG = frozenset(
    {
        "output",
        "output-directory",
        "ext-diff",
        "textconv",
        "filters",
        "open-files-in-pager",
        "exec",
        "upload-pack",
        "receive-pack",
        "show-signature",
        # Outside the repository: `git diff --no-index / x` or `git grep --no-index` after
        # `cd /` would read whole trees, /proc included.
        "no-index",
    }
)
_ANY = Options(long=None, forbidden_long=_FORBIDDEN_LONG)
_SUBCOMMANDS: dict[str, Options] = {
    name: _ANY
    for name in (
        "status",
        "log",
        "diff",
        "show",
        "rev-parse",
        "rev-list",
        "ls-files",
        "ls-tree",
        "blame",
        "shortlog",
        "cat-file",
        "merge-base",
        "show-ref",
    )
}
# `grep -O` opens a pager on the matches; `describe --dirty` refreshes (writes) the index.
_SUBCOMMANDS["grep"] = Options(long=None, forbidden_long=_FORBIDDEN_LONG, forbidden_short="O")
_SUBCOMMANDS["describe"] = Options(long=None, forbidden_long=_FORBIDDEN_LONG | {"dirty", "broken"})

# `git branch` lists branches only with these; anything else (or an operand without
# --list) creates, renames or deletes one.
_BRANCH_FLAGS = frozenset(
    {
        "-a",
        "--all",
        "-r",
        "--remotes",
        "-v",
        "-vv",
        "--verbose",
        "-l",
        "--list",
        "--show-current",
        "--no-color",
        "--no-column",
        "-i",
        "--ignore-case",
        "--no-abbrev",
    }
)
_BRANCH_VALUES = frozenset(
    {"--contains", "--no-contains", "--merged", "--no-merged", "--points-at", "--sort", "--format"}
)


def _branch_ok(args: list[str]) -> bool:
    listing = False
    operands = 0
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        name = arg.split("=", 1)[0]
        if arg in _BRANCH_FLAGS:
            listing = listing or arg in ("-l", "--list")
        elif name in _BRANCH_VALUES:
            if "=" not in arg:
                i += 1  # its value
        elif name in ("--color", "--column", "--abbrev") and "=" in arg:
            pass
        elif arg.startswith("-"):
            return False
        else:
            operands += 1
    return i <= len(args) and (operands == 0 or listing)


def _remote_ok(args: list[str]) -> bool:
    return all(arg in ("-v", "--verbose") for arg in args)


def git_args_ok(args: list[str]) -> tuple[bool, list[str]]:
    """Whether ``git <args>`` is a read-only invocation, and the ``-C`` folders it uses."""
    folders: list[str] = []
    i = 0
    while i < len(args) and args[i].startswith("-"):
        if args[i] in _GLOBAL_FLAGS:
            i += 1
        elif args[i] == "-C" and i + 1 < len(args):
            folders.append(args[i + 1])
            i += 2
        else:
            return False, folders
    if i >= len(args):
        return False, folders
    subcommand, rest = args[i], args[i + 1 :]
    if any("%G" in arg for arg in rest):
        return False, folders  # signature placeholders in a format run gpg
    if subcommand == "branch":
        return _branch_ok(rest), folders
    if subcommand == "remote":
        return _remote_ok(rest), folders
    options = _SUBCOMMANDS.get(subcommand)
    if options is None:
        return False, folders
    return parse_options(rest, options) is not None, folders


# --------------------------------------------------------------------------------------------
# The repository's config
# --------------------------------------------------------------------------------------------

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


# Config files seldom change, and running git costs milliseconds per command classified:
# the keys are kept per file version (inode, size, change and modification times).
_KEYS_CACHE: dict[tuple[str, int, int, int, int], list[str] | None] = {}
_KEYS_CACHE_SIZE = 64


def _config_keys(path: Path) -> list[str] | None:
    """The keys set in one config file, as git itself parses it; ``None`` if it cannot."""
    try:
        info = path.stat()
    except OSError:
        return None
    version = (str(path), info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
    if version in _KEYS_CACHE:
        return _KEYS_CACHE[version]
    keys = _read_config_keys(path)
    if len(_KEYS_CACHE) >= _KEYS_CACHE_SIZE:
        _KEYS_CACHE.clear()
    _KEYS_CACHE[version] = keys
    return keys


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


_GITLINKS_CACHE: dict[tuple[str, int, int, int, int], list[str] | None] = {}


def _gitlinks(repository: _Repository) -> list[str] | None:
    """Paths of the submodules (gitlinks) in the index: git status and diff look inside
    them, and an embedded repository keeps its own config in its own ``.git``."""
    if repository.work_tree is None:
        return []
    index = repository.git_dir / "index"
    try:
        info = index.stat()
    except OSError:
        return []
    version = (str(index), info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
    if version not in _GITLINKS_CACHE:
        if len(_GITLINKS_CACHE) >= _KEYS_CACHE_SIZE:
            _GITLINKS_CACHE.clear()
        # Run only once the repository's own config is known to be clean, and with the
        # safe overrides besides.
        out = _run_git(["ls-files", "--stage", "-z"], repository.work_tree)
        _GITLINKS_CACHE[version] = (
            None
            if out is None
            else [
                entry.split("\t", 1)[1]
                for entry in out.decode("utf-8", "surrogateescape").split("\0")
                if entry.startswith("160000 ") and "\t" in entry
            ]
        )
    return _GITLINKS_CACHE[version]


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


_CONFIG_OVERRIDES: tuple[tuple[str, str], ...] = (
    ("core.fsmonitor", "false"),
    ("core.hooksPath", "/dev/null"),
    ("core.pager", "cat"),
    ("core.untrackedCache", "false"),
    ("core.sshCommand", "false"),
    ("credential.helper", ""),
    ("log.showSignature", "false"),
    ("protocol.allow", "never"),
)


def git_safe_env() -> dict[str, str]:
    """Environment overrides for commands that run unasked: git settings that run programs
    are switched off (command-line config outranks the repository's), pagers are ``cat``,
    optional index writes and lazy fetches are skipped.

    ``diff.external`` is not overridden: git 2.39 treats an empty value as a program to run
    and fails every diff; the config check is what stops it.
    """
    env = {
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_PAGER": "cat",
        "PAGER": "cat",
        "GIT_OPTIONAL_LOCKS": "0",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_NO_LAZY_FETCH": "1",
        "GIT_CONFIG_COUNT": str(len(_CONFIG_OVERRIDES)),
    }
    for index, (key, value) in enumerate(_CONFIG_OVERRIDES):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env

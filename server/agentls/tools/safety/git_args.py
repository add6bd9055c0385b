"""Which ``git`` invocations only read, judged by their arguments alone.

Only a fixed list of subcommands passes, each without the options that write a file or run
a program (matched as git's parse-options matches them: by any unambiguous prefix), and
``git branch`` / ``git remote`` only in their listing forms. Before the subcommand, the
options that choose the repository (``-C``, ``--git-dir``, ``--work-tree``) and ``-c`` are
read out, for the caller to find the repository git will use and to check every setting
it will read (:mod:`.git_repo`, :mod:`.git_config`): arguments are not the whole story,
since the repository's own config can make a reading command run a program.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentls.tools.safety.options import Options, parse_options

__all__ = ["GitCall", "git_args_ok"]

# Options before the subcommand that cannot inject configuration or programs (git reads
# these by exact name, no abbreviations).
_GLOBAL_FLAGS = frozenset(
    {"--no-pager", "-P", "--no-optional-locks", "--literal-pathspecs", "--no-replace-objects"}
)
# Options before the subcommand that take a value and say where the repository is.
_LOCATION_OPTIONS = ("--git-dir", "--work-tree")


@dataclass(frozen=True)
class GitCall:
    """What the options before the subcommand say about the repository git will use."""

    location: tuple[str, ...] = ()
    """``-C``, ``--git-dir``, ``--work-tree`` and ``-c`` as given, in order, each as one
    word (``--git-dir=X``): to be passed to the git that finds the repository."""
    chdirs: tuple[str, ...] = ()
    """The ``-C`` folders, in order (each relative to the one before)."""
    git_dir: str | None = None
    work_tree: str | None = None
    config: tuple[tuple[str, str | None], ...] = ()
    """``-c`` settings: name, and value (``None`` for a bare name, which means true)."""


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


def _global_options(args: list[str]) -> tuple[GitCall, int] | None:
    """The options before the subcommand, and where the subcommand is; ``None`` for an
    option that may inject a program or that we do not know."""
    location: list[str] = []
    chdirs: list[str] = []
    config: list[tuple[str, str | None]] = []
    values: dict[str, str] = {}
    i = 0
    while i < len(args) and args[i].startswith("-"):
        arg = args[i]
        name, equals, value = arg.partition("=")
        if arg in _GLOBAL_FLAGS:
            i += 1
            continue
        if arg in ("-C", "-c", *_LOCATION_OPTIONS):
            if i + 1 >= len(args):
                return None
            name, value = arg, args[i + 1]
            i += 2
        elif equals and name in _LOCATION_OPTIONS:
            i += 1
        else:
            return None
        if name == "-C":
            chdirs.append(value)
            location += ["-C", value]
        elif name == "-c":
            key, has_value, setting = value.partition("=")
            config.append((key, setting if has_value else None))
            location += ["-c", value]
        else:
            values[name] = value
            location.append(f"{name}={value}")
    call = GitCall(
        location=tuple(location),
        chdirs=tuple(chdirs),
        git_dir=values.get("--git-dir"),
        work_tree=values.get("--work-tree"),
        config=tuple(config),
    )
    return call, i


def git_args_ok(args: list[str]) -> GitCall | None:
    """What ``git <args>`` says about its repository, when it is a read-only invocation;
    ``None`` when it may write or run something whatever the repository."""
    found = _global_options(args)
    if found is None:
        return None
    call, i = found
    if i >= len(args):
        return None
    subcommand, rest = args[i], args[i + 1 :]
    if any("%G" in arg for arg in rest):
        return None  # signature placeholders in a format run gpg
    if subcommand == "branch":
        ok = _branch_ok(rest)
    elif subcommand == "remote":
        ok = _remote_ok(rest)
    else:
        options = _SUBCOMMANDS.get(subcommand)
        ok = options is not None and parse_options(rest, options) is not None
    return call if ok else None

"""Which ``git`` invocations only read, judged by their arguments alone.

Only a fixed list of subcommands passes, each without the options that write a file or run
a program (matched as git's parse-options matches them: by any unambiguous prefix), and
``git branch`` / ``git remote`` only in their listing forms. Arguments are not the whole
story: the repository's own config can make a reading command run a program, which
:mod:`.git_config` checks.
"""

from __future__ import annotations

from agentls.tools.safety.options import Options, parse_options

__all__ = ["git_args_ok"]

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

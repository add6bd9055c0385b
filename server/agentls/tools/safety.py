"""Recognising commands that cannot change anything, so ``ask-unsafe`` need not ask.

A false "read-only" runs something without the user's approval, while a false "unsafe"
only costs a click, so everything here errs towards "unsafe": anything we do not fully
understand (quoting we cannot follow, expansions, redirections, control flow, unknown
programs or options) is unsafe.

Scripts given to ``bash -c`` are tokenised by a small lexer of our own rather than by
``shlex``: shlex reports a quoted ``";"`` exactly like the operator ``;`` and treats a
newline as plain whitespace, and both differences could make a dangerous script look like
a harmless one (``find . ";" -delete``, ``ls\\nrm -rf ~``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["is_read_only"]

_SHELLS = frozenset(
    name
    for shell in ("bash", "sh", "zsh")
    for name in (shell, f"/bin/{shell}", f"/usr/bin/{shell}")
)
_SHELL_FLAGS = frozenset({"-c", "-lc"})
# Operators that join simple commands without redirecting, backgrounding or grouping.
_SEPARATORS = frozenset({";", "&&", "||", "|", "\n"})
_OPERATOR_CHARS = frozenset(";&|<>()")
# Characters through which the shell could turn an innocent-looking word into something
# else (globs and brace expansion can produce a file named `-delete`; `$X` anything).
_EXPANSION_CHARS = frozenset("*?[]{}$")


@dataclass(frozen=True)
class _Word:
    value: str
    expands: bool
    """Whether the word has unquoted characters the shell may expand."""


class _UnsupportedError(Exception):
    """Shell syntax we do not follow, which makes the script unsafe."""


def _lex(script: str) -> list[_Word | str]:
    """Split a script into words and operator strings (newline counts as an operator).

    Raises for command or process substitution, ``${...}``, backticks and unterminated
    quotes; those are never read-only as far as we are concerned.
    """
    tokens: list[_Word | str] = []
    value: list[str] = []
    in_word = False
    expands = False
    i = 0
    n = len(script)

    def finish_word() -> None:
        nonlocal in_word, expands
        if in_word:
            tokens.append(_Word("".join(value), expands))
            value.clear()
            in_word = False
            expands = False

    def check_dollar(at: int) -> None:
        if at + 1 < n and script[at + 1] in "({[":
            raise _UnsupportedError("substitution or expansion")

    while i < n:
        char = script[i]
        if char in " \t":
            finish_word()
            i += 1
        elif char == "\n":
            finish_word()
            tokens.append("\n")
            i += 1
        elif char == "#" and not in_word:
            # A comment runs to the end of the line; the newline still separates commands.
            while i < n and script[i] != "\n":
                i += 1
        elif char in _OPERATOR_CHARS:
            finish_word()
            start = i
            while i < n and script[i] in _OPERATOR_CHARS:
                i += 1
            tokens.append(script[start:i])
        elif char == "\\":
            if i + 1 >= n:
                raise _UnsupportedError("trailing backslash")
            if script[i + 1] == "\n":  # line continuation
                i += 2
                continue
            in_word = True
            value.append(script[i + 1])
            i += 2
        elif char == "'":
            end = script.find("'", i + 1)
            if end < 0:
                raise _UnsupportedError("unterminated single quote")
            in_word = True
            value.append(script[i + 1 : end])
            i = end + 1
        elif char == '"':
            in_word = True
            i += 1
            while True:
                if i >= n:
                    raise _UnsupportedError("unterminated double quote")
                char = script[i]
                if char == '"':
                    i += 1
                    break
                if char == "`":
                    raise _UnsupportedError("backticks")
                if char == "$":
                    check_dollar(i)
                    expands = True
                if char == "\\" and i + 1 < n and script[i + 1] in '$`"\\\n':
                    if script[i + 1] != "\n":
                        value.append(script[i + 1])
                    i += 2
                    continue
                value.append(char)
                i += 1
        elif char == "`":
            raise _UnsupportedError("backticks")
        else:
            if char == "$":
                check_dollar(i)
            if char in _EXPANSION_CHARS or (char == "~" and not in_word):
                expands = True
            in_word = True
            value.append(char)
            i += 1
    finish_word()
    return tokens


_CONNECTORS = frozenset({"&&", "||", "|"})


def _split_commands(tokens: list[_Word | str]) -> list[list[_Word]] | None:
    """Simple commands of the script, or ``None`` if it uses any other operator.

    ``&&``, ``||`` and ``|`` need a command on both sides (a newline may follow them, as
    in bash); ``;`` and newlines may separate nothing.
    """
    commands: list[list[_Word]] = [[]]
    pending: str | None = None  # a connector still waiting for its right-hand command
    for token in tokens:
        if isinstance(token, _Word):
            commands[-1].append(token)
            pending = None
        elif token == "\n" and pending is not None:
            continue
        elif token in _SEPARATORS:
            if pending is not None or (token in _CONNECTORS and not commands[-1]):
                return None
            if token in _CONNECTORS:
                pending = token
            commands.append([])
        else:  # redirection, `&`, subshell, `|&`, `;;`, ...
            return None
    if pending is not None:
        return None
    return [command for command in commands if command]


# --------------------------------------------------------------------------------------------
# Per-program rules. Each gets the arguments after the program name and says whether they
# are harmless. `literal` tells whether the arguments are exactly what the program will see
# (no shell expansion can change them).
# --------------------------------------------------------------------------------------------

_ArgsCheck = Callable[[list[str]], bool]


def _any_args(args: list[str]) -> bool:
    return True


def _short_cluster_has(arg: str, letter: str) -> bool:
    return arg.startswith("-") and not arg.startswith("--") and letter in arg[1:]


def _long_option(arg: str, names: tuple[str, ...]) -> bool:
    """Whether ``arg`` is one of the long options ``names``, abbreviated or not.

    GNU getopt (and git) accept any unambiguous prefix, so ``--out`` means ``--output``.
    """
    option = arg.split("=", 1)[0]
    return len(option) > 2 and option.startswith("--") and any(n.startswith(option) for n in names)


_FIND_FORBIDDEN = frozenset(
    {"-exec", "-execdir", "-ok", "-okdir", "-delete", "-fprint", "-fprint0", "-fprintf", "-fls"}
)


def _find_ok(args: list[str]) -> bool:
    return not any(arg in _FIND_FORBIDDEN for arg in args)


def _sort_ok(args: list[str]) -> bool:
    # -o/--output writes a file; --compress-program runs one.
    return not any(
        _short_cluster_has(arg, "o") or _long_option(arg, ("--output", "--compress-program"))
        for arg in args
    )


_UNIQ_OPTIONS_WITH_VALUE = frozenset({"-f", "-s", "-w"})


def _uniq_ok(args: list[str]) -> bool:
    # `uniq INPUT OUTPUT` overwrites OUTPUT, so at most one file name may be given.
    positional = 0
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            positional += len(args) - i - 1
            break
        if arg in _UNIQ_OPTIONS_WITH_VALUE:
            i += 1
        elif arg == "-" or not arg.startswith("-"):
            positional += 1
        i += 1
    return positional <= 1


def _tree_ok(args: list[str]) -> bool:
    return not any(_short_cluster_has(arg, "o") or _long_option(arg, ("--output",)) for arg in args)


def _file_ok(args: list[str]) -> bool:
    # -C compiles a magic file, writing it to disk.
    return not any(_short_cluster_has(arg, "C") or arg == "--compile" for arg in args)


def _date_ok(args: list[str]) -> bool:
    return not any(_short_cluster_has(arg, "s") or _long_option(arg, ("--set",)) for arg in args)


def _rg_ok(args: list[str]) -> bool:
    # --pre runs a program on every file searched, --hostname-bin one for hyperlinks.
    return not any(_long_option(arg, ("--pre", "--hostname-bin")) for arg in args)


_GIT_READ_ONLY = frozenset({"status", "log", "diff", "show", "rev-parse", "ls-files", "blame"})


def _git_ok(args: list[str]) -> bool:
    i = 0
    # Only options that cannot inject configuration (`-c`, `--exec-path`, ...) may precede
    # the subcommand.
    while i < len(args) and args[i].startswith("-"):
        if args[i] == "--no-pager":
            i += 1
        elif args[i] == "-C" and i + 1 < len(args):
            i += 2
        else:
            return False
    if i >= len(args) or args[i] not in _GIT_READ_ONLY:
        return False
    # --output writes a file; --ext-diff runs the configured external diff program.
    return not any(_long_option(arg, ("--output", "--ext-diff")) for arg in args[i + 1 :])


_RULES: dict[str, _ArgsCheck] = {
    "cat": _any_args,
    "cd": _any_args,
    "cut": _any_args,
    "date": _date_ok,
    "df": _any_args,
    "diff": _any_args,
    "du": _any_args,
    "echo": _any_args,
    "file": _file_ok,
    "find": _find_ok,
    "git": _git_ok,
    "grep": _any_args,
    "head": _any_args,
    "ls": _any_args,
    "nl": _any_args,
    "pwd": _any_args,
    "rg": _rg_ok,
    "sort": _sort_ok,
    "stat": _any_args,
    "tail": _any_args,
    "tr": _any_args,
    "tree": _tree_ok,
    "uname": _any_args,
    "uniq": _uniq_ok,
    "wc": _any_args,
    "which": _any_args,
    "whoami": _any_args,
}


def _command_ok(words: list[_Word]) -> bool:
    program = words[0]
    check = _RULES.get(program.value)
    if program.expands or check is None:
        return False
    if check is not _any_args and any(word.expands for word in words[1:]):
        # Its options matter, and an expansion could produce any option at all.
        return False
    return check([word.value for word in words[1:]])


def is_read_only(argv: list[str]) -> bool:
    """Whether ``argv`` certainly only reads (files, repository state, system facts)."""
    if not argv:
        return False
    if argv[0] in _SHELLS:
        if len(argv) != 3 or argv[1] not in _SHELL_FLAGS:
            return False
        try:
            tokens = _lex(argv[2])
        except _UnsupportedError:
            return False
        commands = _split_commands(tokens)
        return bool(commands) and all(_command_ok(command) for command in commands or ())
    # No shell involved: every argument reaches the program exactly as written.
    return _command_ok([_Word(arg, expands=False) for arg in argv])

"""Recognising commands that cannot change anything, so ``ask-unsafe`` need not ask.

A false "read-only" runs something without the user's approval, while a false "unsafe"
only costs a click, so everything here errs towards "unsafe": anything not positively
understood is unsafe.

A command is either a program with its arguments or a shell running a script; a script is
first read into its simple commands (:mod:`.script`). Each program is then checked against
its rule (:mod:`.rules`; git by :mod:`.git_args`, and the config of the repository git
will use, found by git itself, by :mod:`.git_config`) and every argument against the
kernel filesystems (:mod:`.paths`).
Nothing is read-only while PATH has a relative entry, since ``ls`` could then be a program
the repository ships.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from agentls.tools.safety.git_args import GitCall, git_args_ok
from agentls.tools.safety.git_config import config_setting_safe, repository_config_safe
from agentls.tools.safety.options import Parsed, parse_options
from agentls.tools.safety.paths import Places
from agentls.tools.safety.rules import RULES
from agentls.tools.safety.script import GIT_LOCATION_VARIABLES, simple_commands
from agentls.tools.safety.words import BASH, SH, ZSH, Dialect, Word, literal_word

__all__ = ["is_read_only"]

_SHELLS: dict[str, Dialect] = {
    f"{prefix}{name}": dialect
    for name, dialect in (("bash", BASH), ("sh", SH), ("dash", SH), ("zsh", ZSH))
    for prefix in ("", "/bin/", "/usr/bin/")
}
_SHELL_FLAGS = frozenset({"-c", "-lc"})


def _git_ok(args: list[Word], places: Places, assignments: dict[str, Word]) -> bool:
    """git gets its own check: what it runs depends on the config of the repository it
    uses as much as on its arguments."""
    if not all(word.literal for word in (*args, *assignments.values())):
        return False
    call = git_args_ok([word.text for word in args])
    if call is None or not all(config_setting_safe(key, value) for key, value in call.config):
        return False
    if not all(places.word_ok(word, recursive=False) for word in (*args, *assignments.values())):
        return False
    env = {name: word.text for name, word in assignments.items()}
    named = [call.git_dir, call.work_tree, env.get("GIT_DIR"), env.get("GIT_WORK_TREE")]
    if not places.known:
        # Without a known working folder the repository cannot be found: only plain `-C`
        # is let through, with git_safe_env() the only guard against the config.
        return not any(named)
    return all(_repository_ok(call, env, place, places) for place in places.known)


def _repository_ok(call: GitCall, env: dict[str, str], place: Path, places: Places) -> bool:
    """From ``place``: the folders the options name stay out of the kernel's filesystems
    (the work tree is read whole, so it must not be ``/`` either), and the repository git
    finds there runs nothing."""
    start = str(place)
    for folder in call.chdirs:
        located = places.locate(start, folder)
        if located is None:
            return False
        start = located
    named: list[str] = []
    for value, whole_tree in (
        (call.git_dir, False),
        (env.get("GIT_DIR"), False),
        (call.work_tree, True),
        (env.get("GIT_WORK_TREE"), True),
    ):
        if value is None:
            continue
        located = places.locate(start, value)
        if located is None or (whole_tree and located == "/"):
            return False
        named.append(located)
    return repository_config_safe(
        place, call.location, call.chdirs, assignments=env, named=tuple(named)
    )


def _program_ok(
    program: str, args: list[Word], places: Places, assignments: dict[str, Word] | None = None
) -> bool:
    """One simple command: ``cd`` moves the places later paths are resolved from, the rest
    must be listed, pass their rule's options and name nothing in the kernel filesystems."""
    assignments = assignments or {}
    if program == "git":
        return _git_ok(args, places, assignments)
    if GIT_LOCATION_VARIABLES & assignments.keys():
        return False
    if program == "cd":
        return len(args) == 1 and not args[0].text.startswith("-") and places.cd(args[0])
    rule = RULES.get(program)
    if rule is None or (rule.literal and not all(word.literal for word in args)):
        return False
    texts = [word.text for word in args]
    parsed = parse_options(texts, rule.options) if rule.options else Parsed(operands=texts)
    if parsed is None or (rule.check is not None and not rule.check(parsed)):
        return False
    recursive = rule.recursive is not None and rule.recursive(parsed)
    if recursive and not places.here_ok_for_recursion():
        return False
    options_matter = rule.options is not None
    return all(places.word_ok(word, recursive, options_matter) for word in args)


@cache
def _search_path_is_absolute(search_path: str) -> bool:
    """Whether program names resolve outside the working folder: with ``.`` (or an empty or
    relative entry) on PATH, ``ls`` may be a program the repository ships."""
    return all(entry.startswith("/") for entry in search_path.split(":"))


def is_read_only(argv: list[str], cwd: Path | None = None) -> bool:
    """Whether ``argv`` certainly only reads (files, repository state, system facts) and
    reads nothing of the kernel's (``/proc``, ``/sys``).

    ``cwd`` is where the command will run: relative paths are resolved from it (symlinks
    included) and git's repository is found from there, as git finds it, and its config
    checked. Without it (for display only: the server always passes one), relative paths
    are taken to stay below an unknown folder, git is judged by its arguments, and options
    that name a repository are refused.
    """
    if not argv or not _search_path_is_absolute(os.environ.get("PATH", "")):
        return False
    places = Places(cwd)
    dialect = _SHELLS.get(argv[0])
    if dialect is not None:
        if len(argv) != 3 or argv[1] not in _SHELL_FLAGS:
            return False
        commands = simple_commands(argv[2], dialect)
        return commands is not None and all(
            _program_ok(c.words[0].text, c.words[1:], places, c.assignments) for c in commands
        )
    # No shell involved: every argument reaches the program exactly as written.
    return _program_ok(argv[0], [literal_word(arg) for arg in argv[1:]], places)

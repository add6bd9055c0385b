"""Recognising commands that cannot change anything, so ``ask-unsafe`` need not ask.

A false "read-only" runs something without the user's approval, while a false "unsafe"
only costs a click, so everything here errs towards "unsafe": anything not positively
understood is unsafe.

Scripts (``bash -lc SCRIPT``) are read with bash's own grammar (tree-sitter-bash), not a
lexer of our own: a hand-written lexer read ``$'\\''`` differently from bash and let
``echo $'\\'' ; touch x # '`` pass as one ``echo``. The grammar gives the structure; only
plain lists of simple commands (``;``, newline, ``&&``, ``||``, ``|``) are accepted, each
word is decoded by bash's quoting rules (:mod:`.words`), each program is checked against its
rule (:mod:`.rules`, :mod:`.git`) and every argument against the kernel filesystems
(:mod:`.paths`).

Refused outright: parse errors, command and process substitution, arithmetic, ``${...}``
with operators, subshells and groups, control flow, functions, ``eval``/``exec``/
``source`` (not listed programs), background jobs, here-documents and here-strings,
assignments other than a few locale settings, text the grammar skips but bash reads (an
escaped space before ``#``), and every redirection except duplicating one standard
descriptor onto another (``2>&1``, ``>&2``): even ``>/dev/null`` and ``< file`` are
refused, since the grammar of redirections is where a write hides (``>&file`` writes a file)
and those forms are easy to do without. Nothing is read-only while PATH has a relative entry,
since ``ls`` could then be a program the repository ships.
"""

from __future__ import annotations

import itertools
import os
import re
import threading
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from agentls.tools.safety.git import git_args_ok, git_safe_env, repository_config_safe
from agentls.tools.safety.options import Parsed, parse_options
from agentls.tools.safety.paths import Places
from agentls.tools.safety.rules import RULES
from agentls.tools.safety.words import Dialect, Word, decode_word, literal_word

if TYPE_CHECKING:
    from tree_sitter import Node, Parser

__all__ = ["git_safe_env", "is_read_only", "script_commands"]

_BASH = Dialect(ansi_c=True, expansions=True)
# dash (Debian's sh) has no $'...': it reads `$` and then a raw string, so a script we
# decoded as one word could be several commands to it.
_SH = Dialect(ansi_c=False, expansions=True)
# zsh's globs and expansions differ from bash's (glob qualifiers run code): literal words only.
_ZSH = Dialect(ansi_c=True, expansions=False)
_SHELLS: dict[str, Dialect] = {
    f"{prefix}{name}": dialect
    for name, dialect in (("bash", _BASH), ("sh", _SH), ("dash", _SH), ("zsh", _ZSH))
    for prefix in ("", "/bin/", "/usr/bin/")
}
_SHELL_FLAGS = frozenset({"-c", "-lc"})

_STATEMENT_JOINERS = {"program": {";"}, "list": {"&&", "||"}, "pipeline": {"|"}}
_ASSIGNABLE = frozenset(
    {"LANG", "LC_ALL", "LC_COLLATE", "LC_CTYPE", "LC_MESSAGES", "LC_NUMERIC", "LC_TIME"}
    | {"TZ", "NO_COLOR", "COLUMNS"}
)
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9_.@:+-]*")


@cache
def _parser() -> Parser:
    """One parser for the process, built on first use: importing tree-sitter at server start
    would cost every start-up the time of a grammar load."""
    import tree_sitter_bash
    from tree_sitter import Language, Parser

    return Parser(Language(tree_sitter_bash.language()))


# A tree-sitter parser is not safe to share between threads; classification may be called
# from a worker thread.
_PARSE_LOCK = threading.Lock()


def _parse(source: bytes) -> Node:
    with _PARSE_LOCK:
        return _parser().parse(source).root_node


def _dup_redirect(node: Node) -> bool:
    """``N>&M`` / ``N<&M``: one descriptor onto another, no file involved."""
    kinds = [child.type for child in node.children]
    if kinds and kinds[0] == "file_descriptor":
        kinds = kinds[1:]
    if kinds not in ([">&", "number"], ["<&", "number"]):
        return False
    descriptors = [node.children[-1].text or b""]
    if node.children[0].type == "file_descriptor":
        descriptors.append(node.children[0].text or b"")
    # Only the standard three: another inherited descriptor could be open on anything.
    return all(descriptor in (b"0", b"1", b"2") for descriptor in descriptors)


def _collect(node: Node, commands: list[Node]) -> bool:
    """Gathers the simple commands of a plain list; ``False`` on anything else."""
    if node.type == "command":
        commands.append(node)
        return True
    if node.type == "redirected_statement":
        body = node.child_by_field_name("body")
        redirects = [child for child in node.children if child != body]
        return (
            body is not None
            and all(child.type == "file_redirect" and _dup_redirect(child) for child in redirects)
            and _collect(body, commands)
        )
    joiners = _STATEMENT_JOINERS.get(node.type)
    if joiners is None:
        return False
    for child in node.children:
        if child.type == "comment" or child.type in joiners:
            continue
        if not child.is_named or not _collect(child, commands):
            return False
    return True


# Nodes read as a whole (their text is decoded by safety.words), not as their children.
_OPAQUE = frozenset(
    {"word", "number", "raw_string", "string", "ansi_c_string", "concatenation", "comment"}
    | {"simple_expansion", "expansion", "variable_name"}
)


def _tokens(node: Node, found: list[Node]) -> None:
    if node.type in _OPAQUE or node.child_count == 0:
        found.append(node)
        return
    for child in node.children:
        _tokens(child, found)


def _only_blanks_between_tokens(root: Node, script: bytes) -> bool:
    """Whether everything the grammar skipped between tokens is blank to bash too.

    tree-sitter-bash skips ``\\<space>`` at the start of a word as if it were blank, where
    bash reads an escaped space that starts a word: in ``echo \\ #; rm x`` the ``#`` is then
    inside that word, not a comment, and ``rm`` runs.
    """
    tokens: list[Node] = []
    _tokens(root, tokens)
    position = 0
    for token in tokens:
        gap = script[position : token.start_byte].replace(b"\\\n", b"")
        if gap.strip(b" \t\n"):
            return False
        position = max(position, token.end_byte)
    return not script[position:].replace(b"\\\n", b"").strip(b" \t\n")


def _separated(script: bytes, before: Node, after: Node) -> bool:
    """Whether bash, too, sees a word boundary between two nodes: tree-sitter splits
    ``a\\<newline>b`` in two, where bash joins the line and reads one word."""
    gap = script[before.end_byte : after.start_byte].replace(b"\\\n", b"")
    return bool(gap) and not gap.strip(b" \t")


def _assignment_ok(node: Node, dialect: Dialect) -> bool:
    name = node.child_by_field_name("name")
    value = node.child_by_field_name("value")
    if name is None or (name.text or b"").decode() not in _ASSIGNABLE:
        return False
    if value is None:
        return True
    word = decode_word(value, dialect)
    return word is not None and word.literal and _PLAIN_VALUE.fullmatch(word.text) is not None


def _decode_command(node: Node, script: bytes, dialect: Dialect) -> list[Word] | None:
    """The program and arguments of a simple command, or ``None`` if not understood."""
    children = node.children
    for before, after in itertools.pairwise(children):
        if not _separated(script, before, after):
            return None
    words: list[Word] = []
    for child in children:
        if child.type == "variable_assignment" and not words:
            if not _assignment_ok(child, dialect):
                return None
            continue
        if child.type == "command_name" and not words:
            if child.named_child_count != 1:
                return None
            target = child.named_children[0]
        elif words and child.is_named:
            target = child
        else:
            return None
        word = decode_word(target, dialect)
        if word is None:
            return None
        words.append(word)
    return words if words and words[0].literal else None


def _git_ok(args: list[Word], places: Places) -> bool:
    if not all(word.literal for word in args):
        return False
    ok, folders = git_args_ok([word.text for word in args])
    if not ok or not all(places.word_ok(word, recursive=False) for word in args):
        return False
    # Without a known working folder the repository cannot be found; git_safe_env() is then
    # the only guard against its config.
    for place in places.known:
        start = place.joinpath(*folders)
        if not repository_config_safe(start):
            return False
    return True


def _program_ok(program: str, args: list[Word], places: Places) -> bool:
    if program == "cd":
        return len(args) == 1 and not args[0].text.startswith("-") and places.cd(args[0])
    if program == "git":
        return _git_ok(args, places)
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


def _commands(script: str, dialect: Dialect) -> list[list[Word]] | None:
    source = script.encode("utf-8", "surrogateescape")
    root = _parse(source)
    if root.has_error or not _only_blanks_between_tokens(root, source):
        return None
    nodes: list[Node] = []
    if not _collect(root, nodes) or not nodes:
        return None
    commands: list[list[Word]] = []
    for node in nodes:
        words = _decode_command(node, source, dialect)
        if words is None:
            return None
        commands.append(words)
    return commands


def script_commands(script: str) -> list[list[str]] | None:
    """The simple commands bash runs for ``script`` (program and arguments, in order), when
    it is a plain list of them whose every word is literal; ``None`` otherwise. For display
    and for checking our reading against bash's."""
    commands = _commands(script, _BASH)
    if commands is None or not all(word.literal for words in commands for word in words):
        return None
    return [[word.text for word in words] for words in commands]


@cache
def _search_path_is_absolute(search_path: str) -> bool:
    """Whether program names resolve outside the working folder: with ``.`` (or an empty or
    relative entry) on PATH, ``ls`` may be a program the repository ships."""
    return all(entry.startswith("/") for entry in search_path.split(":"))


def is_read_only(argv: list[str], cwd: Path | None = None) -> bool:
    """Whether ``argv`` certainly only reads (files, repository state, system facts) and
    reads nothing of the kernel's (``/proc``, ``/sys``).

    ``cwd`` is where the command will run: relative paths are resolved from it (symlinks
    included) and git's repository config is checked there. Without it, relative paths are
    taken to stay below an unknown folder and the repository config is not checked.
    """
    if not argv or not _search_path_is_absolute(os.environ.get("PATH", "")):
        return False
    places = Places(cwd)
    dialect = _SHELLS.get(argv[0])
    if dialect is not None:
        if len(argv) != 3 or argv[1] not in _SHELL_FLAGS:
            return False
        commands = _commands(argv[2], dialect)
        return commands is not None and all(
            _program_ok(words[0].text, words[1:], places) for words in commands
        )
    # No shell involved: every argument reaches the program exactly as written.
    return _program_ok(argv[0], [literal_word(arg) for arg in argv[1:]], places)

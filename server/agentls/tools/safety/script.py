"""Reading a shell script with bash's own grammar, into the simple commands it runs.

Scripts (``bash -lc SCRIPT``) are read with tree-sitter-bash, not a lexer of our own: a
hand-written lexer read ``$'\\''`` differently from bash and let ``echo $'\\'' ; touch x # '``
pass as one ``echo``. The grammar gives the structure; only plain lists of simple commands
(``;``, newline, ``&&``, ``||``, ``|``) are accepted, and each word is decoded by bash's
quoting rules (:mod:`.words`). Whatever is not such a list reads as ``None``, which the
caller takes as "unsafe".

Refused outright: parse errors, command and process substitution, arithmetic, ``${...}``
with operators, subshells and groups, control flow, functions, background jobs,
here-documents and here-strings, assignments other than a few locale settings (and
``GIT_DIR`` / ``GIT_WORK_TREE`` before ``git``, which its check reads), text the
grammar skips but bash reads (an escaped space before ``#``), and every redirection except
duplicating one standard descriptor onto another (``2>&1``, ``>&2``): even ``>/dev/null``
and ``< file`` are refused, since the grammar of redirections is where a write hides
(``>&file`` writes a file) and those forms are easy to do without. (``eval``, ``exec`` and
``source`` parse as simple commands; they are refused because no rule lists them.)
"""

from __future__ import annotations

import itertools
import re
import threading
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING

from agentls.tools.safety.words import BASH, Dialect, Word, decode_word

if TYPE_CHECKING:
    from tree_sitter import Node, Parser

__all__ = ["SimpleCommand", "script_commands", "simple_commands"]

_STATEMENT_JOINERS = {"program": {";"}, "list": {"&&", "||"}, "pipeline": {"|"}}
_ASSIGNABLE = frozenset(
    {"LANG", "LC_ALL", "LC_COLLATE", "LC_CTYPE", "LC_MESSAGES", "LC_NUMERIC", "LC_TIME"}
    | {"TZ", "NO_COLOR", "COLUMNS"}
)
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9_.@:+-]*")
# Where git finds its repository: allowed before `git` only, and checked by git's own rule.
# No `~` or `:` (bash expands a tilde after either in an assignment).
GIT_LOCATION_VARIABLES = frozenset({"GIT_DIR", "GIT_WORK_TREE"})
_PATH_VALUE = re.compile(r"[A-Za-z0-9_.@+/,=-]+")


@dataclass
class SimpleCommand:
    """One simple command: its words (program first) and the variables assigned before it."""

    words: list[Word]
    assignments: dict[str, Word] = field(default_factory=dict)


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


# Nodes read as a whole (their text is decoded by .words), not as their children.
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


def _assignment(node: Node, dialect: Dialect) -> tuple[str, Word] | None:
    """The name and value of an assignment before a command, if it is one we allow."""
    name_node = node.child_by_field_name("name")
    value = node.child_by_field_name("value")
    name = (name_node.text or b"").decode() if name_node is not None else ""
    if name not in _ASSIGNABLE and name not in GIT_LOCATION_VARIABLES:
        return None
    if value is None:
        return None if name in GIT_LOCATION_VARIABLES else (name, Word("", None))
    word = decode_word(value, dialect)
    pattern = _PATH_VALUE if name in GIT_LOCATION_VARIABLES else _PLAIN_VALUE
    if word is None or not word.literal or pattern.fullmatch(word.text) is None:
        return None
    return name, word


def _decode_command(node: Node, script: bytes, dialect: Dialect) -> SimpleCommand | None:
    """The program, arguments and assignments of a simple command, or ``None`` if not
    understood."""
    children = node.children
    for before, after in itertools.pairwise(children):
        if not _separated(script, before, after):
            return None
    words: list[Word] = []
    assignments: dict[str, Word] = {}
    for child in children:
        if child.type == "variable_assignment" and not words:
            assignment = _assignment(child, dialect)
            if assignment is None:
                return None
            assignments[assignment[0]] = assignment[1]
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
    if not words or not words[0].literal:
        return None
    return SimpleCommand(words, assignments)


def simple_commands(script: str, dialect: Dialect) -> list[SimpleCommand] | None:
    """The simple commands ``script`` runs when read by ``dialect``'s shell, each as its
    program, arguments and assignments; ``None`` when it is anything but a plain list of
    them."""
    source = script.encode("utf-8", "surrogateescape")
    root = _parse(source)
    if root.has_error or not _only_blanks_between_tokens(root, source):
        return None
    nodes: list[Node] = []
    if not _collect(root, nodes) or not nodes:
        return None
    commands: list[SimpleCommand] = []
    for node in nodes:
        command = _decode_command(node, source, dialect)
        if command is None:
            return None
        commands.append(command)
    return commands


def script_commands(script: str) -> list[list[str]] | None:
    """The simple commands bash runs for ``script`` (program and arguments, in order), when
    it is a plain list of them whose every word is literal; ``None`` otherwise. For display
    and for checking our reading against bash's."""
    commands = simple_commands(script, BASH)
    if commands is None or not all(word.literal for c in commands for word in c.words):
        return None
    return [[word.text for word in command.words] for command in commands]

"""Whether a sed script only prints, read by sed's own command syntax.

sed is a language: ``w FILE`` writes, ``e`` runs a command, ``s///w`` and ``s///e`` do
the same as flags. Rather than search the script for those, the script is read command by
command, and only the commands that print or move through the input are accepted; anything
else (``w``, ``W``, ``e``, ``r``, labels, text commands) is refused rather than followed.
"""

from __future__ import annotations

import re

__all__ = ["sed_script_ok"]

_SED_ADDRESS = re.compile(r"\s*(?:\d+(?:~\d+)?|\$|/(?:[^/\\\n]|\\[^\n])*/I?M?)")
_SED_SIMPLE = frozenset("pdqQ=lnNPDhHgGxz{}")
_SED_S_FLAGS = frozenset("gpiImM0123456789")


def _sed_address(script: str, i: int) -> int:
    match = _SED_ADDRESS.match(script, i)
    if match is None:
        return i
    i = match.end()
    if script.startswith(",", i):
        following = _SED_ADDRESS.match(script, i + 1)
        if following is None:
            raise ValueError("range without an end")
        i = following.end()
    return i


def _sed_delimited(script: str, i: int, delimiter: str, parts: int) -> int:
    """Skips ``parts`` delimited fields of an ``s`` or ``y`` command starting at ``i``."""
    for _ in range(parts):
        while True:
            if i >= len(script) or script[i] == "\n":
                raise ValueError("unterminated command")
            if script[i] == "\\":
                i += 2
                continue
            if script[i] == delimiter:
                i += 1
                break
            i += 1
    return i


def sed_script_ok(script: str) -> bool:
    """Whether a sed script only prints: addresses with ``p d q = l n N ...``, ``s`` and ``y``
    without the ``w``/``e`` flags. Anything else (``w``, ``W``, ``e``, ``r``, labels, text
    commands) is refused rather than followed."""
    i = 0
    try:
        while i < len(script):
            if script[i] in " \t\n;":
                i += 1
                continue
            i = _sed_address(script, i)
            while i < len(script) and script[i] in " \t!":
                i += 1
            if i >= len(script):
                return False
            command = script[i]
            i += 1
            if command == "{":
                continue  # a block opens; its first command follows directly
            if command in _SED_SIMPLE:
                if command in "qQ":
                    while i < len(script) and script[i].isdigit():
                        i += 1
            elif command in "sy":
                if i >= len(script) or script[i] in "\\\n":
                    return False
                i = _sed_delimited(script, i + 1, script[i], 2)
                if command == "s":
                    while i < len(script) and script[i] in _SED_S_FLAGS:
                        i += 1
            else:
                return False
            while i < len(script) and script[i] in " \t":
                i += 1
            if i < len(script) and script[i] not in ";\n}":
                return False
    except ValueError:
        return False
    return True

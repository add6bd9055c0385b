"""Keeping auto-approved commands away from ``/proc`` and ``/sys``.

Reading ``/proc/<server pid>/environ`` (or ``/proc/self/environ`` of a child, which
inherits it) would hand the API key to the model, and a command that only reads is
otherwise approved without asking. So a command is not read-only when any argument may
name something under ``/proc`` or ``/sys``: written there directly, reached through
``..``, through a symlink (``/dev/fd``, a link checked into a hostile repository), a glob,
or an option value (``--file=/proc/...``, ``-f/proc/...``); and a command that reads whole
trees (``grep -r``, ``rg``) must not start at ``/``.

Relative paths are resolved against every directory the script may be in: the working
directory given by the caller and whatever ``cd`` may have changed it to (a ``cd`` may
fail, so both stay possible). Without a working directory, a path that climbs out with
``..`` cannot be placed, and is refused when it mentions ``proc`` or ``sys`` at all.
"""

from __future__ import annotations

import glob
import itertools
import os
import posixpath
import stat
from collections import deque
from pathlib import Path

from agentls.tools.safety.words import DYNAMIC, Word

__all__ = ["Places"]

_KERNEL = frozenset({"proc", "sys"})
_MAX_PLACES = 8
_MAX_GLOB_MATCHES = 1000
_MAX_SYMLINKS = 40
_VALUE_SEPARATORS = "=:,"


def _under_kernel(path: str) -> bool:
    """Whether a normalised path lies in a kernel filesystem (case-insensitively, to be safe)."""
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if path.startswith("/"):
        return bool(parts) and parts[0].lower() in _KERNEL
    # A relative path that climbs out of an unknown place could land anywhere.
    return bool(parts) and parts[0] == ".." and any(p.lower() in _KERNEL for p in parts)


def _resolve(path: str) -> str | None:
    """The real location of the absolute ``path``, or ``None`` if any step passes through a
    kernel filesystem or the symlinks loop."""
    parts = deque(path.split("/"))
    current = "/"
    hops = 0
    while parts:
        part = parts.popleft()
        if part in ("", "."):
            continue
        if part == "..":
            current = posixpath.dirname(current)
            continue
        candidate = posixpath.join(current, part)
        if _under_kernel(candidate):
            return None
        try:
            info = os.lstat(candidate)
        except OSError:
            # It does not exist (or cannot be seen): what remains is plain text.
            rest = posixpath.normpath(posixpath.join(candidate, *parts))
            return None if _under_kernel(rest) else rest
        if stat.S_ISLNK(info.st_mode):
            hops += 1
            if hops > _MAX_SYMLINKS:
                return None
            try:
                target = os.readlink(candidate)
            except OSError:
                return None
            parts.extendleft(reversed(target.split("/")))
            if target.startswith("/"):
                current = "/"
            continue
        current = candidate
    return current


def _candidates(text: str) -> list[str]:
    """The word itself and every part of it that an option may take as a file name."""
    found = [text]
    if text.startswith("-"):
        found.extend(text[i + 1 :] for i, char in enumerate(text) if char in _VALUE_SEPARATORS)
        if not text.startswith("--"):
            # `-f/proc/x`, `-rf/proc/x`: whatever follows the option letters.
            letters = 1
            while letters < len(text) and text[letters].isalnum():
                letters += 1
                found.append(text[letters:])
    return [candidate for candidate in found if candidate]


class Places:
    """The directories a script may be in at one point of it, as seen by ``cd``."""

    def __init__(self, cwd: Path | None) -> None:
        start = posixpath.normpath(str(cwd)) if cwd is not None else "."
        if cwd is not None and not start.startswith("/"):
            start = posixpath.normpath(posixpath.join(os.getcwd(), start))
        self._dirs: set[str] = {start}

    @property
    def known(self) -> list[Path]:
        """The places whose absolute location is known."""
        return [Path(place) for place in sorted(self._dirs) if place.startswith("/")]

    def locate(self, place: str, text: str) -> str | None:
        """Where ``text`` leads from ``place``: the real path, or the lexical one when the
        place is unknown; ``None`` when it may touch a kernel filesystem."""
        joined = posixpath.join(place, text)
        lexical = posixpath.normpath(joined)
        if lexical.startswith("//"):
            lexical = "/" + lexical.lstrip("/")
        if _under_kernel(lexical):
            return None
        if not lexical.startswith("/"):
            return lexical
        # Not the lexical form: `link/..` is the parent of the link's target, not `.`.
        return _resolve(joined)

    def cd(self, target: Word) -> bool:
        """Follows ``cd target``; ``False`` if the target is unsafe or we lose track."""
        if not target.literal or not self.word_ok(target, recursive=False):
            return False
        moved: set[str] = set()
        for place in self._dirs:
            location = self.locate(place, target.text)
            if location is None:
                return False
            moved.add(location)
        self._dirs |= moved
        return len(self._dirs) <= _MAX_PLACES

    def _text_ok(self, text: str, recursive: bool) -> bool:
        for place in self._dirs:
            location = self.locate(place, text)
            if location is None:
                return False
            if recursive and (location == "/" or location.startswith("..")):
                return False
        return True

    def word_ok(self, word: Word, recursive: bool, options_matter: bool = False) -> bool:
        """Whether ``word`` cannot name anything under ``/proc`` or ``/sys``; with
        ``recursive``, also that it cannot be the root of the whole filesystem."""
        if DYNAMIC in word.text:
            return self._dynamic_ok(word, recursive)
        if word.pattern is not None:
            return self._glob_ok(word.pattern, word.text, recursive, options_matter)
        return all(self._text_ok(text, recursive) for text in _candidates(word.text))

    def here_ok_for_recursion(self) -> bool:
        """Whether a command that reads the tree below its working directory may run."""
        return self._text_ok(".", recursive=True)

    def _dynamic_ok(self, word: Word, recursive: bool) -> bool:
        # `$HOME/x`, `~/x`, `$PWD/x`: the value comes from the environment (or from `cd`), so
        # it is checked as if it were `/` or empty, the two values that reach furthest:
        # `$PWD/proc/self/environ` after `cd /` is caught that way.
        if recursive or word.pattern is not None:
            return False
        for text in _candidates(word.text):
            if ".." in text.split("/"):
                return False
            for value in ("/", ""):
                if not self._text_ok(text.replace(DYNAMIC, value), recursive):
                    return False
        return True

    def _glob_ok(self, pattern: str, text: str, recursive: bool, options_matter: bool) -> bool:
        """A glob is checked by expanding it where the script may be. A match that looks
        like an option (a file named ``-R`` shipped by a repository) is refused, and so is a
        pattern that could produce one where it cannot be expanded, when options matter."""
        if "**" in pattern:
            return False  # `globstar` would make it recurse into anything
        if not self._text_ok(text, recursive):
            return False
        if pattern.startswith("/"):
            first = next((part for part in pattern.split("/") if part), "")
            if any(char in first for char in "*?["):
                return False
            roots: list[str | None] = [None]
        else:
            roots = [place for place in self._dirs if place.startswith("/")]
            if options_matter and pattern[0] in "*?" and len(roots) < len(self._dirs):
                return False
        for root in roots:
            matches = list(
                itertools.islice(
                    glob.iglob(pattern, root_dir=root, include_hidden=True),
                    _MAX_GLOB_MATCHES + 1,
                )
            )
            if len(matches) > _MAX_GLOB_MATCHES:
                return False
            for match in matches:
                if match.startswith("-") or not self._text_ok(match, recursive):
                    return False
        return True

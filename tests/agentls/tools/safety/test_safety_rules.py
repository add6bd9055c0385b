"""Program rules: options that write or run, in every abbreviation getopt accepts; sed."""

from __future__ import annotations

import pytest
from tests.agentls.tools.safety.safety_helpers import sh

from agentls.tools.safety import is_read_only
from agentls.tools.safety.rules import RULES

# --------------------------------------------------------------------------------------------
# Options: every abbreviation getopt accepts
# --------------------------------------------------------------------------------------------


def _forbidden_prefixes() -> list[list[str]]:
    cases: list[list[str]] = []
    for program, rule in RULES.items():
        if rule.options is None:
            continue
        for name in sorted(rule.options.forbidden_long):
            for end in range(1, len(name) + 1):
                cases.append([program, f"--{name[:end]}", "x"])
                cases.append([program, f"--{name[:end]}=x", "y"])
    for name in ("output", "ext-diff", "textconv", "open-files-in-pager", "exec"):
        for end in range(1, len(name) + 1):
            cases.append(["git", "diff", f"--{name[:end]}=x"])
    return cases


@pytest.mark.parametrize("argv", _forbidden_prefixes(), ids=repr)
def test_every_abbreviation_of_a_forbidden_option_is_refused(argv: list[str]) -> None:
    assert not is_read_only(argv)


def test_abbreviations_are_resolved_against_the_full_list() -> None:
    # `file --comp` is getopt's reading of --compile, which writes a file.
    assert not is_read_only(["file", "--comp", "-m", "magic"])
    assert not is_read_only(sh("file --comp -m magic"))
    # Unambiguous abbreviations of harmless options still pass...
    assert is_read_only(["file", "--mime-t", "x"])
    assert is_read_only(["sort", "--rev", "x"])
    assert is_read_only(["rg", "--pretty", "x"])
    assert is_read_only(["grep", "--line-n", "x", "f"])
    # ...options we do not know do not.
    assert not is_read_only(["sort", "--frobnicate", "x"])
    # A value-taking short option swallows the rest of its cluster: `-to` sets the field
    # separator to "o", and `-k1o`'s "o" is part of the key, not --output.
    assert is_read_only(["sort", "-to", "x"])
    assert not is_read_only(["sort", "-ro", "out", "x"])


@pytest.mark.parametrize(
    "argv",
    [
        ["rg", "-z", "x"],
        ["rg", "-nz", "x"],
        ["rg", "--search-zip", "x"],
        ["rg", "--pre-glob=*", "x"],
        ["rg", "-L", "x"],
        ["file", "-z", "x"],
        ["file", "-p", "x"],
        ["file", "--no-sandbox", "x"],
        ["sort", "-T", "/tmp", "x"],
        # A list shipped in the repository could name /proc/self/environ.
        ["sort", "--files0-from=names"],
        ["grep", "-R", "x", "."],
        ["tree", "-R"],
        ["date", "-s", "now"],
        ["date", "--se=now"],
        ["sed", "-i", "s/a/b/", "f"],
        ["sed", "-ibak", "s/a/b/", "f"],
        ["sed", "--in=bak", "s/a/b/", "f"],
        ["sed", "-f", "script", "f"],
        ["sed", "s/a/b/w out", "f"],
        ["sed", "s/a/b/e", "f"],
        ["sed", "1w out", "f"],
        ["sed", "1W out", "f"],
        ["sed", "1e touch x", "f"],
        ["sed", "1r /etc/passwd", "f"],
        ["sed", "-n", "1p;w out", "f"],
        ["sed", "-e", "p", "-e", "w out", "f"],
        ["sed", "s/a/b/gw out", "f"],
        ["sed", "s|a|b|w out", "f"],
        ["sed", "y/ab/cd/;e", "f"],
        ["sed"],
        ["find", ".", "-fprint0", "out"],
        ["find", ".", "-okdir", "rm", ";"],
    ],
    ids=repr,
)
def test_options_that_write_or_execute_are_refused(argv: list[str]) -> None:
    assert not is_read_only(argv)


@pytest.mark.parametrize(
    "argv",
    [
        ["sed", "-n", "1,5p", "f"],
        ["sed", "-n", "/start/,/end/p", "f"],
        ["sed", "s/a/b/g", "f"],
        ["sed", "-E", "s|x(y)|\\1|2", "f"],
        ["sed", "-n", "$p", "f"],
        ["sed", "10q", "f"],
        ["sed", "-e", "1d", "-e", "s/x/y/", "f"],
        ["sed", "/^#/d;s/ *$//", "f"],
        ["sed", "-n", "2{p;q}", "f"],
        ["sed", "s/w/e/", "f"],  # w and e as text, not as flags
    ],
    ids=repr,
)
def test_sed_that_only_prints_is_read_only(argv: list[str]) -> None:
    assert is_read_only(argv)

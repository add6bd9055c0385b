"""Reading scripts with bash's grammar: every word as bash passes it, everything else refused."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.agentls.tools.safety.safety_helpers import sh

from agentls.tools.safety import is_read_only, script_commands

_BASH = shutil.which("bash") or "/bin/bash"
_RECORDER = """#!/bin/sh
{ printf '%s\\0' "${0##*/}" "$@"; printf '\\1\\0'; } >> "$RECORD"
"""


def _run_in_bash(script: str) -> list[list[str]]:
    """The commands bash really runs for ``script`` (builtins excepted): every program name
    the script uses is a stub on PATH that records its arguments."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        stubs = Path(folder)
        record = stubs / "record"
        for name in ("echo", "touch", "ls", "c1", "c2"):
            stub = stubs / name
            stub.write_text(_RECORDER)
            stub.chmod(0o755)
        # `enable -n echo` makes bash use the stub instead of its builtin.
        subprocess.run(
            [_BASH, "--norc", "--noprofile", "-c", "enable -n echo\n" + script],
            env={"PATH": str(stubs), "RECORD": str(record), "HOME": str(stubs)},
            cwd=stubs,
            capture_output=True,
            check=False,
        )
        if not record.exists():
            return []
        records = record.read_bytes().decode().split("\0\1\0")
        return [record.split("\0") for record in records if record]


# --------------------------------------------------------------------------------------------
# Holes found by probing (issue 9), and the grammar-based reading that closes them.
# --------------------------------------------------------------------------------------------


def test_ansi_c_quote_is_read_as_bash_reads_it() -> None:
    # bash: `echo "'"` then `touch /tmp/x`, then a comment. The old lexer saw one echo.
    assert not is_read_only(["bash", "-lc", "echo $'\\'' ; touch /tmp/x # '"])
    # And the opposite reading: dash has no $'...', so to `sh` this is echo, then touch.
    assert not is_read_only(["sh", "-c", "echo $'a\\' ; touch x ; \\''"])
    # The same word is fine in bash, where it is one argument.
    assert is_read_only(["bash", "-lc", "echo $'a\\' ; touch x ; \\''"])


@pytest.mark.parametrize(
    ("script", "words"),
    [
        ("echo $'\\x41\\101\\u0041\\n\\t'", ["echo", "AAA\n\t"]),
        ("echo 'a'\"b\"c\\ d", ["echo", "abc d"]),
        ('echo "a\\$b\\\\c\\"d\\x"', ["echo", 'a$b\\c"d\\x']),
        ("echo $'it\\'s' x", ["echo", "it's", "x"]),
        ("echo $'\\'' ; touch /tmp/x # '", [["echo", "'"], ["touch", "/tmp/x"]]),
    ],
)
def test_words_decode_to_what_bash_passes(script: str, words: list[Any]) -> None:
    expected = words if isinstance(words[0], list) else [words]
    assert script_commands(script) == expected
    assert _run_in_bash(script) == expected


UNSAFE_GRAMMAR: list[list[str]] = [
    sh("ls >& out"),  # `>&word` writes the file `word`
    sh("ls 2>&1 > out"),
    sh("ls 2>/dev/null"),  # decided: no redirection to any file, /dev/null included
    sh("ls > /dev/null"),
    sh("ls 2>&-"),
    sh("cat <<< x"),
    sh("cat <<'EOF'\nx\nEOF"),
    sh('echo $"x"'),  # locale string
    sh("echo ${HOME}x${PATH:+y}"),
    sh("echo $PPID"),  # only a few user variables may expand
    sh("echo $1 $@ $#"),
    sh("PATH=/tmp ls"),
    sh("LD_PRELOAD=/tmp/x.so ls"),
    sh("LANG=../x ls"),
    sh("f() { ls; }; f"),
    sh("eval ls"),
    sh("source x"),
    sh(". x"),
    sh("exec ls"),
    sh("command ls"),
    sh("builtin cd"),
    sh("[[ -f x ]]"),
    sh("test -f x"),
    sh("ls a\\\nb"),  # bash joins the line: one word `ab`; tree-sitter sees two
    # tree-sitter skips an escaped space at a word's start; bash starts a word ` #` with it,
    # so the `#` is no comment and `rm` runs (found by the differential test below).
    sh("echo \\ #; rm x"),
    sh("echo \\ a"),
    sh("ls\r"),
    sh("echo {a,b}"),
    sh("echo [ab]"),
    sh("echo ~root"),
    sh("echo $(( x=1 ))"),
    sh("cat <(ls)"),
    sh("ls >(cat)"),
    sh("cd"),
    sh("cd -"),
    sh("cd a b"),
    ["zsh", "-c", "ls *(e:'touch x':)"],
    ["zsh", "-c", "echo $HOME"],  # zsh gets literal words only
    ["bash", "-lc", "echo \x00"],
]


@pytest.mark.parametrize("argv", UNSAFE_GRAMMAR, ids=repr)
def test_constructs_not_understood_are_unsafe(argv: list[str]) -> None:
    assert not is_read_only(argv)


def test_descriptor_duplication_is_allowed() -> None:
    assert is_read_only(sh("ls 2>&1 | head"))
    assert is_read_only(sh("ls >&2"))
    assert is_read_only(sh("LC_ALL=C sort x"))


def test_only_the_standard_descriptors_may_be_duplicated() -> None:
    assert not is_read_only(sh("cat <&3"))
    assert not is_read_only(sh("ls 2>&5"))
    assert not is_read_only(sh("ls 7>&1"))


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------

_PLAIN = st.text(alphabet="abcXYZ019-_.,:=+%@/", min_size=1, max_size=6)
_ESCAPED = st.sampled_from(list(";'\"$\\ |&<>()`*?[]{}~#!")).map(lambda c: "\\" + c)
_SINGLE = st.text(alphabet='ab "$\\;`|&<>*?#\n', max_size=6).map(lambda t: f"'{t}'")
_DOUBLE = st.lists(
    st.one_of(
        st.text(alphabet="ab '#;|&<>*?~\n", min_size=1, max_size=4),
        st.sampled_from(['\\"', "\\$", "\\\\", "\\`", "\\a", "\\'"]),
    ),
    max_size=4,
).map(lambda parts: '"' + "".join(parts) + '"')
_ANSI = st.lists(
    st.one_of(
        st.text(alphabet='ab "$;#|&<>*? ', min_size=1, max_size=4),
        st.sampled_from(["\\'", "\\\\", "\\n", "\\t", "\\x41", "\\101", '\\"', "\\e", "\\?"]),
    ),
    max_size=4,
).map(lambda parts: "$'" + "".join(parts) + "'")
_WORD = st.lists(st.one_of(_PLAIN, _ESCAPED, _SINGLE, _DOUBLE, _ANSI), min_size=1, max_size=3).map(
    "".join
)
_COMMAND = st.tuples(st.sampled_from(["c1", "c2", "echo", "ls"]), st.lists(_WORD, max_size=4)).map(
    lambda command: " ".join([command[0], *command[1]])
)
_SCRIPT = st.lists(
    st.tuples(_COMMAND, st.sampled_from([" ; ", ";", "\n", " && "])), min_size=1, max_size=3
).map(lambda commands: "".join(command + separator for command, separator in commands))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_SCRIPT)
def test_our_reading_of_words_is_bashs(script: str) -> None:
    """Whenever the classifier claims to know what a script runs, bash runs exactly that."""
    commands = script_commands(script)
    if commands is not None:
        assert commands == _run_in_bash(script)


SAFE_CORPUS: list[str] = [
    "ls -la",
    "cat README.md",
    "rg foo src",
    "git status",
    "git log --oneline -5",
    "grep -rn x .",
    "head -n 5 f",
    "wc -l",
    "pwd",
    "echo hi",
    "find . -name '*.py' -type f",
    "sed -n 1,5p f",
    "cat a | grep b | head",
]


@pytest.mark.parametrize("script", SAFE_CORPUS)
def test_safe_corpus_stays_auto_approved(script: str, tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    assert is_read_only(sh(script), tmp_path)
    assert is_read_only(sh(script))


_DANGEROUS_SUFFIXES = st.sampled_from(
    [
        "> out",
        ">out",
        ">> out",
        "2> out",
        "&> out",
        ">| out",
        "$(rm -rf x)",
        "`rm -rf x`",
        '"$(rm x)"',
        ";rm -rf x",
        "; rm x",
        "&& rm x",
        "| sh",
        "& rm x",
        "\nrm x",
        "<(rm x)",
        "$((x=1))",
    ]
)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(SAFE_CORPUS),
    st.lists(st.text(alphabet="abc-./_019", min_size=1, max_size=5), max_size=3),
    st.sampled_from(["", " "]),
    _DANGEROUS_SUFFIXES,
)
def test_dangerous_suffixes_are_never_read_only(
    script: str, filler: list[str], space: str, suffix: str
) -> None:
    assert not is_read_only(sh(" ".join([script, *filler]) + space + suffix))

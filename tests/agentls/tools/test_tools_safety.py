from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentls.tools.safety import git_safe_env, is_read_only, script_commands
from agentls.tools.safety.rules import RULES


def sh(script: str) -> list[str]:
    return ["bash", "-lc", script]


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


READ_ONLY: list[list[str]] = [
    ["ls"],
    ["ls", "-la"],
    ["cat", "README.md"],
    ["head", "-n", "20", "file.txt"],
    ["tail", "-f", "log"],
    ["wc", "-l", "a", "b"],
    ["pwd"],
    ["echo", "hello; rm -rf /"],  # direct argv: no shell, the ; is just text
    ["grep", "-rn", "TODO", "."],
    ["rg", "--pretty", "foo"],
    ["find", ".", "-name", "*.py"],
    ["which", "python"],
    ["file", "x.bin"],
    ["stat", "x"],
    ["tree", "-L", "2"],
    ["nl", "x"],
    ["sort", "-u", "x"],
    ["uniq", "-c", "x"],
    ["uniq", "-f", "1", "x"],
    ["cut", "-d:", "-f1", "/etc/passwd"],
    ["tr", "a-z", "A-Z"],
    ["diff", "-u", "a", "b"],
    ["du", "-sh", "."],
    ["df", "-h"],
    ["date", "+%s"],
    ["whoami"],
    ["uname", "-a"],
    ["git", "status"],
    ["git", "log", "--oneline", "-n", "5"],
    ["git", "diff", "--stat"],
    ["git", "show", "HEAD"],
    ["git", "rev-parse", "HEAD"],
    ["git", "ls-files", "-o"],
    ["git", "blame", "x.py"],
    ["git", "--no-pager", "log"],
    ["git", "-C", "sub", "status"],
    sh("ls -la"),
    ["bash", "-c", "ls"],
    ["sh", "-c", "ls"],
    ["zsh", "-lc", "ls"],
    ["/bin/bash", "-lc", "ls"],
    ["/usr/bin/zsh", "-c", "ls"],
    sh("cd src && ls"),
    sh("ls && pwd"),
    sh("ls || pwd"),
    sh("ls; pwd;"),
    sh("cat x | grep foo | wc -l"),
    sh("git status && git diff"),
    sh("grep -rn 'foo > bar' ."),  # quoted operator characters
    sh('echo "a; b && c | d"'),
    sh("grep 'x$' file"),
    sh("grep '$(not a substitution)' file"),
    sh("echo $HOME"),
    sh("cat *.py"),
    sh("ls ~"),
    sh("find . -name '*.py' -type f"),
    sh('find . -name "*.md"'),
    sh("rg -n 'def ' src | head -50"),
    sh("ls\npwd"),
    sh("ls # a comment; rm -rf /"),
    sh("echo a#b"),
    sh("ls \\\n  -la"),
    sh("nl -ba file | cat"),
    sh("ls &&\n  pwd"),
    sh("sort file | uniq -c | sort -rn | head"),
    sh("date -u"),
    sh("git log -p -- file.py"),
    # Was unsafe only because sed was not listed; sed without -i/-f/w/W/e/r now is.
    ["sed", "-n", "1p", "x"],
]


UNSAFE: list[list[str]] = [
    [],
    [""],
    ["rm", "-rf", "/"],
    ["/bin/ls"],  # only bare, well-known names
    ["./ls"],
    ["python", "-c", "print(1)"],
    ["env"],
    ["env", "rm", "x"],
    ["xargs", "rm"],
    ["find", ".", "-delete"],
    ["find", ".", "-exec", "rm", "{}", ";"],
    ["find", ".", "-execdir", "ls", ";"],
    ["find", ".", "-ok", "rm", "{}", ";"],
    ["find", ".", "-fprint", "out"],
    ["find", ".", "-fprintf", "out", "%p"],
    ["find", ".", "-fls", "out"],
    ["sort", "-o", "out", "in"],
    ["sort", "-uo", "out", "in"],
    ["sort", "--output=out", "in"],
    ["sort", "--out=out", "in"],  # GNU accepts unambiguous abbreviations
    ["sort", "--compress-program=sh", "in"],
    ["uniq", "in", "out"],
    ["uniq", "-c", "in", "out"],
    ["uniq", "--", "in", "out"],
    ["tree", "-o", "out"],
    ["file", "-C", "-m", "magic"],
    ["date", "-s", "2020-01-01"],
    ["date", "--set=2020-01-01"],
    ["rg", "--pre", "sh", "x"],
    ["rg", "--pre=./evil", "x"],
    ["rg", "--hostname-bin=./evil", "x"],
    ["git"],
    ["git", "commit", "-m", "x"],
    ["git", "push"],
    ["git", "checkout", "."],
    ["git", "branch", "-D", "main"],
    ["git", "-c", "core.pager=sh", "log"],
    ["git", "--git-dir=/tmp/x", "log"],
    ["git", "diff", "--output=x"],
    ["git", "log", "--output", "x"],
    ["git", "diff", "--ext-diff"],
    ["git", "-C"],
    ["bash", "-lc"],
    ["bash", "-lc", ""],
    ["bash", "-lc", "ls", "extra"],
    ["bash", "-x", "ls"],
    ["bash", "script.sh"],
    ["sudo", "ls"],
    sh("rm -rf /"),
    sh("ls && rm -rf /"),
    sh("ls; rm x"),
    sh("ls || rm x"),
    sh("ls | xargs rm"),
    sh("ls > out"),
    sh("ls >> out"),
    sh("ls 2>/dev/null"),
    sh("ls &>out"),
    sh("cat < in"),
    sh("cat <<EOF\nx\nEOF"),
    sh("cat <<< x"),
    sh("ls &"),
    sh("sleep 1 & ls"),
    sh("(ls)"),
    sh("ls |& cat"),
    sh("echo $(rm x)"),
    sh('echo "$(rm x)"'),
    sh("echo `rm x`"),
    sh('echo "`rm x`"'),
    sh("echo ${x:=1}"),
    sh("echo $((1+1))"),
    sh("cat <(rm x)"),
    sh("FOO=bar ls"),
    sh("ls\nrm -rf ~"),
    sh("ls -la\nrm -rf ~"),
    sh("ls a#b\nrm x"),
    sh("{ ls; }"),
    sh("if true; then ls; fi"),
    sh("for f in *; do cat $f; done"),
    sh("! ls"),
    sh("time ls"),
    sh("exec ls"),
    sh("ls 'unterminated"),
    sh('ls "unterminated'),
    sh("ls \\"),
    sh("l's' x; r'm' y"),
    sh("$CMD"),
    sh("l* x"),
    sh('find . ";" -delete'),  # a quoted ; is an argument of find, not a separator
    sh("find . -name x -delete"),
    sh("find . -de'lete'"),
    sh("find $DIR"),  # an expansion could become any option
    sh("find *"),  # a file named -delete...
    sh("find . -{del,}ete"),
    sh('find "$X"'),
    sh("sort * "),
    sh("uniq *"),
    sh("git log $OPTS"),
    sh("sort -o out in"),
    sh("git status && git commit -am x"),
    sh("cat x;; ls"),
    sh("ls ||| cat"),
    sh("ls &&"),
    sh("&& ls"),
    sh("ls | | cat"),
    sh("ls; && pwd"),
]


@pytest.mark.parametrize("argv", READ_ONLY, ids=repr)
def test_read_only(argv: list[str]) -> None:
    assert is_read_only(argv)


@pytest.mark.parametrize("argv", UNSAFE, ids=repr)
def test_unsafe(argv: list[str]) -> None:
    assert not is_read_only(argv)


def test_quoted_program_names_are_followed() -> None:
    # The shell removes the quotes, so this really is `ls`...
    assert is_read_only(sh("l's' -la"))
    # ... and this really is `rm`.
    assert not is_read_only(sh("'r'm x"))


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


# --------------------------------------------------------------------------------------------
# /proc and /sys: the server's environment (and the API key in it) stays out of reach
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["cat", "/proc/self/environ"],
        sh("cat /proc/$PPID/environ"),
        sh("cat /proc/self/environ"),
        sh('cat "/proc/$$/environ"'),
        sh("cat //proc/self/environ"),
        sh("cat /./proc/self/environ"),
        sh("cat /tmp/../proc/self/environ"),
        sh("cat /PROC/self/environ"),
        sh("cat /pro?/self/environ"),
        sh("cat /*/self/environ"),
        sh("cat /dev/fd/0"),  # a symlink into /proc/self/fd
        sh("cat /dev/stdin"),
        sh("cd /proc && cat self/environ"),
        sh("cd / && cat proc/self/environ"),
        sh("cd /; cd proc; cat self/environ"),
        sh("cd ..; cd ..; cd ..; cd ..; cd ..; cd ..; cat proc/self/environ"),
        sh("cat ../../../../../../../../proc/self/environ"),
        sh("ls /sys/class"),
        ["grep", "-f/proc/self/environ", "x"],
        ["grep", "--file=/proc/self/environ", "x"],
        ["head", "-c100", "/proc/1/environ"],
        ["wc", "--files0-from=/proc/self/cmdline"],
        sh("echo /proc"),
        sh("cat ~/../../proc/self/environ"),
        sh("cat $HOME/../proc/self/environ"),
        sh('cat "$PWD/../../../proc/self/environ"'),
        # Readers of whole trees may not start at the root, which holds /proc.
        sh("grep -r KEY /"),
        sh("grep -rn KEY //"),
        sh("grep --recursive KEY /"),
        sh("grep -d recurse KEY /"),
        sh("cd / && grep -r KEY"),
        sh("cd / && rg KEY"),
        sh("rg KEY /"),
        sh("rg KEY ../../../../../../../.."),
        sh("diff -r / /tmp"),
        sh("grep -r KEY ~"),
        # An expansion is checked as if it were `/` (or empty): PWD follows `cd`, HOME may be /.
        sh("cd / && cat $PWD/proc/self/environ"),
        sh("cat $HOME/proc/self/environ"),
        sh('cat "${PWD}/sys/kernel/x"'),
        sh("cat ~/*"),
    ],
    ids=repr,
)
def test_kernel_filesystems_are_out_of_reach(argv: list[str], tmp_path: Path) -> None:
    assert not is_read_only(argv, tmp_path)
    assert not is_read_only(argv)


def test_symlinks_in_the_workspace_are_followed(tmp_path: Path) -> None:
    (tmp_path / "README.md").symlink_to("/proc/self/environ")
    (tmp_path / "root").symlink_to("/")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "ok.py").write_text("x")
    (tmp_path / "src" / "env.py").symlink_to("../README.md")
    assert not is_read_only(["cat", "README.md"], tmp_path)
    assert not is_read_only(sh("cat src/env.py"), tmp_path)
    assert not is_read_only(sh("cat src/*.py"), tmp_path)  # the glob reaches env.py
    assert not is_read_only(sh("cd src && cat *"), tmp_path)
    assert not is_read_only(sh("grep -r KEY root"), tmp_path)
    assert not is_read_only(sh("cd root && rg KEY"), tmp_path)
    assert not is_read_only(sh("cat root/proc/self/environ"), tmp_path)
    (tmp_path / "src" / "env.py").unlink()
    assert is_read_only(sh("cat src/*.py"), tmp_path)
    assert is_read_only(sh("cd src && cat ok.py"), tmp_path)
    assert is_read_only(sh("grep -rn x src"), tmp_path)


def test_dot_dot_after_a_symlink_is_resolved_as_the_kernel_does(tmp_path: Path) -> None:
    # `up/..` is the parent of up's target (the root), not the folder holding `up`.
    (tmp_path / "deep").mkdir()
    (tmp_path / "deep" / "up").symlink_to("/etc")
    assert not is_read_only(sh("cat deep/up/../proc/self/environ"), tmp_path)
    assert not is_read_only(sh("cd deep/up/.. && cat proc/self/environ"), tmp_path)
    assert is_read_only(sh("cat deep/up/hostname"), tmp_path)


def test_only_the_standard_descriptors_may_be_duplicated() -> None:
    assert not is_read_only(sh("cat <&3"))
    assert not is_read_only(sh("ls 2>&5"))
    assert not is_read_only(sh("ls 7>&1"))


def test_a_relative_search_path_makes_nothing_read_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # With `.` on PATH, `ls` may be a program checked into the repository.
    (tmp_path / "ls").write_text("#!/bin/sh\ntouch pwned\n")
    monkeypatch.setenv("PATH", f".:{os.environ['PATH']}")
    assert not is_read_only(["ls"], tmp_path)
    monkeypatch.setenv("PATH", f"{os.environ['PATH']}:")  # an empty entry is `.` too
    assert not is_read_only(sh("ls"), tmp_path)


def test_globs_that_could_produce_options(tmp_path: Path) -> None:
    # A repository may ship a file named `-R` (follow every symlink) next to a link to /.
    (tmp_path / "-R").write_text("")
    (tmp_path / "a.txt").write_text("")
    assert not is_read_only(sh("grep KEY *"), tmp_path)
    assert not is_read_only(sh("cat *"), tmp_path)
    assert is_read_only(sh("grep KEY *.txt"), tmp_path)
    # Where the glob cannot be expanded, it may not start the word of a program whose
    # options we read.
    assert not is_read_only(sh("grep KEY *"))
    assert is_read_only(sh("grep KEY src/*"))


def test_ordinary_paths_are_fine(tmp_path: Path) -> None:
    assert is_read_only(["cat", "/etc/hostname"], tmp_path)
    assert is_read_only(sh("ls /"), tmp_path)
    assert is_read_only(sh("ls ..; cat ../x"), tmp_path)
    assert is_read_only(sh("grep -rn proc src/proc"), tmp_path)  # a folder named proc
    assert is_read_only(sh("cat fs/proc/base.c"))
    assert is_read_only(sh("find / -name environ"), tmp_path)  # names only


# --------------------------------------------------------------------------------------------
# git: read-only subcommands, and only in repositories whose config runs nothing
# --------------------------------------------------------------------------------------------


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    folder = tmp_path / "repo"
    folder.mkdir()
    _git(folder, "init", "-q")
    (folder / "a.txt").write_text("one\n")
    _git(folder, "add", "a.txt")
    _git(folder, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    return folder


DANGEROUS_GIT_CONFIG = [
    ("core.fsmonitor", "touch pwned"),
    ("core.pager", "sh -c 'touch pwned'"),
    ("core.sshCommand", "touch pwned"),
    ("core.editor", "touch pwned"),
    ("core.hooksPath", "hooks"),
    ("core.askPass", "touch pwned"),
    ("core.worktree", "/"),
    ("pager.log", "touch pwned"),
    ("alias.st", "!touch pwned"),
    ("diff.external", "touch pwned"),
    ("diff.evil.textconv", "touch pwned"),
    ("diff.evil.command", "touch pwned"),
    ("filter.evil.clean", "touch pwned"),
    ("filter.evil.process", "touch pwned"),
    ("include.path", "other.config"),
    ("includeIf.gitdir:/.path", "other.config"),
    ("gpg.program", "touch pwned"),
    ("gpg.ssh.program", "touch pwned"),
    ("credential.helper", "!touch pwned"),
    ("credential.https://x.helper", "!touch pwned"),
    ("interactive.diffFilter", "touch pwned"),
    ("sequence.editor", "touch pwned"),
    ("log.showSignature", "true"),
    ("remote.origin.uploadpack", "touch pwned"),
    ("merge.evil.driver", "touch pwned"),
    ("CORE.FSMONITOR", "touch pwned"),  # names are case-insensitive
]


@pytest.mark.parametrize(("key", "value"), DANGEROUS_GIT_CONFIG, ids=repr)
def test_git_is_asked_in_a_repository_whose_config_runs_programs(
    repo: Path, key: str, value: str
) -> None:
    assert is_read_only(["git", "status"], repo)
    _git(repo, "config", key, value)
    assert not is_read_only(["git", "status"], repo)
    assert not is_read_only(sh("git log --oneline -5"), repo)
    (repo / "sub").mkdir()
    assert not is_read_only(["git", "diff"], repo / "sub")  # found by walking up
    assert not is_read_only(sh("cd sub && git diff"), repo)
    assert not is_read_only(sh("git -C repo status"), repo.parent)


def test_config_that_only_reads_is_fine(repo: Path) -> None:
    _git(repo, "config", "user.name", "someone")
    _git(repo, "config", "diff.renames", "true")
    _git(repo, "config", "remote.origin.url", "https://example.invalid/x.git")
    assert is_read_only(["git", "log", "--oneline", "-5"], repo)


def test_config_written_by_hand_is_read_as_git_reads_it(repo: Path) -> None:
    config = repo / ".git" / "config"
    # A key on the section line, odd spacing and case: git still sees core.fsmonitor.
    config.write_text(config.read_text() + '[CoRe] FsMonitor = "touch pwned"\n')
    assert "core.fsmonitor" in _git(repo, "config", "--list")
    assert not is_read_only(["git", "status"], repo)


def test_a_config_git_cannot_parse_is_refused(repo: Path) -> None:
    (repo / ".git" / "config").write_text("[core\nbroken")
    assert not is_read_only(["git", "status"], repo)


def test_a_dot_git_file_is_followed(repo: Path, tmp_path: Path) -> None:
    # A linked worktree: its .git is a file naming a folder whose commondir is the main one.
    linked = tmp_path / "linked"
    _git(repo, "worktree", "add", "-q", str(linked))
    assert (linked / ".git").is_file()
    assert is_read_only(["git", "status"], linked)
    _git(repo, "config", "core.fsmonitor", "touch pwned")
    assert not is_read_only(["git", "status"], linked)


def test_a_dot_git_file_pointing_elsewhere(repo: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "work"
    elsewhere.mkdir()
    (elsewhere / ".git").write_text(f"gitdir: {repo / '.git'}\n")
    _git(repo, "config", "core.fsmonitor", "touch pwned")
    assert not is_read_only(["git", "status"], elsewhere)
    (elsewhere / ".git").write_text("not a gitdir line\n")
    assert not is_read_only(["git", "status"], elsewhere)


def test_submodule_configs_are_read(repo: Path) -> None:
    modules = repo / ".git" / "modules" / "lib"
    modules.mkdir(parents=True)
    (modules / "config").write_text("[core]\n\tfsmonitor = touch pwned\n")
    assert not is_read_only(["git", "status"], repo)


def test_embedded_repositories_configs_are_read(repo: Path) -> None:
    # A repository committed as a gitlink keeps its config in its own .git, and git status
    # in the outer one runs `git status` inside it.
    inner = repo / "inner"
    inner.mkdir()
    _git(inner, "init", "-q")
    (inner / "f").write_text("x\n")
    _git(inner, "add", "f")
    _git(inner, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x")
    _git(repo, "add", "inner")
    assert is_read_only(["git", "status"], repo)
    _git(inner, "config", "core.fsmonitor", "touch pwned")
    assert not is_read_only(["git", "status"], repo)


def test_worktree_config_is_read(repo: Path) -> None:
    (repo / ".git" / "config.worktree").write_text("[core]\n\tpager = touch pwned\n")
    assert not is_read_only(["git", "status"], repo)


def test_outside_any_repository_git_is_judged_by_its_arguments(tmp_path: Path) -> None:
    assert is_read_only(["git", "status"], tmp_path)


@pytest.mark.parametrize(
    "argv",
    [
        ["git", "-c", "core.pager=sh", "log"],
        ["git", "--exec-path=/tmp", "log"],
        ["git", "--config-env=core.pager=X", "log"],
        ["git", "-p", "log"],  # forces the pager
        ["git", "--paginate", "log"],
        ["git", "--work-tree=/", "status"],
        ["git", "log", "--format=%G?"],
        ["git", "log", "--pretty=format:%GS"],
        ["git", "log", "--show-signature"],
        ["git", "log", "--show-sig"],
        ["git", "diff", "--textconv"],
        ["git", "diff", "--text"],  # ambiguous with --textconv: refused rather than guessed
        ["git", "cat-file", "--filters", "HEAD:a.txt"],
        ["git", "grep", "-O", "x"],
        ["git", "grep", "--open-files-in-pager=sh", "x"],
        ["git", "describe", "--dirty"],
        ["git", "diff", "--no-index", "/", "/tmp"],
        ["git", "grep", "--no-index", "KEY"],
        ["git", "grep", "--no-i", "KEY"],
        ["git", "branch", "new"],
        ["git", "branch", "-d", "x"],
        ["git", "branch", "-m", "x"],
        ["git", "branch", "--set-upstream-to=x"],
        ["git", "branch", "--c", "x"],
        ["git", "remote", "add", "x", "y"],
        ["git", "fetch"],
        ["git", "help", "log"],
        ["git", "config", "--list"],
        ["git", "st"],  # could be an alias
    ],
    ids=repr,
)
def test_git_invocations_that_may_write_or_run(argv: list[str], repo: Path) -> None:
    assert not is_read_only(argv, repo)


@pytest.mark.parametrize(
    "argv",
    [
        ["git", "status", "--short"],
        ["git", "log", "--oneline", "-5"],
        ["git", "log", "--no-textconv", "-p"],
        ["git", "diff", "--no-ext-diff", "--stat"],
        ["git", "show", "HEAD:a.txt"],
        ["git", "branch", "-a", "-v"],
        ["git", "branch", "--list", "ma*"],
        ["git", "branch", "--contains", "HEAD"],
        ["git", "branch", "--show-current"],
        ["git", "remote", "-v"],
        ["git", "ls-files"],
        ["git", "rev-parse", "--show-toplevel"],
        ["git", "describe", "--always"],
        ["git", "grep", "-n", "one"],
        ["git", "log", "--format=%H %s"],
    ],
    ids=repr,
)
def test_git_invocations_that_only_read(argv: list[str], repo: Path) -> None:
    assert is_read_only(argv, repo)


def test_git_safe_env_disables_a_hostile_fsmonitor(repo: Path) -> None:
    marker = repo.parent / "pwned-by-fsmonitor"
    _git(repo, "config", "core.fsmonitor", f"touch {marker}")
    (repo / "a.txt").write_text("two\n")
    assert not is_read_only(["git", "status"], repo)
    # The classifier asks; should something still run git unasked, the overrides hold.
    env = {**os.environ, **git_safe_env()}
    done = subprocess.run(["git", "status"], cwd=repo, env=env, capture_output=True, text=True)
    assert done.returncode == 0
    assert "a.txt" in done.stdout
    assert not marker.exists()
    # Without them the same repository does run the program: the test is not vacuous.
    subprocess.run(["git", "status"], cwd=repo, capture_output=True, check=False)
    assert marker.exists()


def test_git_safe_env_keeps_diff_working(repo: Path) -> None:
    (repo / "a.txt").write_text("two\n")
    env = {**os.environ, **git_safe_env()}
    done = subprocess.run(["git", "diff"], cwd=repo, env=env, capture_output=True, text=True)
    assert done.returncode == 0
    assert "+two" in done.stdout
    assert env["GIT_PAGER"] == "cat"
    keys = {env[f"GIT_CONFIG_KEY_{i}"] for i in range(int(env["GIT_CONFIG_COUNT"]))}
    assert {"core.fsmonitor", "core.hooksPath", "core.pager"} <= keys

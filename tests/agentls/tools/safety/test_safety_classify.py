"""is_read_only as a whole: plain programs and scripts, what passes and what is asked."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.agentls.tools.safety.safety_helpers import sh

from agentls.tools.safety import is_read_only

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


def test_a_relative_search_path_makes_nothing_read_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # With `.` on PATH, `ls` may be a program checked into the repository.
    (tmp_path / "ls").write_text("#!/bin/sh\ntouch pwned\n")
    monkeypatch.setenv("PATH", f".:{os.environ['PATH']}")
    assert not is_read_only(["ls"], tmp_path)
    monkeypatch.setenv("PATH", f"{os.environ['PATH']}:")  # an empty entry is `.` too
    assert not is_read_only(sh("ls"), tmp_path)

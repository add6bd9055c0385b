"""Paths: /proc and /sys stay out of reach, however an argument names them."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.agentls.tools.safety.safety_helpers import sh

from agentls.tools.safety import is_read_only

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

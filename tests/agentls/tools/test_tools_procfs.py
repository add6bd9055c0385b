"""The /proc/<pid>/stat parser against real processes, including hostile command names."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from agentls.tools.procfs import list_pids, parse_stat, read_stat


def test_reads_own_process() -> None:
    stat = read_stat(os.getpid())
    assert stat is not None
    assert stat.pid == os.getpid()
    assert stat.ppid == os.getppid()
    assert stat.pgid == os.getpgid(0)
    assert stat.sid == os.getsid(0)
    assert stat.alive
    assert stat.start_time > 0


def test_command_name_with_parentheses_and_spaces(tmp_path: Path) -> None:
    sleep = shutil.which("sleep")
    assert sleep is not None
    # The kernel keeps the first 15 bytes of the file name as the command name.
    hostile = tmp_path / ") Z 1 1 (x"
    shutil.copy(sleep, hostile)
    proc = subprocess.Popen([str(hostile), "30"], start_new_session=True)
    try:
        stat = read_stat(proc.pid)
        assert stat is not None
        assert stat.comm == ") Z 1 1 (x"
        assert stat.state in ("R", "S")
        assert stat.ppid == os.getpid()
        assert stat.pgid == stat.sid == proc.pid
    finally:
        proc.kill()
        proc.wait()


def test_zombie_is_not_alive() -> None:
    proc = subprocess.Popen(["true"])
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
    try:
        stat = read_stat(proc.pid)
        assert stat is not None
        assert stat.state == "Z"
        assert not stat.alive
    finally:
        proc.wait()
    assert read_stat(proc.pid) is None


def test_garbage_is_rejected() -> None:
    assert parse_stat(1, b"") is None
    assert parse_stat(1, b"1 (x) R 0") is None
    assert parse_stat(1, b"no parentheses at all") is None


def test_list_pids_sees_self_and_children() -> None:
    proc = subprocess.Popen(["sleep", "30"])
    try:
        pids = list_pids()
        assert os.getpid() in pids
        assert proc.pid in pids
    finally:
        proc.kill()
        proc.wait()

"""The reaper must clean up after a server that died without running any of its code."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.helpers import (
    alive,
    comm,
    live_in_group,
    signals_handled,
    wait_for_blocking,
)

from agentls.tools.reaper import OWNER_ENV_VAR, Reaper


def sleeps_in_group(pgid: int) -> list[int]:
    return [pid for pid in live_in_group(pgid) if comm(pid) == "sleep"]


def handles_its_signals(pid: int) -> bool:
    """Whether the reaper has set itself up: it ignores SIGINT and SIGHUP, catches SIGTERM."""
    ignored, caught = signals_handled(pid)
    return {signal.SIGINT, signal.SIGHUP} <= ignored and signal.SIGTERM in caught


@pytest.fixture
def home_env(tmp_path: Path) -> dict[str, str]:
    # An empty HOME keeps `bash -lc` from sourcing (slow, stateful) user profiles.
    home = tmp_path / "home"
    home.mkdir()
    return {**os.environ, "HOME": str(home)}


@pytest.fixture
def cleanup() -> Iterator[list[int]]:
    """Process groups to SIGKILL after the test, so a failing test leaks nothing."""
    groups: list[int] = []
    yield groups
    for pgid in groups:
        with contextlib.suppress(OSError):
            os.killpg(pgid, signal.SIGKILL)


SERVER_SCRIPT = textwrap.dedent(
    """
    import os, subprocess, sys, time
    from agentls.tools.reaper import Reaper

    reaper = Reaper()
    tool = subprocess.Popen(
        ["bash", "-lc", "sleep 30; echo done"],
        start_new_session=True,
        env=reaper.tool_env(os.environ),
        stdout=subprocess.DEVNULL,
    )
    print(tool.pid, reaper.pid, flush=True)
    time.sleep(60)
    """
)


def test_tools_die_when_server_is_sigkilled(home_env: dict[str, str], cleanup: list[int]) -> None:
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER_SCRIPT],
        stdout=subprocess.PIPE,
        env=home_env,
        start_new_session=True,
    )
    cleanup.append(server.pid)
    assert server.stdout is not None
    line = server.stdout.readline().decode()
    bash_pid, reaper_pid = (int(field) for field in line.split())
    cleanup.extend([bash_pid, reaper_pid])

    # bash -lc runs its profile first; wait for the `sleep` grandchild itself.
    wait_for_blocking(lambda: len(sleeps_in_group(bash_pid)) == 1)
    (sleep_pid,) = sleeps_in_group(bash_pid)
    assert alive(reaper_pid)
    environ = Path(f"/proc/{sleep_pid}/environ").read_bytes().split(b"\0")
    assert any(entry.startswith(f"{OWNER_ENV_VAR}=".encode()) for entry in environ)

    server.kill()
    server.wait()

    wait_for_blocking(lambda: not alive(bash_pid) and not alive(sleep_pid), 3.0)
    assert live_in_group(bash_pid) == []
    # Its work done, the reaper goes away too.
    wait_for_blocking(lambda: not alive(reaper_pid), 3.0)


def test_close_kills_remaining_tools_and_reaper_exits(
    home_env: dict[str, str], cleanup: list[int]
) -> None:
    reaper = Reaper()
    tool = subprocess.Popen(
        ["bash", "-c", "sleep 30 & sleep 30"],
        start_new_session=True,
        env=reaper.tool_env(home_env),
    )
    cleanup.append(tool.pid)
    try:
        wait_for_blocking(lambda: len(live_in_group(tool.pid)) == 3)
        reaper_pid = reaper.pid
        assert reaper_pid is not None
        reaper.close(timeout_s=3.0)
        assert not alive(reaper_pid)
        assert live_in_group(tool.pid) == []
        assert tool.wait(timeout=1) == -signal.SIGTERM
    finally:
        tool.kill()
        tool.wait()


def test_unmarked_processes_sharing_a_group_are_spared(cleanup: list[int]) -> None:
    reaper = Reaper()
    marked_env = reaper.tool_env(os.environ)
    # The group leader is not ours (think: the editor); only its child carries our marker.
    leader = subprocess.Popen(
        ["bash", "-c", f"{OWNER_ENV_VAR}={reaper.marker} sleep 30 & sleep 30 & wait"],
        start_new_session=True,
        env={k: v for k, v in marked_env.items() if k != OWNER_ENV_VAR},
    )
    cleanup.append(leader.pid)
    try:
        wait_for_blocking(lambda: len(live_in_group(leader.pid)) == 3)
        reaper.close(timeout_s=3.0)
        survivors = live_in_group(leader.pid)
        assert leader.pid in survivors
        assert len(survivors) == 2  # the unmarked sleep lives on, the marked one is gone
    finally:
        leader.kill()
        leader.wait()


def test_write_end_is_not_inherited(cleanup: list[int]) -> None:
    reaper = Reaper()
    # Even a careless spawn (close_fds=False) must not carry the server's end along.
    child = subprocess.Popen(["sleep", "30"], env=reaper.tool_env(os.environ), close_fds=False)
    try:
        assert reaper.pid is not None
        pipe = os.readlink(f"/proc/{reaper.pid}/fd/0")
        assert pipe.startswith("pipe:")
        child_fds = {
            os.readlink(f"/proc/{child.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{child.pid}/fd")
        }
        assert pipe not in child_fds
    finally:
        reaper.close(timeout_s=3.0)
        child.kill()
        child.wait()


def test_reaper_ignores_sigint_and_sighup_but_cleans_up_on_sigterm(
    cleanup: list[int],
) -> None:
    reaper = Reaper()
    tool = subprocess.Popen(
        ["sleep", "30"], start_new_session=True, env=reaper.tool_env(os.environ)
    )
    cleanup.append(tool.pid)
    reaper_pid = reaper.pid
    assert reaper_pid is not None
    try:
        wait_for_blocking(lambda: handles_its_signals(reaper_pid), what="its signal handlers")
        os.kill(reaper_pid, signal.SIGINT)
        os.kill(reaper_pid, signal.SIGHUP)
        # the kernel drops a signal its process ignores as it is sent: none can still land
        assert alive(reaper_pid)
        assert alive(tool.pid)
        os.kill(reaper_pid, signal.SIGTERM)
        wait_for_blocking(lambda: not alive(tool.pid))
        wait_for_blocking(lambda: not alive(reaper_pid))
    finally:
        reaper.close(timeout_s=3.0)
        tool.kill()
        tool.wait()


def test_marker_and_env() -> None:
    reaper = Reaper(marker="custom-marker")
    try:
        assert reaper.pid is None  # started lazily
        env = reaper.tool_env({"A": "1"})
        assert env == {"A": "1", OWNER_ENV_VAR: "custom-marker"}
        assert reaper.pid is not None
        first = reaper.pid
        reaper.ensure_started()
        assert reaper.pid == first  # only once
    finally:
        reaper.close(timeout_s=3.0)
    assert Reaper().marker.startswith(f"{os.getpid()}-")
    assert Reaper().marker != Reaper().marker


def test_closed_reaper_refuses_to_start() -> None:
    reaper = Reaper()
    reaper.close()
    with pytest.raises(RuntimeError, match="closed"):
        reaper.tool_env({})


def test_restarts_after_reaper_died(cleanup: list[int]) -> None:
    reaper = Reaper()
    try:
        reaper.ensure_started()
        first = reaper.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        wait_for_blocking(lambda: not alive(first))
        reaper.ensure_started()
        assert reaper.pid not in (None, first)
    finally:
        reaper.close(timeout_s=3.0)

"""Real processes, real signals: what run_command promises about a command's whole tree.

Processes are found through /proc independently of the code under test, by a unique token
put in each command's environment (it is inherited by every descendant).

Commands run with HOME pointing at an empty directory. Login shells (`bash -lc`) otherwise
source the user's profile, which can be slow and, when such a shell is killed half-way
(exactly what these tests do), can leave state behind (e.g. pyenv's rehash lock).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
import tracemalloc
import uuid
from collections.abc import Mapping
from pathlib import Path

import pytest
from tests.helpers import comm, live_in_group, record_signals, wait_for, wait_for_blocking

from agentls.tools.process import (
    CommandResult,
    kill_process_group,
    process_group_alive,
    run_command,
)
from agentls.tools.procfs import list_pids, read_stat

TOKEN_VAR = "AGENTLS_TEST_TOKEN"


def live_with_token(token: str) -> dict[int, int]:
    """pid -> process group of every live (non-zombie) process carrying ``token``."""
    found: dict[int, int] = {}
    entry = f"{TOKEN_VAR}={token}".encode()
    for pid in list_pids():
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if entry not in environ.split(b"\0"):
            continue
        stat = read_stat(pid)
        if stat is not None and stat.alive:
            found[pid] = stat.pgid
    return found


def reaped(pid: int) -> bool:
    """Whether our child ``pid`` has been waited for (it is no longer our child at all)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def spawn_in_new_session(argv: list[str], env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, start_new_session=True, env=env)


@pytest.fixture
def token() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def env(tmp_path: Path, token: str) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    return {**os.environ, "HOME": str(home), TOKEN_VAR: token}


@pytest.fixture(autouse=True)
def _kill_strays(token: str) -> object:
    """Never leave a test's processes behind, even when the test fails."""
    yield
    for pid in live_with_token(token):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


async def run(
    script: str,
    env: Mapping[str, str],
    cwd: Path,
    *,
    timeout_s: float | None = 10.0,
    chunks: list[str] | None = None,
) -> CommandResult:
    sink = chunks if chunks is not None else []
    return await run_command(
        ["bash", "-c", script], cwd=cwd, timeout_s=timeout_s, on_output=sink.append, env=env
    )


# --------------------------------------------------------------------------------------------
# Output and exit codes
# --------------------------------------------------------------------------------------------


async def test_streams_chunks_in_order(env: dict[str, str], tmp_path: Path) -> None:
    chunks: list[str] = []
    script = "for i in 1 2 3 4 5; do echo line$i; sleep 0.03; done"
    result = await run(script, env, tmp_path, chunks=chunks)
    expected = "".join(f"line{i}\n" for i in range(1, 6))
    assert result.output == expected
    assert "".join(chunks) == expected
    assert len(chunks) >= 3  # arrived as they were written, not at the end
    assert result.exit_code == 0
    assert result.error is None
    assert not result.timed_out
    assert result.duration_s > 0


@pytest.mark.parametrize(
    ("script", "code"),
    [
        ("true", 0),
        ("exit 3", 3),
        ("kill -KILL $$", 128 + signal.SIGKILL),
        ("kill -TERM $$", 128 + signal.SIGTERM),
    ],
)
async def test_exit_codes(script: str, code: int, env: dict[str, str], tmp_path: Path) -> None:
    result = await run(script, env, tmp_path)
    assert result.exit_code == code
    assert result.error is None


async def test_stderr_is_merged_in_order(env: dict[str, str], tmp_path: Path) -> None:
    result = await run("echo out1; echo err1 >&2; echo out2; echo err2 >&2", env, tmp_path)
    assert result.output == "out1\nerr1\nout2\nerr2\n"


async def test_utf8_split_across_reads(env: dict[str, str], tmp_path: Path) -> None:
    chunks: list[str] = []
    # "é" is c3 a9, "😀" is f0 9f 98 80; each is split over two writes far apart in time.
    script = r"printf '\xc3'; sleep 0.1; printf '\xa9 \xf0\x9f'; sleep 0.1; printf '\x98\x80\n'"
    result = await run(script, env, tmp_path, chunks=chunks)
    assert result.output == "é 😀\n"
    assert "".join(chunks) == "é 😀\n"
    assert len(chunks) >= 2


async def test_invalid_utf8_is_replaced(env: dict[str, str], tmp_path: Path) -> None:
    result = await run(r"printf 'a\xffb\n'", env, tmp_path)
    assert result.output == "a\ufffdb\n"


async def test_huge_output_is_truncated_with_bounded_memory(
    env: dict[str, str], tmp_path: Path
) -> None:
    total = 0

    def count(text: str) -> None:
        nonlocal total
        total += len(text)

    tracemalloc.start()
    try:
        result = await run_command(
            ["seq", "1", "2000000"], cwd=tmp_path, timeout_s=30, on_output=count, env=env
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    expected_total = sum(len(f"{i}\n") for i in range(1, 2_000_001))
    assert total == expected_total  # the editor got everything
    assert result.exit_code == 0
    assert result.output.startswith("1\n2\n3\n")
    assert result.output.endswith("1999999\n2000000\n")
    assert "bytes omitted ...]" in result.output
    assert len(result.output) < 20_000
    # The output is ~15 MB; only a few read-sized chunks may be alive at once.
    assert peak < 3_000_000


# --------------------------------------------------------------------------------------------
# Stopping
# --------------------------------------------------------------------------------------------


async def test_cancel_kills_shell_and_grandchild(tmp_path: Path, env: dict[str, str]) -> None:
    task = asyncio.create_task(
        run_command(
            ["bash", "-lc", "sleep 30; echo done"],
            cwd=tmp_path,
            timeout_s=None,
            on_output=lambda _: None,
            env=env,
        )
    )
    # bash -lc first runs its profile: wait for the `sleep` itself.
    await wait_for(lambda: "sleep" in map(comm, live_with_token(env[TOKEN_VAR])))
    procs = live_with_token(env[TOKEN_VAR])
    names = {pid: comm(pid) for pid in procs}
    # The shell leads its own group and the sleep is in that group.
    (bash_pid,) = [pid for pid, name in names.items() if name == "bash"]
    (sleep_pid,) = [pid for pid, name in names.items() if name == "sleep"]
    assert procs[bash_pid] == bash_pid
    assert procs[sleep_pid] == bash_pid
    assert sorted(live_in_group(bash_pid)) == sorted([bash_pid, sleep_pid])

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    # Gone at the moment we report "stopped", not some time later.
    assert live_in_group(bash_pid) == []
    assert live_with_token(env[TOKEN_VAR]) == {}
    # And the direct child has been reaped by us.
    assert reaped(bash_pid)


async def test_cancel_kills_process_ignoring_sigterm_after_grace(
    tmp_path: Path, env: dict[str, str]
) -> None:
    task = asyncio.create_task(
        run_command(
            ["bash", "-c", 'trap "" TERM; sleep 30; echo done'],
            cwd=tmp_path,
            timeout_s=None,
            on_output=lambda _: None,
            env=env,
            kill_grace_s=0.3,
        )
    )
    await wait_for(lambda: len(live_with_token(env[TOKEN_VAR])) == 2)
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    elapsed = time.monotonic() - started
    assert live_with_token(env[TOKEN_VAR]) == {}
    assert elapsed >= 0.3  # it ignored TERM, so it lived through the grace, then KILL


async def test_second_cancel_during_cleanup_still_cleans_up(
    tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    signals = record_signals(monkeypatch)
    task = asyncio.create_task(
        run_command(
            ["bash", "-c", 'trap "" TERM; sleep 30; echo done'],
            cwd=tmp_path,
            timeout_s=None,
            on_output=lambda _: None,
            env=env,
            kill_grace_s=0.3,
        )
    )
    await wait_for(lambda: len(live_with_token(env[TOKEN_VAR])) == 2)
    task.cancel()
    # the clean-up has sent SIGTERM (ignored here): the grace period has begun
    await signals.wait_for(signal.SIGTERM, "killpg")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert live_with_token(env[TOKEN_VAR]) == {}


async def test_timeout_kills_group(tmp_path: Path, env: dict[str, str]) -> None:
    task = asyncio.create_task(
        run_command(
            ["bash", "-c", "echo before; sleep 10; echo after"],
            cwd=tmp_path,
            timeout_s=0.5,
            on_output=lambda _: None,
            env=env,
        )
    )
    await wait_for(lambda: len(live_with_token(env[TOKEN_VAR])) == 2)
    result = await task
    assert result.timed_out
    assert result.exit_code is None
    assert result.error is None
    assert result.output == "before\n"
    assert result.duration_s >= 0.5
    assert live_with_token(env[TOKEN_VAR]) == {}


async def test_direct_sleep_times_out(tmp_path: Path, env: dict[str, str]) -> None:
    result = await run_command(
        ["sleep", "10"], cwd=tmp_path, timeout_s=0.2, on_output=lambda _: None, env=env
    )
    assert result.timed_out
    assert result.exit_code is None
    assert live_with_token(env[TOKEN_VAR]) == {}


async def test_background_leftover_is_killed(tmp_path: Path, env: dict[str, str]) -> None:
    result = await run("sleep 100 & echo started", env, tmp_path)
    assert result.exit_code == 0
    assert result.output == "started\n"
    # it returned, although the background sleep held stdout open (the run has a deadline)
    assert live_with_token(env[TOKEN_VAR]) == {}


async def test_job_control_leftover_in_other_group_is_killed(
    tmp_path: Path, env: dict[str, str]
) -> None:
    # With `set -m` the background job gets a process group of its own (same session).
    result = await run("set -m; sleep 100 & echo started", env, tmp_path)
    assert result.exit_code == 0
    assert live_with_token(env[TOKEN_VAR]) == {}


async def test_escaped_process_holding_pipe_does_not_hang(
    tmp_path: Path, env: dict[str, str]
) -> None:
    # setsid leaves our session entirely; only the reaper can catch such a process. But it
    # keeps stdout open, and we must still return once the command itself is done.
    result = await run("setsid sleep 30 & sleep 0.3; echo hi", env, tmp_path)
    assert result.exit_code == 0
    assert result.output == "hi\n"
    assert len(live_with_token(env[TOKEN_VAR])) == 1  # the escapee (killed by the fixture)


async def test_failing_on_output_does_not_break_the_command(
    tmp_path: Path, env: dict[str, str]
) -> None:
    def explode(_: str) -> None:
        raise RuntimeError("editor went away")

    result = await run_command(
        ["bash", "-c", "echo a; sleep 0.05; echo b"],
        cwd=tmp_path,
        timeout_s=5,
        on_output=explode,
        env=env,
    )
    assert result.exit_code == 0
    assert result.output == "a\nb\n"


# --------------------------------------------------------------------------------------------
# Commands that cannot start
# --------------------------------------------------------------------------------------------


async def test_missing_executable(tmp_path: Path) -> None:
    result = await run_command(
        ["agentls-no-such-program-xyz", "--help"],
        cwd=tmp_path,
        timeout_s=5,
        on_output=lambda _: None,
    )
    assert result.exit_code == 127
    assert result.error == "command not found: agentls-no-such-program-xyz"
    assert result.output == ""
    assert not result.timed_out


async def test_missing_cwd(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    result = await run_command(["ls"], cwd=missing, timeout_s=5, on_output=lambda _: None)
    assert result.exit_code is None
    assert result.error == f"working directory does not exist: {missing}"


async def test_cwd_is_a_file(tmp_path: Path) -> None:
    file = tmp_path / "file"
    file.write_text("x")
    result = await run_command(["ls"], cwd=file, timeout_s=5, on_output=lambda _: None)
    assert result.exit_code is None
    assert result.error is not None
    assert "not a directory" in result.error


async def test_not_executable(tmp_path: Path) -> None:
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    result = await run_command([str(script)], cwd=tmp_path, timeout_s=5, on_output=print)
    assert result.exit_code == 126
    assert result.error is not None
    assert "permission denied" in result.error


async def test_empty_argv(tmp_path: Path) -> None:
    result = await run_command([], cwd=tmp_path, timeout_s=5, on_output=print)
    assert result.error == "empty command"


async def test_runs_in_cwd_with_env(tmp_path: Path, env: dict[str, str]) -> None:
    result = await run('pwd; echo "$AGENTLS_TEST_TOKEN"', env, tmp_path)
    assert result.output == f"{tmp_path}\n{env[TOKEN_VAR]}\n"


async def test_stdin_is_empty(tmp_path: Path, env: dict[str, str]) -> None:
    result = await run("cat; echo eof", env, tmp_path, timeout_s=5)
    assert result.output == "eof\n"
    assert not result.timed_out


# --------------------------------------------------------------------------------------------
# The group helpers on their own
# --------------------------------------------------------------------------------------------


async def test_kill_process_group_and_alive(tmp_path: Path, env: dict[str, str]) -> None:
    proc = spawn_in_new_session(["bash", "-c", "sleep 30 & sleep 30"], env)
    try:
        await wait_for(lambda: len(live_with_token(env[TOKEN_VAR])) == 3)
        assert process_group_alive(proc.pid)
        await kill_process_group(proc.pid, 0.5)
        assert not process_group_alive(proc.pid)
        assert live_with_token(env[TOKEN_VAR]) == {}
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGTERM


def test_alive_is_false_for_unused_group() -> None:
    proc = subprocess.Popen(["true"], start_new_session=True)
    proc.wait()
    assert not process_group_alive(proc.pid)


def test_alive_ignores_zombies() -> None:
    proc = subprocess.Popen(["true"], start_new_session=True)
    try:

        def zombie_leader() -> bool:
            stat = read_stat(proc.pid)
            return stat is not None and (stat.state, stat.pgid) == ("Z", proc.pid)

        wait_for_blocking(zombie_leader, 3, what="the group leader to be a zombie")
        assert not process_group_alive(proc.pid)
    finally:
        proc.wait()

"""Running one tool command as a real process that can be stopped completely at any moment.

Every command gets its own session (and so its own process group), which is what lets us
reach the grandchildren of compound commands such as ``bash -lc "sleep 30; echo done"``:
the shell's children stay in its group, so signalling the group stops the whole tree.

The direct child is deliberately left unreaped (a zombie) while we kill its group. As long
as the zombie exists the kernel cannot hand its pid out again, so the group id we signal can
never come to mean some unrelated process group.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import json
import logging
import os
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG
from typing import TypeVar

from agentls.tools.procfs import list_pids, read_stat
from agentls.tools.sandbox import SandboxPolicy, sandbox_status, wrap
from agentls.tools.truncate import OutputBuffer

__all__ = [
    "CommandResult",
    "kill_process_group",
    "process_group_alive",
    "run_command",
]

_log = logging.getLogger(__name__)

_READ_SIZE = 64 * 1024
# Reads done back to back before giving the event loop a turn, so a command that floods its
# output cannot starve the rest of the server (LSP traffic, the Stop request itself).
_READS_PER_TURN = 16
# Stop latency is a benchmarked figure (target p50 < 15 ms), so the group is polled often.
_POLL_INTERVAL_S = 0.002
# After SIGKILL a process normally vanishes within milliseconds; one stuck in
# uninterruptible sleep (dead NFS mount) may never do so, and we must not hang forever.
_SIGKILL_WAIT_S = 5.0
# Once the command itself has exited and its group is dead, whatever still holds the pipe
# open escaped the group (e.g. via setsid); wait only briefly for it to finish writing.
_DRAIN_TIMEOUT_S = 0.5
_NO_PIDFD_POLL_S = 0.01
# bwrap reports its pid 1 within milliseconds of starting; a Stop waits at most this long
# for that report before killing what it can see.
_SANDBOX_INFO_WAIT_S = 1.0
_TERM_AGAIN_S = 0.02

_T = TypeVar("_T")


@dataclass(frozen=True)
class CommandResult:
    exit_code: int | None
    """``None`` when we killed the command (stopped or timed out) or it never started."""
    output: str
    duration_s: float
    timed_out: bool
    error: str | None
    """Why the command could not run at all, in words the model can act on."""


# --------------------------------------------------------------------------------------------
# Process-group inspection through /proc
# --------------------------------------------------------------------------------------------


def _is_member(pid: int, pgid: int) -> bool:
    """Whether ``pid`` is a live (not zombie) process in the group or session ``pgid``.

    Our commands lead their own session, so the session id equals the group id; matching on
    the session as well catches jobs that a shell with job control (``set -m``) moved into
    process groups of their own.
    """
    stat = read_stat(pid)
    return stat is not None and stat.alive and pgid in (stat.pgid, stat.sid)


class _GroupScanner:
    """Finds the live members of a group, reading /proc/<pid>/stat only for new pids.

    A process outside the group can never join it (``setpgid`` only moves processes within
    their own session, and our command leads its session), so a pid once seen outside need
    not be read again. That makes a rescan cost little more than listing /proc, which is
    what lets us rescan on every poll: stop latency is measured in milliseconds.
    """

    def __init__(self, pgid: int) -> None:
        self._pgid = pgid
        self._outside: set[int] = set()

    def members(self) -> set[int]:
        found: set[int] = set()
        for pid in list_pids():
            if pid in self._outside:
                continue
            if _is_member(pid, self._pgid):
                found.add(pid)
            else:
                # Dead, a zombie, or never a member: none of these can become a member.
                self._outside.add(pid)
        return found


def process_group_alive(pgid: int) -> bool:
    """Whether any process other than a zombie is left in the group (or session) ``pgid``.

    Zombies are ignored because they no longer run anything; reaping them is their parent's
    job (ours for the direct child, init's for orphans).
    """
    return bool(_GroupScanner(pgid).members())


def _signal_group(pgid: int, members: Iterable[int], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
    for pid in members:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


async def kill_process_group(pgid: int, grace_s: float) -> None:
    """SIGTERM the group (and its session), then SIGKILL whatever is still alive after
    ``grace_s``; returns once no live process is left, so "stopped" really means stopped.
    """
    # Signal before looking: the user is waiting, and a scan costs time.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGTERM)
        # A stopped (SIGSTOPped) process would only act on SIGTERM once continued.
        os.killpg(pgid, signal.SIGCONT)
    scanner = _GroupScanner(pgid)
    signalled: set[int] = set()
    current = signal.SIGTERM
    kill_at = time.monotonic() + grace_s
    give_up_at = kill_at + _SIGKILL_WAIT_S
    while True:
        members = scanner.members()
        if not members:
            # Confirm with a second (cheap) scan, so a process that forked and then died
            # between our listing /proc and reading its entry cannot hide its child.
            members = scanner.members()
            if not members:
                return
        now = time.monotonic()
        if current is signal.SIGTERM and now >= kill_at:
            current = signal.SIGKILL
            signalled.clear()
        new = members - signalled
        if new:
            # Session members outside the group, children forked since the last signal.
            signalled |= new
            _signal_group(pgid, new, current)
            if current is signal.SIGTERM:
                _signal_group(pgid, new, signal.SIGCONT)
        if current is signal.SIGKILL and now >= give_up_at:
            _log.warning("processes %s of group %d survived SIGKILL", sorted(members), pgid)
            return
        await asyncio.sleep(_POLL_INTERVAL_S)


# --------------------------------------------------------------------------------------------
# Waiting on file descriptors and the child
# --------------------------------------------------------------------------------------------


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def _wait_readable(fd: int) -> None:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[None] = loop.create_future()
    loop.add_reader(fd, _resolve, future)
    try:
        await future
    finally:
        loop.remove_reader(fd)


def _has_exited(pid: int) -> bool:
    """Whether ``pid`` has terminated, without reaping it (see the module docstring)."""
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True  # already reaped
    return info is not None


async def _wait_exited(pid: int, pidfd: int | None) -> None:
    while not _has_exited(pid):
        if pidfd is None:
            await asyncio.sleep(_NO_PIDFD_POLL_S)
        else:
            # A pidfd becomes readable when the process terminates.
            await _wait_readable(pidfd)


def _open_pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


async def _run_to_completion(awaitable: Awaitable[_T]) -> _T:
    """Finish clean-up even if the caller is cancelled again while it runs.

    A second Stop press must not leave a half-killed group or an unreaped child behind.
    """
    task = asyncio.ensure_future(awaitable)
    while True:
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.done():
                raise


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------


class _OutputPump:
    """Moves bytes from the command's pipe to the buffer and the ``on_output`` callback."""

    def __init__(self, fd: int, buffer: OutputBuffer, on_output: Callable[[str], None]) -> None:
        self._fd = fd
        self._buffer = buffer
        self._on_output = on_output
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._callback_failed = False

    def _emit(self, text: str) -> None:
        if not text:
            return
        self._buffer.append(text)
        if self._callback_failed:
            return
        try:
            self._on_output(text)
        except Exception:
            # A broken editor stream must not abandon (and so leak) a running command; the
            # output is still collected for the model.
            self._callback_failed = True
            _log.exception("on_output callback failed; no longer streaming this command")

    async def run(self) -> None:
        while True:
            for _ in range(_READS_PER_TURN):
                try:
                    data = os.read(self._fd, _READ_SIZE)
                except BlockingIOError:
                    await _wait_readable(self._fd)
                    break
                if not data:
                    return
                self._emit(self._decoder.decode(data))
            else:
                await asyncio.sleep(0)

    def flush(self) -> None:
        self._emit(self._decoder.decode(b"", final=True))


# --------------------------------------------------------------------------------------------
# run_command
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _SpawnFailure:
    exit_code: int | None
    error: str


def _spawn_failure(exc: OSError, argv: list[str], cwd: Path) -> _SpawnFailure:
    if exc.filename is not None and os.fspath(exc.filename) == os.fspath(cwd):
        return _SpawnFailure(None, f"working directory is not usable: {cwd} ({exc.strerror})")
    if isinstance(exc, FileNotFoundError):
        return _SpawnFailure(127, f"command not found: {argv[0]}")
    if isinstance(exc, PermissionError):
        return _SpawnFailure(126, f"permission denied: {argv[0]}")
    return _SpawnFailure(None, f"could not start {argv[0]}: {exc.strerror or exc}")


def _check_cwd(cwd: Path) -> str | None:
    if cwd.is_dir():
        return None
    if cwd.exists():
        return f"working directory is not a directory: {cwd}"
    return f"working directory does not exist: {cwd}"


def _spawn(
    argv: list[str], cwd: Path, env: Mapping[str, str] | None, pass_fds: tuple[int, ...] = ()
) -> tuple[subprocess.Popen[bytes], int] | _SpawnFailure:
    """Start the command with its output on a pipe we read ourselves.

    Returns the process and the read end of its pipe, or what to report instead.
    Plain ``Popen`` (fork+exec, synchronous but quick) rather than asyncio's subprocess
    support: we need to wait for exit without reaping (see the module docstring) and to
    stop reading the pipe on our own terms when an escaped process keeps it open.
    """
    read_fd, write_fd = os.pipe()
    try:
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=write_fd,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=env,
                start_new_session=True,
                close_fds=True,
                pass_fds=pass_fds,
            )
        finally:
            os.close(write_fd)
    except OSError as exc:
        os.close(read_fd)
        return _spawn_failure(exc, argv, cwd)
    except ValueError as exc:  # e.g. a NUL byte inside an argument
        os.close(read_fd)
        return _SpawnFailure(None, f"invalid command: {exc}")
    return proc, read_fd


def _exit_code(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


# --------------------------------------------------------------------------------------------
# Sandboxed commands
# --------------------------------------------------------------------------------------------


def _check_program(program: str, cwd: Path, env: Mapping[str, str] | None) -> _SpawnFailure | None:
    """What a direct spawn would have reported for a program that cannot be executed.

    Inside the sandbox it is bwrap that executes the program, and it reports a failure as
    exit status 1 plus a message of its own; looking first keeps the result the model gets
    (127 "command not found", 126 "permission denied") the same with and without sandbox.
    The sandbox sees the same files (read-only), so the answer carries over.
    """
    if "/" in program:
        candidates = [cwd / program]
    else:
        candidates = [cwd / folder / program for folder in os.get_exec_path(env)]
    denied = False
    for candidate in candidates:
        try:
            mode = os.stat(candidate).st_mode
        except PermissionError:  # a folder on PATH we may not search: exec goes on, too
            denied = True
            continue
        except OSError:
            continue
        if S_ISREG(mode) and os.access(candidate, os.X_OK):
            return None
        denied = True
    if denied:
        return _SpawnFailure(126, f"permission denied: {program}")
    return _SpawnFailure(127, f"command not found: {program}")


class _SandboxInit:
    """The host-side identity of bwrap's pid 1, whose death takes the namespace with it."""

    def __init__(self, pid: int, pidfd: int | None, start_time: int) -> None:
        self.pid = pid
        self.pidfd = pidfd
        self.start_time = start_time

    def gone(self) -> bool:
        stat = read_stat(self.pid)
        return stat is None or not stat.alive or stat.start_time != self.start_time

    def kill(self) -> None:
        """SIGKILL pid 1, which makes the kernel kill everything else in the namespace."""
        with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
            if self.pidfd is not None:
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            elif not self.gone():
                os.kill(self.pid, signal.SIGKILL)

    async def terminate(self, grace_s: float) -> None:
        """SIGTERM the command, SIGKILL the namespace if it is still there after ``grace_s``.

        pid 1 leads the session and process group the command runs in, so signalling that
        group reaches the command and what it started (pid 1 itself, a namespace's init,
        ignores SIGTERM). Once the command's first process has exited, bwrap ends the whole
        namespace; whatever ignored SIGTERM, or left the group (a job that a shell with job
        control moved to a group of its own), dies with it after the grace period at the
        latest. Unlike ``kill_process_group`` this needs no /proc scan, hence a fast Stop.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace_s
        # A SIGTERM that lands while bwrap is still setting the command up is lost (nothing
        # has the command's handlers yet): it is sent again, every few milliseconds, until
        # the namespace is gone or the grace is over.
        while not self.gone():  # while pid 1 exists its pid (the group's id) cannot be reused
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGTERM)
                # A stopped (SIGSTOPped) process would only act on SIGTERM once continued.
                os.killpg(self.pid, signal.SIGCONT)
            left = deadline - loop.time()
            if left <= 0:
                break
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(left, _TERM_AGAIN_S)):
                    await self.wait_gone()
        self.kill()
        await self.wait_gone()

    async def wait_gone(self) -> None:
        """Returns once pid 1 has exited, which the kernel allows only after every other
        process of the namespace is dead."""
        while not self.gone():
            if self.pidfd is None:
                await asyncio.sleep(_NO_PIDFD_POLL_S)
            else:
                # A pidfd becomes readable when the process terminates.
                await _wait_readable(self.pidfd)

    def close(self) -> None:
        """Idempotent: a second Stop may run the clean-up again after a first one."""
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None


async def _read_sandbox_init(fd: int) -> _SandboxInit | None:
    """Read bwrap's ``--info-fd`` report; ``None`` if it never came (bwrap failed early)
    or pid 1 is already gone."""
    data = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            await _wait_readable(fd)
            continue
        if not chunk:
            break
        data += chunk
    try:
        pid = int(json.loads(data)["child-pid"])
    except (ValueError, KeyError, TypeError):
        return None
    stat = read_stat(pid)
    if stat is None or not stat.alive:
        return None
    try:
        pidfd: int | None = os.pidfd_open(pid)
    except ProcessLookupError:
        return None
    except (AttributeError, OSError):
        pidfd = None
    init = _SandboxInit(pid, pidfd, stat.start_time)
    if init.gone():  # exited (and its pid reused) before the pidfd was opened
        init.close()
        return None
    return init


def _sandbox_applies(policy: SandboxPolicy | None) -> bool:
    return policy is not None and policy.mode != "off" and sandbox_status().available


# --------------------------------------------------------------------------------------------
# run_command
# --------------------------------------------------------------------------------------------


async def run_command(
    argv: list[str],
    *,
    cwd: Path,
    timeout_s: float | None,
    on_output: Callable[[str], None],
    env: Mapping[str, str] | None = None,
    kill_grace_s: float = 0.5,
    sandbox: SandboxPolicy | None = None,
) -> CommandResult:
    """Run ``argv`` in its own session, streaming merged stdout/stderr to ``on_output``.

    Cancelling the awaiting task is how the user's Stop is delivered: the whole process group
    is killed and the child reaped before ``CancelledError`` propagates. Problems the model
    can fix (missing program or directory) come back as a result, not as an exception.

    With a ``sandbox`` policy (other than ``off``) and a working bubblewrap, the command runs
    inside bwrap in a PID namespace of its own; this returns only once that namespace is
    gone, so nothing the command started, however it detached, outlives the call. Without
    a working bubblewrap the command runs unsandboxed, as without a policy: callers decide
    beforehand (see ``sandbox_status``) whether that is acceptable.
    """
    started = time.monotonic()

    def failed(exit_code: int | None, error: str) -> CommandResult:
        return CommandResult(exit_code, "", time.monotonic() - started, False, error)

    if not argv or not argv[0]:
        return failed(None, "empty command")
    cwd_error = _check_cwd(cwd)
    if cwd_error is not None:
        return failed(None, cwd_error)
    if sandbox is None or not _sandbox_applies(sandbox):
        return await _supervise(argv, cwd, env, timeout_s, on_output, kill_grace_s, started)
    program_error = _check_program(argv[0], cwd, env)
    if program_error is not None:
        return failed(program_error.exit_code, program_error.error)
    info_read, info_write = os.pipe()
    try:
        wrapped = wrap(argv, cwd=cwd, policy=sandbox, info_fd=info_write)
    except BaseException:
        os.close(info_write)
        os.close(info_read)
        raise
    try:
        # _supervise owns (and closes) the write end from here on.
        return await _supervise(
            wrapped, cwd, env, timeout_s, on_output, kill_grace_s, started, info_read, info_write
        )
    finally:
        os.close(info_read)


async def _supervise(
    argv: list[str],
    cwd: Path,
    env: Mapping[str, str] | None,
    timeout_s: float | None,
    on_output: Callable[[str], None],
    kill_grace_s: float,
    started: float,
    info_read: int | None = None,
    info_write: int | None = None,
) -> CommandResult:
    """Spawn, stream, wait, and leave nothing behind; ``info_*`` only for bwrap."""
    try:
        spawned = _spawn(argv, cwd, env, () if info_write is None else (info_write,))
    finally:
        if info_write is not None:
            # Only bwrap may hold the write end, so its exit (or report) ends our read.
            os.close(info_write)
    if isinstance(spawned, _SpawnFailure):
        return CommandResult(
            spawned.exit_code, "", time.monotonic() - started, False, spawned.error
        )
    proc, read_fd = spawned

    os.set_blocking(read_fd, False)
    pid = pgid = proc.pid
    pidfd = _open_pidfd(pid)
    buffer = OutputBuffer()
    pump = _OutputPump(read_fd, buffer, on_output)
    pump_task = asyncio.ensure_future(pump.run())
    init_task: asyncio.Future[_SandboxInit | None] | None = None
    if info_read is not None:
        os.set_blocking(info_read, False)
        init_task = asyncio.ensure_future(_read_sandbox_init(info_read))

    def reap() -> int:
        # The child has already exited (we waited for that), so this does not block.
        return proc.wait()

    async def sandbox_init() -> _SandboxInit | None:
        if init_task is None:
            return None
        if not init_task.done():
            await asyncio.wait({init_task}, timeout=_SANDBOX_INFO_WAIT_S)
        if not init_task.done() or init_task.cancelled() or init_task.exception() is not None:
            return None
        return init_task.result()

    async def stop_tree(stopping: bool) -> None:
        """Leave nothing behind: kill what is left of the command (everything, when it is
        being stopped or timed out) and return once it is gone."""
        init = await sandbox_init()
        if init is None:
            await kill_process_group(pgid, kill_grace_s)
            await _wait_exited(pid, pidfd)
            return
        # No /proc scan is needed: nothing of the command runs outside the namespace, and
        # the namespace is gone once its pid 1 is.
        try:
            if stopping:
                await init.terminate(kill_grace_s)
                # The outer bwrap exits by itself once pid 1 is gone; hurry it along.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pgid, signal.SIGKILL)
            await _wait_exited(pid, pidfd)
            # bwrap has exited, so its parent-death signal is killing pid 1; make sure, and
            # return only once the namespace (whatever detached inside it) is really gone.
            init.kill()
            await init.wait_gone()
        finally:
            init.close()

    async def abort() -> None:
        try:
            await stop_tree(stopping=True)
            reap()
        finally:
            for task in (pump_task, init_task):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task

    try:
        timed_out = False
        try:
            async with asyncio.timeout(timeout_s):
                await _wait_exited(pid, pidfd)
        except TimeoutError:
            timed_out = True
        # On a normal exit this removes leftovers such as `sleep 100 &`, which would
        # otherwise keep running after the tool call (and keep our pipe open).
        await stop_tree(stopping=timed_out)
        returncode = reap()
        done, _ = await asyncio.wait({pump_task}, timeout=_DRAIN_TIMEOUT_S)
        if not done:
            pump_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump_task
        else:
            pump_task.result()
        pump.flush()
    except BaseException:
        await _run_to_completion(abort())
        raise
    finally:
        if pidfd is not None:
            os.close(pidfd)
        os.close(read_fd)
        if init_task is not None and init_task.done() and not init_task.cancelled():
            init = init_task.result() if init_task.exception() is None else None
            if init is not None:
                init.close()

    return CommandResult(
        exit_code=None if timed_out else _exit_code(returncode),
        output=buffer.text(),
        duration_s=time.monotonic() - started,
        timed_out=timed_out,
        error=None,
    )

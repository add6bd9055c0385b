"""A watchdog process that kills our tool processes once the server is gone.

Killing a command's process group when it is stopped covers every orderly path, but nothing
in the server runs after a SIGKILL (or an OOM kill, or a crash in native code). So every
tool process carries ``AGENTLS_TOOL_OWNER=<marker>`` in its environment, and a tiny separate
process, started in a session of its own so signals aimed at the server's group miss it,
holds the read end of a pipe whose only writer is the server. The kernel closes that pipe
however the server dies; the reaper sees EOF, finds every process still carrying the
marker (the environment is inherited, so it finds grandchildren and daemons that left the
command's session too) and kills them.

This file doubles as the reaper's program, run as ``python -I -S reaper.py <marker>``:
isolated mode without site-packages starts in a few tens of milliseconds and cannot be
affected by the workspace (a ``signal.py`` next to the user's code, PYTHONPATH, ...). Run
that way it appends the folder holding the ``agentls`` package to the path, *after* the
standard library so nothing there can shadow a stdlib module, for ``procfs``; it must
import nothing else outside the standard library.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from types import FrameType

if __name__ == "__main__":
    # The folder that holds the `agentls` package: server/ in a checkout, site-packages
    # when installed.
    sys.path.append(str(Path(__file__).resolve().parents[2]))

from agentls.tools.procfs import list_pids, read_stat

__all__ = ["OWNER_ENV_VAR", "Reaper"]

OWNER_ENV_VAR = "AGENTLS_TOOL_OWNER"

# How long processes get to act on SIGTERM before SIGKILL.
_TERM_GRACE_S = 0.3
# Scans repeated to catch processes forked while we were killing their parents.
_MAX_ROUNDS = 5
_POLL_S = 0.01


# --------------------------------------------------------------------------------------------
# The reaper program
# --------------------------------------------------------------------------------------------


class _TerminatedError(Exception):
    """Raised from the SIGTERM handler to leave the blocking read and clean up at once."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise _TerminatedError


def _has_marker(pid: int, entry: bytes) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as environ_file:
            environ = environ_file.read()
    except OSError:
        return False  # gone, a zombie (empty environ), or not ours to read
    return entry in environ.split(b"\0")


def _scan(entry: bytes) -> tuple[set[int], set[int]]:
    """Live processes carrying the marker, and the process groups safe to signal whole.

    A group is only signalled as a whole when its leader carries the marker (a group one of
    our commands created) or every live member does. Otherwise a tool process that somehow
    shares a group with, say, the editor would take the editor down with it.
    """
    me = os.getpid()
    marked: set[int] = set()
    groups: dict[int, list[tuple[int, bool]]] = {}
    for pid in list_pids():
        if pid == me:
            continue
        stat = read_stat(pid)
        if stat is None or not stat.alive:
            continue
        has = _has_marker(pid, entry)
        if has:
            marked.add(pid)
        groups.setdefault(stat.pgid, []).append((pid, has))
    safe_groups: set[int] = set()
    for pgid, members in groups.items():
        if not any(has for _, has in members):
            continue
        leader_marked = any(pid == pgid and has for pid, has in members)
        if leader_marked or all(has for _, has in members):
            safe_groups.add(pgid)
    return marked, safe_groups


def _signal_all(pids: set[int], groups: set[int], sig: int) -> None:
    for pgid in groups:
        with contextlib.suppress(OSError):
            os.killpg(pgid, sig)
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, sig)


def _alive(pid: int) -> bool:
    stat = read_stat(pid)
    return stat is not None and stat.alive


def _kill_marked(marker: str) -> None:
    entry = f"{OWNER_ENV_VAR}={marker}".encode()
    for _ in range(_MAX_ROUNDS):
        pids, groups = _scan(entry)
        if not pids:
            return
        _signal_all(pids, groups, signal.SIGTERM)
        _signal_all(pids, groups, signal.SIGCONT)
        deadline = time.monotonic() + _TERM_GRACE_S
        while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
            time.sleep(_POLL_S)
        pids, groups = _scan(entry)
        if pids:
            _signal_all(pids, groups, signal.SIGKILL)
            time.sleep(_POLL_S)


def _main(args: list[str]) -> int:
    """The reaper program; ``args`` is just the marker."""
    if len(args) != 1 or not args[0]:
        print("usage: reaper.py <marker>", file=sys.stderr)
        return 2
    marker = args[0]
    # Fails harmlessly when already a session leader (start_new_session=True).
    with contextlib.suppress(OSError):
        os.setsid()
    # Leave no working directory busy (an unmountable workspace, a deleted folder).
    os.chdir("/")
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        # Only the server holds the write end: EOF means it is gone, however it went.
        while os.read(0, 4096):
            pass
    except (_TerminatedError, OSError):
        pass
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # finish the clean-up once started
    _kill_marked(marker)
    return 0


# --------------------------------------------------------------------------------------------
# The server side
# --------------------------------------------------------------------------------------------


class Reaper:
    """The server's handle on its reaper process, started on first use.

    Every tool process must be started with the environment from :meth:`tool_env`; that is
    what makes it findable after the server has died.
    """

    def __init__(self, marker: str | None = None) -> None:
        # The pid makes markers readable in `ps e`; the uuid makes them unique across
        # servers and across pid reuse.
        self._marker = marker or f"{os.getpid()}-{uuid.uuid4().hex}"
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._closed = False

    @property
    def marker(self) -> str:
        return self._marker

    @property
    def pid(self) -> int | None:
        """The reaper process's pid, once started."""
        return None if self._process is None else self._process.pid

    def ensure_started(self) -> None:
        """Start the reaper unless it is running; restart it if it died.

        A restarted reaper uses the same marker, so it also covers commands started before.
        """
        with self._lock:
            if self._closed:
                raise RuntimeError("the reaper has been closed")
            if self._process is not None and self._process.poll() is None:
                return
            if self._process is not None and self._process.stdin is not None:
                self._process.stdin.close()
            process = subprocess.Popen(
                [sys.executable, "-I", "-S", os.path.abspath(__file__), self._marker],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                close_fds=True,
            )
            assert process.stdin is not None
            # Our end must never reach a tool process: while any process holds it, the
            # reaper would see no EOF. Python pipes are close-on-exec already; this makes
            # sure nobody changed that.
            os.set_inheritable(process.stdin.fileno(), False)
            self._process = process

    def tool_env(self, base: Mapping[str, str]) -> dict[str, str]:
        """``base`` plus the owner marker; use it as the environment of every tool process."""
        self.ensure_started()
        env = dict(base)
        env[OWNER_ENV_VAR] = self._marker
        return env

    def close(self, timeout_s: float | None = None) -> None:
        """Let the reaper kill whatever tool processes remain, and exit.

        With ``timeout_s`` this waits up to that long for the reaper to finish, e.g. so a
        shutdown can report that nothing is left running.
        """
        with self._lock:
            self._closed = True
            process = self._process
            if process is None:
                return
            if process.stdin is not None and not process.stdin.closed:
                process.stdin.close()
        if timeout_s is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout_s)
        else:
            process.poll()


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))

"""Ending every process an MCP server started, wherever it went.

The SDK's stdio transport stops the server itself (stdin closed, then its process group
killed), but a server that exits on time leaves its children alone, and a child may have
left the group anyway. Each server is therefore started with an environment entry of its
own, inherited by everything it starts; after the server is gone, whatever still carries
that entry is ended. (After a SIGKILL of agentls the reaper does the same job with its own
marker; see `agentls.tools.reaper`.)
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid

from agentls.tools.procfs import read_stat

__all__ = ["SERVER_ENV_VAR", "end_marked_processes", "find_marked_processes", "new_marker"]

SERVER_ENV_VAR = "AGENTLS_MCP_SERVER"
_TERM_GRACE_S = 0.5
_POLL_S = 0.01


def new_marker(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex}"


def _is_live(pid: int) -> bool:
    stat = read_stat(pid)
    return stat is not None and stat.alive


def find_marked_processes(marker: str) -> set[int]:
    """Live processes whose environment holds `AGENTLS_MCP_SERVER=<marker>`."""
    entry = f"{SERVER_ENV_VAR}={marker}".encode()
    me = os.getpid()
    found: set[int] = set()
    try:
        names = os.listdir("/proc")
    except OSError:
        return found
    for name in names:
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as environ_file:
                environ = environ_file.read()
        except OSError:
            continue
        if entry in environ.split(b"\0") and _is_live(int(name)):
            found.add(int(name))
    return found


def end_marked_processes(marker: str) -> int:
    """SIGTERM, a short grace, then SIGKILL for what is left; returns how many were found.

    Blocking (it reads /proc and waits out the grace): run it in a thread.
    """
    pids = find_marked_processes(marker)
    if not pids:
        return 0
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + _TERM_GRACE_S
    while time.monotonic() < deadline and any(_is_live(pid) for pid in pids):
        time.sleep(_POLL_S)
    for _ in range(3):  # processes forked while their parent was being ended
        left = find_marked_processes(marker)
        if not left:
            break
        for pid in left:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(_POLL_S)
    return len(pids)

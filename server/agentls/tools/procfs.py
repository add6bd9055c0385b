"""The one reader of ``/proc/<pid>/stat`` in agentls.

Several parts of the server (stopping a command's group, the reaper after a crash, tests
looking for leftovers) need the state, parent, group and session of arbitrary processes.
The format has one trap: the command name sits in parentheses and may itself contain spaces
and parentheses (a process can name itself ``a) R 1 (b``), so the fields are found after
the *last* ``)``. Having a single parser keeps that trap handled once.

Standard library only: the reaper imports this module in an isolated interpreter.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["ProcStat", "list_pids", "read_stat"]

# States of a process that no longer runs anything: zombie, dead (both spellings).
_GONE_STATES = frozenset({"Z", "X", "x"})


@dataclass(frozen=True)
class ProcStat:
    pid: int
    comm: str
    """The kernel's (truncated, at most 15 bytes) command name, without the parentheses."""
    state: str
    ppid: int
    pgid: int
    sid: int
    start_time: int
    """Clock ticks after boot at which the process started; with the pid, a stable identity."""

    @property
    def alive(self) -> bool:
        """Whether the process still runs (exists and is not a zombie)."""
        return self.state not in _GONE_STATES


def parse_stat(pid: int, data: bytes) -> ProcStat | None:
    """Parse the contents of ``/proc/<pid>/stat``; ``None`` if they are not in its format."""
    open_paren = data.find(b"(")
    close_paren = data.rfind(b")")
    if open_paren < 0 or close_paren < open_paren:
        return None
    fields = data[close_paren + 2 :].split(b" ")
    try:
        return ProcStat(
            pid=pid,
            comm=data[open_paren + 1 : close_paren].decode("utf-8", "replace"),
            state=fields[0].decode("ascii"),
            ppid=int(fields[1]),
            pgid=int(fields[2]),
            sid=int(fields[3]),
            start_time=int(fields[19]),
        )
    except (IndexError, ValueError, UnicodeDecodeError):
        return None


def read_stat(pid: int) -> ProcStat | None:
    """The stat line of ``pid``; ``None`` once it is gone (or unreadable)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat_file:
            data = stat_file.read()
    except OSError:
        return None
    return parse_stat(pid, data)


def list_pids() -> list[int]:
    """Every pid visible in ``/proc`` right now (processes only, not threads)."""
    try:
        return [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return []

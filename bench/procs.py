"""Looking at processes through /proc: memory of a server, tool processes it left behind."""

from __future__ import annotations

import contextlib
import os
import signal
from dataclasses import dataclass

from tests.e2e.harness import alive

from agentls.tools.procfs import read_stat

OWNER_ENV = b"AGENTLS_TOOL_OWNER="


@dataclass(frozen=True)
class Memory:
    rss_mb: float
    hwm_mb: float
    threads: int
    fds: int

    def to_json(self) -> dict[str, float | int]:
        return {
            "rss_mb": round(self.rss_mb, 1),
            "hwm_mb": round(self.hwm_mb, 1),
            "threads": self.threads,
            "fds": self.fds,
        }


def memory(pid: int) -> Memory:
    fields: dict[str, str] = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            name, _, value = line.partition(":")
            fields[name] = value.strip()

    def mb(name: str) -> float:
        return int(fields.get(name, "0 kB").split()[0]) / 1024

    try:
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        fds = -1
    return Memory(mb("VmRSS"), mb("VmHWM"), int(fields.get("Threads", "0")), fds)


def start_time(pid: int) -> int | None:
    """Clock ticks since boot when `pid` started: tells a pid apart from its reuse."""
    stat = read_stat(pid)
    return stat.start_time if stat is not None else None


def still_alive(snapshot: dict[int, int | None]) -> list[int]:
    """The pids of a `{pid: start_time}` snapshot that are still the same live process."""
    return [p for p, t in snapshot.items() if alive(p) and start_time(p) == t]


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ")
    except OSError:
        return b""


def _environ(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            return fh.read()
    except OSError:
        return b""


def _pids() -> list[int]:
    return [int(e) for e in os.listdir("/proc") if e.isdigit()]


def tool_processes(server_pid: int | None = None, markers: list[str] | None = None) -> list[int]:
    """Live processes that are tools of `server_pid` (by the reaper's environment mark, whose
    value starts with the server's pid) or carry one of `markers` in their command line."""
    wanted_env = OWNER_ENV + f"{server_pid}-".encode() if server_pid else None
    wanted = [m.encode() for m in markers or []]
    me = os.getpid()
    found = []
    for pid in _pids():
        if pid == me:
            continue
        hit = False
        if wanted:
            cmdline = _cmdline(pid)
            hit = any(m in cmdline for m in wanted)
        if not hit and wanted_env is not None:
            hit = any(entry.startswith(wanted_env) for entry in _environ(pid).split(b"\0"))
        if hit and alive(pid):
            found.append(pid)
    return found


def any_tool_processes() -> list[int]:
    """Every live process carrying an agentls tool mark, whichever server started it."""
    me = os.getpid()
    found = []
    for pid in _pids():
        if pid != me and OWNER_ENV in _environ(pid) and alive(pid):
            found.append(pid)
    return found


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in _pids():
        stat = read_stat(entry)
        if stat is not None:
            children.setdefault(stat.ppid, []).append(entry)
    out: list[int] = []
    todo = list(children.get(pid, []))
    while todo:
        child = todo.pop()
        if child in out:
            continue
        out.append(child)
        todo.extend(children.get(child, []))
    return out


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def fd_kinds(pid: int) -> dict[str, int]:
    """What a process's open descriptors point at, by kind (socket, pipe, pidfd, file...)."""
    kinds: dict[str, int] = {}
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return kinds
    for name in names:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue
        kind = target.split(":", 1)[0] if ":" in target else target
        if kind.startswith("/"):
            kind = "file " + kind
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds

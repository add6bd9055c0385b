"""Waiting in tests for something that can be seen, never for a guessed length of time.

A fixed `sleep` before an assertion is either too short on a loaded machine (the test fails
for no reason) or too long everywhere else (the suite is slow). The waits here return as soon
as the awaited state shows (a notification received, a file written, a process started or
gone, a signal sent) and give up only after a generous limit, which is there to end a broken
test, not to pace a working one. A wait that gives up fails the test with what it waited for.

- `wait_for` / `wait_for_blocking`: poll a check (in async tests / in plain or threaded code)
  until it gives a truthy value, and return that value.
- `Changes`: for state a callback changes (messages, bytes, events): whoever changes it calls
  `changed()`, and `wait_for(..., changes=...)` checks again at once instead of polling.
- files: `file_text`, `wait_for_file`, `written_later_than` (the file clock has ticked).
- process state read from /proc: `alive`, `comm`, `cmdline`, `live_pids`, `pids_with_marker`,
  `live_in_group`, `children_of`, `process_tree`, `signals_handled`.
- `record_signals(monkeypatch)` gives a `SignalLog` of the signals this process sends
  (`os.kill`, `os.killpg`), so a test can wait until the code under test has signalled a
  process, e.g. to act inside a grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from agentls.tools.procfs import list_pids, read_stat

if TYPE_CHECKING:  # a helper process (tests/e2e/llama_server.py) uses this module without pytest
    import pytest

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 10.0
POLL_INTERVAL_S = 0.01
# with `changes`, a check runs again at least this often anyway: some state (a process that
# exited, a file) changes without anyone calling `changed()`
CHANGES_RECHECK_S = 0.25


class Changes:
    """A signal that some state changed, for the waits that re-check it (see `wait_for`).

    Whoever changes the state (a notification handler, a reader callback) calls `changed()`.
    All of it runs on the event loop's thread, so a change between a check and the wait after
    it cannot be missed: the flag is cleared before each check.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def changed(self) -> None:
        self._event.set()

    def _arm(self) -> None:
        self._event.clear()

    async def _next(self, limit_s: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), limit_s)


def _describe(check: Callable[..., object], what: str) -> str:
    if what:
        return what
    try:
        return inspect.getsource(check).strip()
    except (OSError, TypeError):
        return repr(check)


def _gave_up(
    check: Callable[..., object],
    what: str,
    timeout: float,
    last: object,
    explain: Callable[[], object] | None,
) -> AssertionError:
    detail = explain() if explain is not None else last
    shown = f"\n{detail}" if isinstance(detail, str) else f" {detail!r}"
    return AssertionError(
        f"gave up after {timeout:g} s waiting for {_describe(check, what)}:{shown}"
    )


async def wait_for(
    check: Callable[[], T | Awaitable[T]],
    timeout: float = DEFAULT_TIMEOUT_S,
    *,
    what: str = "",
    interval: float | None = None,
    changes: Changes | None = None,
    explain: Callable[[], object] | None = None,
) -> T:
    """Run `check` (a function, or an async one) until it returns something truthy; return it.

    It runs again after `interval` seconds, or as soon as `changes` says something changed.
    After `timeout` seconds it fails the test, saying `what` it waited for (the check's source
    when not given) and `explain()` (else the check's last value). A check may also fail the
    test itself by raising, e.g. when what it waits for can no longer happen.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    pause = (
        interval if interval is not None else (CHANGES_RECHECK_S if changes else POLL_INTERVAL_S)
    )
    while True:
        if changes is not None:
            changes._arm()
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        left = deadline - loop.time()
        if left <= 0:
            raise _gave_up(check, what, timeout, value, explain)
        if changes is None:
            await asyncio.sleep(min(pause, left))
        else:
            await changes._next(min(pause, left))


def wait_for_blocking(
    check: Callable[[], T],
    timeout: float = DEFAULT_TIMEOUT_S,
    *,
    what: str = "",
    interval: float = POLL_INTERVAL_S,
    explain: Callable[[], object] | None = None,
) -> T:
    """`wait_for` for code without an event loop (sync tests, threads): it blocks."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        left = deadline - time.monotonic()
        if left <= 0:
            raise _gave_up(check, what, timeout, value, explain)
        time.sleep(min(interval, left))


# -- files -----------------------------------------------------------------------------------------


def file_text(path: Path) -> str:
    """The file's text, or "" while it does not exist yet (another process writes it)."""
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""


async def wait_for_file(path: Path, contains: str = "", timeout: float = DEFAULT_TIMEOUT_S) -> str:
    """Wait until `path` exists (and holds `contains`); return its text."""
    await wait_for(
        lambda: path.exists() and contains in file_text(path),
        timeout,
        what=f"{path} to contain {contains!r}" if contains else f"{path} to be written",
        explain=lambda: file_text(path),
    )
    return file_text(path)


def written_later_than(path: Path, probe: Path) -> bool:
    """Whether a file written now gets a later modification time than `path` (the kernel's
    file clock ticks every few milliseconds; `probe` is a scratch file on the same disk)."""
    probe.touch()
    return probe.stat().st_mtime_ns > path.stat().st_mtime_ns


# -- processes (read from /proc, independently of the code under test) ---------------------------


def alive(pid: int) -> bool:
    """A process counts as alive unless it is gone or a zombie."""
    stat = read_stat(pid)
    return stat is not None and stat.alive


def comm(pid: int) -> str:
    """The process's name (`/proc/PID/comm`), "" once it is gone."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def cmdline(pid: int) -> list[bytes] | None:
    """The process's arguments, None once it is gone."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            arguments = fh.read().split(b"\0")
    except OSError:
        return None
    if arguments[-1] == b"":  # each argument ends in a NUL, unless the process rewrote them
        arguments.pop()
    return arguments


def live_pids(match: Callable[[list[bytes]], bool]) -> list[int]:
    """Live processes whose arguments `match` accepts."""
    found = []
    for pid in list_pids():
        arguments = cmdline(pid)
        if arguments is not None and match(arguments) and alive(pid):
            found.append(pid)
    return found


def pids_with_marker(text: str) -> list[int]:
    """Live processes whose command line contains `text` (the test's own unique tag)."""
    marker = text.encode()
    return live_pids(lambda arguments: marker in b" ".join(arguments))


def live_in_group(pgid: int) -> list[int]:
    """The live members of process group `pgid`."""
    found = []
    for pid in list_pids():
        stat = read_stat(pid)
        if stat is not None and stat.alive and stat.pgid == pgid:
            found.append(pid)
    return found


def children_of(pid: int) -> list[int]:
    """The live children of `pid`."""
    found = []
    for entry in list_pids():
        stat = read_stat(entry)
        if stat is not None and stat.ppid == pid and stat.alive:
            found.append(entry)
    return found


def process_tree(pids: list[int]) -> list[int]:
    """The given processes and all their live descendants."""
    tree: list[int] = []
    todo = list(pids)
    while todo:
        pid = todo.pop()
        if pid in tree:
            continue
        tree.append(pid)
        todo.extend(children_of(pid))
    return tree


def signals_handled(pid: int) -> tuple[set[int], set[int]]:
    """The signals `pid` ignores and those it catches (`SigIgn`, `SigCgt` in its status)."""
    masks: dict[str, int] = {}
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return set(), set()
    for line in status.splitlines():
        name, _sep, value = line.partition(":")
        if name in ("SigIgn", "SigCgt"):
            masks[name] = int(value.strip(), 16)

    def members(mask: int) -> set[int]:
        return {n for n in range(1, 65) if mask >> (n - 1) & 1}

    return members(masks.get("SigIgn", 0)), members(masks.get("SigCgt", 0))


# -- signals this process sends ----------------------------------------------------------------


@dataclass
class SignalLog:
    """The `os.kill` and `os.killpg` calls made in this process, in order, as (kind, id, sig)."""

    sent: list[tuple[str, int, int]] = field(default_factory=list)
    changes: Changes | None = None

    def record(self, kind: str, target: int, sig: int) -> None:
        self.sent.append((kind, target, sig))
        if self.changes is not None:
            self.changes.changed()

    def has(self, sig: int, kind: str | None = None) -> bool:
        return any(s == sig and (kind is None or k == kind) for k, _t, s in self.sent)

    async def wait_for(
        self, sig: int, kind: str | None = None, timeout: float = DEFAULT_TIMEOUT_S
    ) -> None:
        """Until a signal `sig` has been sent (by `kind`: "kill" or "killpg", else either)."""
        if self.changes is None:
            self.changes = Changes()
        name = signal.Signals(sig).name
        await wait_for(
            lambda: self.has(sig, kind), timeout, what=f"a {name} to be sent", changes=self.changes
        )


def record_signals(monkeypatch: pytest.MonkeyPatch) -> SignalLog:
    """Record the signals sent from here on (they are still sent), until the test ends."""
    log = SignalLog()
    real_kill, real_killpg = os.kill, os.killpg

    def kill(pid: int, sig: int) -> None:
        real_kill(pid, sig)
        log.record("kill", pid, sig)

    def killpg(pgid: int, sig: int) -> None:
        real_killpg(pgid, sig)
        log.record("killpg", pgid, sig)

    monkeypatch.setattr(os, "kill", kill)
    monkeypatch.setattr(os, "killpg", killpg)
    return log

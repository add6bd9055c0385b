"""Writing a plan to disk: every file changes or none does, and none is ever half-written.

Each new text is written to a temporary file next to its target and fsynced before anything
visible happens; then the temporaries are renamed over their targets (a rename is atomic, so a
crash leaves each file whole, old or new) and deletions come last. If a step fails, the steps
already done are undone from the old bytes kept in memory. The function is synchronous on
purpose: called from a coroutine, no cancellation can land between two renames.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from agentls.tools.files import UnreadableFileError, read_file
from agentls.tools.patch.plan import MAX_FILE_BYTES, FileChange, PatchPlan

__all__ = ["CommitConflictError", "CommitError", "commit_plan"]


class CommitError(Exception):
    """The plan could not be written; every file was left as it was (unless ``unrestored``)."""

    def __init__(self, message: str, unrestored: list[Path] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.unrestored = unrestored or []


class CommitConflictError(CommitError):
    """A file changed on disk between planning and committing; nothing was written."""


_TEMP_NAME = re.compile(r"^\..+\.agentls-(\d+)-\d+\.tmp$")


@dataclass(slots=True)
class _Write:
    target: Path
    data: bytes
    old: bytes | None
    mode: int | None
    temp: Path | None = None
    done: bool = False


@dataclass(slots=True)
class _Remove:
    target: Path
    old: bytes
    mode: int
    done: bool = False


@dataclass(slots=True)
class _Steps:
    writes: list[_Write] = field(default_factory=list)
    removals: list[_Remove] = field(default_factory=list)
    created_dirs: list[Path] = field(default_factory=list)


def commit_plan(plan: PatchPlan, *, exclude: Collection[Path] = (), verify: bool = True) -> None:
    """Write ``plan``; raises :class:`CommitError` after putting every file back.

    ``exclude`` names changes (by ``FileChange.path``) the caller applies another way, e.g.
    files with unsaved edits that go through the editor. With ``verify`` a file whose disk
    text is no longer the plan's old text stops the commit before anything is written.
    """
    if plan.deferred:
        # a change planned without reading its file: the caller plans it for real first
        raise CommitError("nothing was changed: the patch was not planned completely")
    steps = _Steps()
    for change in plan.changes:
        if change.path in exclude:
            continue
        _collect(change, steps, verify)
    try:
        _prepare(steps)
    except BaseException as error:
        _discard(steps)
        if isinstance(error, OSError):
            raise CommitError(f"nothing was changed: {_describe(error)}") from error
        raise
    try:
        for write in steps.writes:
            assert write.temp is not None
            os.replace(write.temp, write.target)
            write.temp = None
            write.done = True
        for removal in steps.removals:
            os.unlink(removal.target)
            removal.done = True
    except BaseException as error:
        # Whatever interrupts the renames (an I/O error, a KeyboardInterrupt in the main
        # thread) leaves no half-applied patch behind.
        unrestored = _undo(steps)
        if not isinstance(error, OSError):
            raise
        if unrestored:
            names = ", ".join(str(path) for path in unrestored)
            raise CommitError(
                f"writing failed ({_describe(error)}) and these files could not be restored: "
                f"{names}",
                unrestored,
            ) from error
        raise CommitError(
            f"nothing was changed: {_describe(error)} (files already written were restored)"
        ) from error
    _fsync_dirs(
        {write.target.parent for write in steps.writes}
        | {removal.target.parent for removal in steps.removals}
    )


def _collect(change: FileChange, steps: _Steps, verify: bool) -> None:
    source = change.real_path
    if change.kind == "add":
        if verify and os.path.lexists(source):
            raise CommitConflictError(f"nothing was changed: {change.display_path} now exists")
        assert change.new_text is not None
        steps.writes.append(_Write(source, change.new_text.encode("utf-8"), None, None))
        return
    old, mode = _read_old(change, verify)
    if change.kind == "delete":
        steps.removals.append(_Remove(source, old, mode))
        return
    assert change.new_text is not None
    data = change.new_text.encode("utf-8")
    if change.real_move_path is None:
        steps.writes.append(_Write(source, data, old, mode))
        return
    if verify and os.path.lexists(change.real_move_path):
        raise CommitConflictError(f"nothing was changed: {change.display_move_path} now exists")
    steps.writes.append(_Write(change.real_move_path, data, None, mode))
    steps.removals.append(_Remove(source, old, mode))


def _read_old(change: FileChange, verify: bool) -> tuple[bytes, int]:
    try:
        info = os.stat(change.real_path)
        # guarded: the file may have been swapped for a FIFO or a device since planning
        read = read_file(change.real_path, limit=MAX_FILE_BYTES, follow_links=False)
    except OSError as error:
        raise CommitConflictError(
            f"nothing was changed: cannot read {change.display_path} ({_describe(error)})"
        ) from error
    except UnreadableFileError as error:
        raise CommitConflictError(
            f"nothing was changed: cannot read {change.display_path} ({error.reason})"
        ) from None
    if read.truncated:
        raise CommitConflictError(
            f"nothing was changed: {change.display_path} grew past "
            f"{MAX_FILE_BYTES >> 20} MiB since the patch was planned"
        )
    data = read.data
    if verify and data.decode("utf-8", errors="replace") != change.old_text:
        raise CommitConflictError(
            f"nothing was changed: {change.display_path} changed on disk since the patch "
            "was planned"
        )
    return data, stat.S_IMODE(info.st_mode)


def _sweep_stale_temps(folders: set[Path]) -> None:
    """Remove temporaries a crashed commit left behind (their process no longer runs)."""
    for folder in folders:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            match = _TEMP_NAME.match(entry.name)
            if match is None or _alive(int(match.group(1))):
                continue
            with contextlib.suppress(OSError):
                os.unlink(entry.path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _prepare(steps: _Steps) -> None:
    """Folders and fsynced temporaries: nothing a reader of the targets can see yet."""
    _sweep_stale_temps({write.target.parent for write in steps.writes})
    fds: list[int] = []
    try:
        for write in steps.writes:
            _make_parents(write.target.parent, steps.created_dirs)
            write.temp, fd = _create_temp(write.target, write.data, write.mode)
            fds.append(fd)
        _sync_all(fds)
    finally:
        for fd in fds:
            os.close(fd)


def _sync_all(fds: list[int]) -> None:
    """fsync every descriptor; in parallel when there are several.

    The filesystem's journal commits concurrent fsyncs together, so 50 files cost a few
    journal writes rather than 50 in a row. Threads are waited for here: the caller still
    sees one synchronous step.
    """
    if len(fds) <= 2:
        for fd in fds:
            os.fsync(fd)
        return
    with ThreadPoolExecutor(max_workers=min(16, len(fds))) as pool:
        list(pool.map(os.fsync, fds))


def _make_parents(folder: Path, created: list[Path]) -> None:
    missing: list[Path] = []
    current = folder
    while not current.exists():
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        os.mkdir(path)
        created.append(path)


def _write_temp(target: Path, data: bytes, mode: int | None) -> Path:
    temp, fd = _create_temp(target, data, mode)
    try:
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    os.close(fd)
    return temp


def _create_temp(target: Path, data: bytes, mode: int | None) -> tuple[Path, int]:
    """A new temporary next to ``target`` holding ``data``, and its still open descriptor."""
    for attempt in range(100):
        temp = target.with_name(f".{target.name}.agentls-{os.getpid()}-{attempt}.tmp")
        try:
            # 0o666 lets the umask decide a new file's mode, as any editor would.
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        try:
            if mode is not None:
                os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        return temp, fd
    raise FileExistsError(f"no free temporary name next to {target}")


def _discard(steps: _Steps) -> None:
    for write in steps.writes:
        if write.temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(write.temp)
            write.temp = None
    for folder in reversed(steps.created_dirs):
        with contextlib.suppress(OSError):
            os.rmdir(folder)


def _undo(steps: _Steps) -> list[Path]:
    """Put back every step already done; returns the files that could not be restored."""
    failed: list[Path] = []
    for removal in reversed(steps.removals):
        if removal.done:
            try:
                temp = _write_temp(removal.target, removal.old, removal.mode)
                os.replace(temp, removal.target)
            except OSError:
                failed.append(removal.target)
    for write in reversed(steps.writes):
        if not write.done:
            continue
        try:
            if write.old is None:
                os.unlink(write.target)
            else:
                temp = _write_temp(write.target, write.old, write.mode)
                os.replace(temp, write.target)
        except OSError:
            failed.append(write.target)
    _discard(steps)
    return failed


def _fsync_dirs(folders: set[Path]) -> None:
    """Make the renames themselves durable; a folder that refuses costs nothing."""
    fds: list[int] = []
    for folder in folders:
        with contextlib.suppress(OSError):
            fds.append(os.open(folder, os.O_RDONLY))
    try:
        with contextlib.suppress(OSError):
            _sync_all(fds)
    finally:
        for fd in fds:
            os.close(fd)


def _describe(error: OSError) -> str:
    name = f" {error.filename}" if error.filename else ""
    return f"{error.strerror or error}{':' if name else ''}{name}"

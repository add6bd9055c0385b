"""Append-only rollout writer: one writer per session, whole lines, fsync at turn ends.

The file itself carries the lock (`flock`), so the kernel drops it when the holder dies,
even by SIGKILL: a crashed server never leaves a session locked.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import logging
import os
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from agentls.rollout.records import encode_line

REDACTED = b"[REDACTED]"
logger = logging.getLogger(__name__)


class SessionLockedError(RuntimeError):
    """Another live process writes this session."""


class RolloutWriteError(OSError):
    """A record could not be saved; the message says why in words a user can act on."""


def _describe(exc: OSError, doing: str) -> str:
    if exc.errno == errno.ENOSPC:
        return f"no space left on device while {doing}; free some space and send again"
    if exc.errno == errno.EDQUOT:
        return f"disk quota exceeded while {doing}"
    return f"could not write the session file while {doing}: {exc.strerror or exc}"


LOCK_TRIES = 5
LOCK_RETRY_S = 0.02


class RolloutWriter:
    def __init__(self, path: Path, *, create: bool, secrets: Iterable[str] = ()) -> None:
        self.path = path
        self._secrets = [s.encode() for s in secrets if len(s) >= 4]
        self._fd = self._open(path, create)
        # Checked at the first append, so a reader that runs after locking still sees the
        # torn line as torn.
        self._check_tail = not create
        # A write that failed part-way leaves our own torn line: end it before the next one.
        self._torn = False

    @staticmethod
    def _open(path: Path, create: bool) -> int:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC | os.O_NOFOLLOW
        if create:
            flags |= os.O_CREAT | os.O_EXCL
        fd = os.open(path, flags, 0o600)
        # A lock just released can still be held for a moment by a child process forked
        # before the release and not yet exec'd (the descriptor is close-on-exec, not
        # close-on-fork): a few short tries tell that apart from another server's lock.
        for attempt in range(LOCK_TRIES):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if attempt < LOCK_TRIES - 1:
                    time.sleep(LOCK_RETRY_S)
        os.close(fd)
        raise SessionLockedError(
            f"session file {path.name} is open in another agentls server; "
            "close that window or start a new session"
        )

    def relink_if_deleted(self) -> bool:
        """Bring back a session file that was deleted under us; returns whether it was.

        The open descriptor still holds every byte written so far, so the file is copied
        back from it into a new file at the same place, and writing goes on there.
        """
        if self._fd < 0 or os.fstat(self._fd).st_nlink > 0:
            return False
        with open(f"/proc/self/fd/{self._fd}", "rb") as old:
            data = old.read()
        from agentls.rollout.paths import ensure_private_dir

        ensure_private_dir(self.path.parent, follow=False)
        fd = self._open(self.path, create=True)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except OSError:
            os.close(fd)
            raise
        os.close(self._fd)
        self._fd = fd
        logger.warning("session file %s was deleted while open; recreated it", self.path)
        return True

    def _start_on_fresh_line(self) -> None:
        """A torn last line (a crash mid-write) must not swallow the next record."""
        size = os.fstat(self._fd).st_size
        if size == 0:
            return
        with self.path.open("rb") as fh:
            fh.seek(size - 1)
            if fh.read(1) != b"\n":
                self._write(b"\n")

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]

    def append(
        self, line_type: str, payload: dict[str, Any], moment: datetime | None = None
    ) -> None:
        """Write one whole line, or raise `RolloutWriteError` and remember the tear."""
        line = encode_line(line_type, payload, moment)
        for secret in self._secrets:
            if secret in line:
                line = line.replace(secret, REDACTED)
        try:
            if self._check_tail or self._torn:
                self._start_on_fresh_line()
                self._check_tail = self._torn = False
            self._write(line)
        except OSError as exc:
            self._torn = True
            raise RolloutWriteError(exc.errno, _describe(exc, "saving the session")) from exc

    def sync(self) -> None:
        try:
            os.fsync(self._fd)
        except OSError as exc:
            raise RolloutWriteError(exc.errno, _describe(exc, "saving the session")) from exc

    async def sync_async(self) -> None:
        await asyncio.to_thread(self.sync)

    def close(self) -> None:
        if self._fd >= 0:
            try:
                os.fsync(self._fd)
            except OSError as exc:
                logger.warning("could not flush %s on close: %s", self.path, exc)
            finally:
                os.close(self._fd)
                self._fd = -1

    @property
    def closed(self) -> bool:
        return self._fd < 0

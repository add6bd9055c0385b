"""Append-only rollout writer: one writer per session, whole lines, fsync at turn ends.

The file itself carries the lock (`flock`), so the kernel drops it when the holder dies,
even by SIGKILL: a crashed server never leaves a session locked.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from agentls.rollout.records import encode_line

REDACTED = b"[REDACTED]"


class SessionLockedError(RuntimeError):
    """Another live process writes this session."""


class RolloutWriter:
    def __init__(self, path: Path, *, create: bool, secrets: Iterable[str] = ()) -> None:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC
        if create:
            flags |= os.O_CREAT | os.O_EXCL
        self.path = path
        self._secrets = [s.encode() for s in secrets if len(s) >= 4]
        self._fd = os.open(path, flags, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            raise SessionLockedError(
                f"session file {path.name} is open in another agentls server; "
                "close that window or start a new session"
            ) from None
        # Checked at the first append, so a reader that runs after locking still sees the
        # torn line as torn.
        self._check_tail = not create

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
        if self._check_tail:
            self._check_tail = False
            self._start_on_fresh_line()
        line = encode_line(line_type, payload, moment)
        for secret in self._secrets:
            if secret in line:
                line = line.replace(secret, REDACTED)
        self._write(line)

    def sync(self) -> None:
        os.fsync(self._fd)

    async def sync_async(self) -> None:
        await asyncio.to_thread(os.fsync, self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            try:
                os.fsync(self._fd)
            finally:
                os.close(self._fd)
                self._fd = -1

    @property
    def closed(self) -> bool:
        return self._fd < 0

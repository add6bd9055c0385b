"""One writer at a time on a shadow repository, across threads and across processes.

Two agentls servers may open the same workspace. git itself refuses a second writer with an
`index.lock` error, and a git killed half-way (the server crashed) leaves that lock file
behind forever. Holding our own `flock` first makes both cases simple: whoever holds it is
the only writer, so any `*.lock` git left in the shadow repository is stale and removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path


class WriterLock:
    """Serialises snapshot and restore on one shadow repository."""

    def __init__(self, git_dir: Path) -> None:
        self._path = git_dir / "agentls.lock"
        self._git_dir = git_dir
        self._thread_lock = threading.Lock()

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        with self._thread_lock:
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                self._clear_stale_locks()
                yield
            finally:
                os.close(fd)  # closing releases the flock

    def _clear_stale_locks(self) -> None:
        """Remove the lock files a killed git left: the index's, packed-refs', our refs'."""
        stale = [self._git_dir / name for name in os.listdir(self._git_dir)]
        stale += list((self._git_dir / "refs" / "agentls").rglob("*.lock"))
        for path in stale:
            if path.name.endswith(".lock") and path != self._path:
                with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                    path.unlink()

"""Tell clients when the workspace's session folder changes on disk.

Another window or process may add, change or delete sessions; our own appends to the files
we hold are not news, so they are filtered out.

The watcher only sees changes made after it really started, which watchfiles does lazily,
in a thread. So readiness is observed, not assumed: a probe file is written once the watch
is running, and `ready` is set when the watcher reports it. `agent/listSessions` waits for
that, so a client that listed the sessions is told of every change made afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections.abc import Callable
from pathlib import Path

from watchfiles import Change, awatch

logger = logging.getLogger(__name__)

PROBE_PREFIX = ".agentls-watch-probe-"


async def _probe(folder: Path, probe: Path, ready: asyncio.Event) -> None:
    """Create and remove the probe until the watcher has seen it (it starts in its own
    time); the file exists only for an instant, so no listing ever shows it."""
    while not ready.is_set():
        with contextlib.suppress(OSError):
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600)
            os.close(fd)
            os.unlink(probe)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ready.wait(), 0.05)


async def watch_sessions(
    folder: Path,
    notify: Callable[[], None],
    own_files: Callable[[], set[Path]],
    stop: asyncio.Event,
    ready: asyncio.Event | None = None,
) -> None:
    ready = ready or asyncio.Event()
    probe = folder / f"{PROBE_PREFIX}{uuid.uuid4().hex}"
    prober = asyncio.ensure_future(_probe(folder, probe, ready))
    watcher = awatch(folder, stop_event=stop, debounce=200, step=50, recursive=False)
    try:
        async for changes in watcher:
            own = own_files()
            news = False
            for change, path in changes:
                if Path(path).name.startswith(PROBE_PREFIX):
                    ready.set()
                elif not (change == Change.modified and Path(path) in own):
                    news = True
            if news:
                notify()
    except FileNotFoundError:
        logger.warning("session folder %s disappeared; no longer watching it", folder)
    finally:
        ready.set()
        prober.cancel()
        with contextlib.suppress(OSError):
            probe.unlink()

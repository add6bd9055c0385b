"""Tell clients when the workspace's session folder changes on disk.

Another window or process may add, change or delete sessions; our own appends to the files
we hold are not news, so they are filtered out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from watchfiles import Change, awatch

logger = logging.getLogger(__name__)


async def watch_sessions(
    folder: Path,
    notify: Callable[[], None],
    own_files: Callable[[], set[Path]],
    stop: asyncio.Event,
    ready: asyncio.Event | None = None,
) -> None:
    watcher = awatch(folder, stop_event=stop, debounce=200, step=50, recursive=False)
    if ready is not None:
        ready.set()
    try:
        async for changes in watcher:
            own = own_files()
            if any(
                not (change == Change.modified and Path(path) in own) for change, path in changes
            ):
                notify()
    except FileNotFoundError:
        logger.warning("session folder %s disappeared; no longer watching it", folder)

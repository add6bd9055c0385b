"""One session's `session/update`s, sent in order from the core's synchronous event sink.

The core hands events to a plain callable and goes on; ACP notifications are awaited. The
outbox queues updates and one task sends them, in order. A prompt waits for `drain()`
before it answers, because ACP wants every update of a turn to reach the client before
the turn's answer; a permission request waits for it too, so the client has seen the call
it is asked about.

Updates that only say "more of the same" are merged while they wait: consecutive output
updates of one tool call (each carries the whole output so far, so only the last matters)
and consecutive chunks of one message (joined). A client that reads slowly gets fewer,
larger notifications, and what waits in memory stays about the size of what differs.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from acp.schema import AgentMessageChunk, AgentThoughtChunk, TextContentBlock, ToolCallProgress

from agentls.acp.updates import Update

__all__ = ["UpdateOutbox"]

logger = logging.getLogger(__name__)

Send = Callable[[str, Update], Awaitable[None]]


def _output_only(update: Update) -> bool:
    """A running call's new output, and nothing else."""
    return (
        isinstance(update, ToolCallProgress)
        and update.status in (None, "in_progress")
        and update.content is not None
        and update.title is None
        and update.kind is None
        and update.locations is None
        and update.raw_input is None
        and update.raw_output is None
    )


def _merged(waiting: Update, new: Update) -> Update | None:
    """`waiting` and `new` as one update, when the second only adds to the first."""
    if (
        isinstance(waiting, ToolCallProgress)
        and isinstance(new, ToolCallProgress)
        and waiting.tool_call_id == new.tool_call_id
        and _output_only(waiting)
        and _output_only(new)
    ):
        return new
    for chunk in (AgentMessageChunk, AgentThoughtChunk):
        if (
            isinstance(waiting, chunk)
            and isinstance(new, chunk)
            and waiting.message_id == new.message_id
            and isinstance(waiting.content, TextContentBlock)
            and isinstance(new.content, TextContentBlock)
        ):
            text = TextContentBlock(type="text", text=waiting.content.text + new.content.text)
            return waiting.model_copy(update={"content": text})
    return None


class UpdateOutbox:
    """The updates of session `session_id`, sent with `send(session_id, update)`."""

    def __init__(self, session_id: str, send: Send) -> None:
        self._session_id = session_id
        self._send = send
        self._queue: deque[Update] = deque()
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False

    def put(self, update: Update) -> None:
        """Queue `update` (from the event loop's thread; never blocks, never raises)."""
        if self._closed:
            return
        if self._queue and (merged := _merged(self._queue[-1], update)) is not None:
            self._queue[-1] = merged
        else:
            self._queue.append(update)
        self._idle.clear()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"acp-updates-{self._session_id}"
            )

    def put_all(self, updates: list[Update]) -> None:
        for update in updates:
            self.put(update)

    async def drain(self) -> None:
        """Return once everything queued so far has been sent (or could not be)."""
        await self._idle.wait()

    def close(self) -> None:
        """Drop what waits and take nothing more (the session closed)."""
        self._closed = True
        self._queue.clear()
        if self._task is not None:
            self._task.cancel()
        self._idle.set()

    async def _run(self) -> None:
        try:
            while self._queue:
                update = self._queue.popleft()
                try:
                    await self._send(self._session_id, update)
                except ConnectionError:  # the client is gone: nobody to tell
                    self._queue.clear()
                except Exception:
                    logger.exception("could not send a session/update")
        finally:
            if not self._queue:
                self._idle.set()

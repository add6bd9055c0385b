"""At most one task per session: started, stopped and awaited in one place.

Stopping is task cancellation: wherever the task waits (the model stream, a command, an
approval), `CancelledError` lands there and the task's own stop path takes over, so a task
always records its end before its caller hears of it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Iterator
from typing import Any, Protocol

from agentls.agent.results import TurnInProgressError, TurnResult


class SessionTask(Protocol):
    """One piece of work in a session: a turn, a compaction, the user's command."""

    @property
    def id(self) -> str: ...

    @property
    def finishing(self) -> bool:
        """True once the task is recording its end: a stop then has nothing left to stop."""
        ...

    async def run(self) -> TurnResult: ...


class TaskControl:
    """Start, stop, wait: the only code that creates or cancels a session's task.

    A stop that arrives before the task has taken its first step is delivered right after
    that step (the loop runs ready callbacks in order), so the task always gets to record its
    start and its end: there is no "stopped before it started" case to handle.
    """

    def __init__(self, session_id: str) -> None:
        self._session_id = session_id
        self._task_obj: SessionTask | None = None
        self._task: asyncio.Task[TurnResult] | None = None
        # why no task may start now (an undo is rewinding the session), else None
        self._blocked: str | None = None

    @property
    def running_turn_id(self) -> str | None:
        return self._task_obj.id if self._task_obj is not None else None

    def refuse_if_busy(self) -> None:
        if self._task is not None:
            raise TurnInProgressError(
                f"a turn is already running in session {self._session_id}; "
                "wait for it to finish or interrupt it first"
            )
        if self._blocked is not None:
            raise TurnInProgressError(self._blocked)

    @contextlib.contextmanager
    def blocked(self, reason: str) -> Iterator[None]:
        """No task starts while the body runs (sends are refused with `reason`)."""
        self.refuse_if_busy()
        self._blocked = reason
        try:
            yield
        finally:
            self._blocked = None

    async def start(self, work: SessionTask, *, stopped: bool = False) -> TurnResult:
        """Run one task to its end; a cancelled caller stops the task, then gets its result.

        `stopped`: a stop arrived while the task was being prepared (`prepare`); the task
        starts and is stopped at once, so it is recorded and answered like any stopped task.
        """
        self.refuse_if_busy()
        self._task_obj = work
        task = asyncio.get_running_loop().create_task(work.run(), name=f"agentls-{work.id}")
        self._task = task
        task.add_done_callback(self._task_done)
        if stopped:
            self.interrupt()
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            self.interrupt()
        while True:  # further cancels ask for what is already happening: keep waiting
            try:
                return await asyncio.shield(task)
            except asyncio.CancelledError:
                continue

    def _task_done(self, task: asyncio.Task[TurnResult]) -> None:
        if self._task is task:
            self._task = None
            self._task_obj = None

    def interrupt(self) -> str | None:
        """Stop the running task; returns its id, or None when there was nothing to stop."""
        work, task = self._task_obj, self._task
        if work is None or task is None or task.done() or work.finishing:
            return None
        asyncio.get_running_loop().call_soon(self._cancel, work, task)
        return work.id

    @staticmethod
    def _cancel(work: SessionTask, task: asyncio.Task[TurnResult]) -> None:
        if not task.done() and not work.finishing and not task.cancelling():
            task.cancel()

    async def wait_idle(self) -> None:
        if self._task is not None:
            try:
                await asyncio.shield(self._task)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise


def uncancel() -> None:
    """Take back every pending cancel of this task: its stop path is running now."""
    task = asyncio.current_task()
    if task is not None:
        while task.cancelling():
            task.uncancel()


async def prepare(work: Awaitable[Any]) -> bool:
    """Await work that comes before a task (settling the model, reading the history);
    returns whether a stop arrived meanwhile. The stop is kept, not lost: the caller starts
    the task stopped, so the request still answers with an interrupted turn."""
    job = asyncio.ensure_future(work)
    try:
        await asyncio.shield(job)
    except asyncio.CancelledError:
        uncancel()
        job.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await job
        return True
    return False

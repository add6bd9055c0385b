"""The whole life of a turn: where it starts, how it is stopped, how it ends.

`TurnControl.send` starts a turn, `TurnControl.interrupt` stops it, `TurnControl.wait_idle`
waits for it; `Turn.run` is the loop (the model streams, tools run, until the model answers
without a call) and `Turn._end` is the one way out.

Every path out of a turn ends the same way: each call made in the turn has an output in
memory and on disk, an end record is written and fsynced, and only then is `turnCompleted`
sent. Stopping is task cancellation: wherever the turn is waiting (the model stream, a
command, an approval), `CancelledError` lands there and the abort path takes over.

The turn sees its session only through `TurnHost`, the few things a turn needs: record,
build the next request, ask for approval, flush.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from agentls.agent.approvals import ApprovalRequest, Decision
from agentls.agent.context import AgentContext
from agentls.agent.results import StorageError, TurnInProgressError, TurnResult, TurnStatus
from agentls.agent.tools import (
    AbortRequestedError,
    CallScope,
    PreparedCall,
    ToolBox,
    ToolOutcome,
)
from agentls.history.items import assistant_text
from agentls.history.repair import ABORTED_OUTPUT
from agentls.providers.events import (
    Completed,
    ItemDone,
    ModelRequest,
    ProviderError,
    Retry,
    TextDelta,
)
from agentls.providers.retry import stream_with_retries

if TYPE_CHECKING:
    from agentls.agent.compaction import Compaction

logger = logging.getLogger(__name__)

EventSink = Callable[[dict[str, Any]], None]
# Text the model wrote: it never saw the key (not in requests, not in tool outputs), so it
# cannot hold it; these are most of a turn's events and need no redaction.
MODEL_TEXT_EVENTS = frozenset({"textDelta", "messageCompleted"})
MAX_MODEL_REQUESTS = 200


class TurnHost(Protocol):
    """What a turn may ask of its session, and nothing more."""

    @property
    def session_id(self) -> str: ...

    def record_turn_start(self, turn_id: str, text: str) -> None: ...

    def record_item(self, item: dict[str, Any]) -> None: ...

    def record_call_output(
        self, call_id: str, output: str, status: str, exit_code: int | None
    ) -> None: ...

    def record_turn_end(
        self,
        turn_id: str,
        status: str,
        final_message: str | None,
        usage: dict[str, int] | None,
        error: dict[str, Any] | None,
    ) -> None: ...

    def take_steering(self) -> list[str]: ...

    def steering_pending(self) -> bool: ...

    def next_request(self, tools: list[dict[str, Any]]) -> ModelRequest: ...

    def after_response(self, response_id: str | None) -> None: ...

    def refused_stored_history(self, request: ModelRequest, error: ProviderError) -> bool: ...

    @property
    def compaction(self) -> Compaction: ...

    async def approve(self, request: ApprovalRequest) -> Decision: ...

    async def before_change(self, turn_id: str) -> None: ...

    async def changes_so_far(self, turn_id: str) -> dict[str, Any] | None: ...

    async def flush(self) -> None: ...


def assistant_message(text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text}],
    }


class Turn:
    def __init__(
        self,
        host: TurnHost,
        context: AgentContext,
        tools: ToolBox,
        turn_id: str,
        text: str,
        sink: EventSink,
    ) -> None:
        self.host = host
        self.context = context
        self.tools = tools
        self.id = turn_id
        self.text = text
        self._sink = sink
        self._seq = 0
        self.usage: dict[str, int] = {}
        self.final_message: str | None = None
        self.partial: dict[str, str] = {}
        self.done_messages: list[dict[str, Any]] = []
        self.pending_calls: list[str] = []
        self.finishing = False

    # -- events -------------------------------------------------------------------------
    def emit(self, event_type: str, **fields: Any) -> None:
        if event_type not in MODEL_TEXT_EVENTS:  # the key never reaches the model
            fields = self.context.redact_fields(fields)
        event = {
            "sessionId": self.host.session_id,
            "turnId": self.id,
            "seq": self._seq,
            "type": event_type,
            **fields,
        }
        self._seq += 1
        try:
            self._sink(event)
        except Exception:  # a closed editor connection must not break the turn's records
            logger.exception("could not deliver %s event", event_type)

    # -- the loop -----------------------------------------------------------------------
    async def run(self) -> TurnResult:
        try:
            self._record_start()
            self.emit("turnStarted", text=self.text)
            return await self._loop()
        except (asyncio.CancelledError, AbortRequestedError):
            task = asyncio.current_task()
            if task is not None:
                while task.cancelling():
                    task.uncancel()
            await self._changes_at_stop()
            return await self._finish_interrupted()
        except ProviderError as exc:
            return await self._finish_failed(exc.to_wire())
        except StorageError as exc:
            return await self._finish_failed({"message": str(exc)})
        except Exception as exc:
            logger.exception("turn %s failed", self.id)
            return await self._finish_failed(
                {"message": f"internal error in agentls: {exc.__class__.__name__}: {exc}"}
            )

    def _record_start(self) -> None:
        """The turn's first records; a turn of another kind (a user command) overrides it."""
        self.host.record_turn_start(self.id, self.text)

    async def _loop(self) -> TurnResult:
        host = self.host
        for _ in range(MAX_MODEL_REQUESTS):
            for text in host.take_steering():
                self.emit("steered", text=text)
            items, response_id = await self._stream_response()
            calls = [item for item in items if item.get("type") == "function_call"]
            for item in items:
                host.record_item(item)
            host.after_response(response_id)
            self.partial.clear()
            self.done_messages.clear()
            texts = [t for item in items if (t := assistant_text(item))]
            if texts:
                self.final_message = texts[-1]
            if not calls:
                if host.steering_pending():  # the user added to the turn while it answered
                    continue
                return await self._end("completed", self.final_message, None)
            self.pending_calls = [str(call.get("call_id")) for call in calls]
            for call in calls:
                await self._run_call(call)
        raise ProviderError(
            f"the model kept calling tools for {MAX_MODEL_REQUESTS} requests; stopped the turn"
        )

    async def _stream_response(self) -> tuple[list[dict[str, Any]], str | None]:
        """Items of one completed response; nothing of an incomplete one is returned.

        The history is compacted before a request that would fill the context window, and
        after the API refuses one for its length (then that request is retried once).
        """
        tools = self.tools.definitions()
        request = await self.host.compaction.before_request(tools, self.emit)
        try:
            return await self._consume(request)
        except ProviderError as exc:
            if self.host.refused_stored_history(request, exc):
                retry: ModelRequest | None = self.host.next_request(tools)
            else:
                retry = await self.host.compaction.after_refusal(exc, tools, self.emit)
            if retry is None:
                raise
            return await self._consume(retry)

    async def _consume(self, request: ModelRequest) -> tuple[list[dict[str, Any]], str | None]:
        context = self.context
        items: list[dict[str, Any]] = []
        response_id: str | None = None
        stream = stream_with_retries(context.model_stream, request, context.settings)
        async for event in stream:
            if isinstance(event, TextDelta):
                self.partial[event.item_id] = self.partial.get(event.item_id, "") + event.delta
                self.emit("textDelta", itemId=event.item_id, delta=event.delta)
            elif isinstance(event, ItemDone):
                items.append(event.item)
                text = assistant_text(event.item)
                if text is not None:
                    item_id = str(event.item.get("id", ""))
                    self.partial.pop(item_id, None)
                    self.done_messages.append(event.item)
                    self.emit("messageCompleted", itemId=item_id, text=text)
            elif isinstance(event, Completed):
                response_id = event.response_id
                for key, value in event.usage.items():
                    self.usage[key] = self.usage.get(key, 0) + value
                if event.usage:
                    self.emit("tokenUsage", **self.host.compaction.usage_fields(event.usage))
            elif isinstance(event, Retry):
                items.clear()
                self.partial.clear()
                self.done_messages.clear()
                self.emit(
                    "retrying",
                    attempt=event.attempt,
                    delayMs=round(event.delay_s * 1000),
                    reason=event.reason,
                )
        return items, response_id

    async def _run_call(self, call: dict[str, Any]) -> None:
        call_id = str(call.get("call_id"))
        name = str(call.get("name", ""))
        arguments = str(call.get("arguments", ""))
        prepared: PreparedCall | ToolOutcome = self.tools.prepare(name, arguments)
        if isinstance(prepared, ToolOutcome):
            self.emit("toolCallStarted", callId=call_id, name=name, arguments=arguments)
            self._complete_call(call_id, prepared)
            return
        started = prepared.started_fields
        self.emit("toolCallStarted", callId=call_id, name=name, arguments=arguments, **started)
        may_change = bool(getattr(prepared, "may_change", False))
        if may_change:
            await self.host.before_change(self.id)
        outcome = await prepared.run(_Scope(self, call_id))
        self._complete_call(call_id, outcome)
        if may_change and outcome.status != "denied":
            changes = await self.host.changes_so_far(self.id)
            if changes is not None:
                self.emit("turnDiff", **changes)

    def _complete_call(self, call_id: str, outcome: ToolOutcome) -> None:
        redact = self.context.redact
        self.host.record_call_output(
            call_id, redact(outcome.output), outcome.status, outcome.exit_code
        )
        if call_id in self.pending_calls:
            self.pending_calls.remove(call_id)
        fields: dict[str, Any] = {
            "callId": call_id,
            "status": outcome.status,
            "output": outcome.shown if outcome.shown is not None else outcome.output,
            **outcome.completed_fields,
        }
        if outcome.exit_code is not None:
            fields["exitCode"] = outcome.exit_code
        self.emit("toolCallCompleted", **fields)

    # -- endings ------------------------------------------------------------------------
    async def _changes_at_stop(self) -> None:
        """A command stopped mid-way may have changed files: checkpoint them (for undo)."""
        try:
            changes = await self.host.changes_so_far(self.id)
        except asyncio.CancelledError:  # stopped again while stopping: the stop goes on
            task = asyncio.current_task()
            while task is not None and task.cancelling():
                task.uncancel()
            return
        except Exception:
            logger.exception("no checkpoint after the stop of turn %s", self.id)
            return
        if changes is not None:
            self.emit("turnDiff", **changes)

    async def _finish_failed(self, error: dict[str, Any]) -> TurnResult:
        self._answer_pending_calls()
        return await self._end("failed", self.final_message, error)

    async def _finish_interrupted(self) -> TurnResult:
        host = self.host
        shown: list[str] = []
        try:
            for item in self.done_messages:
                host.record_item(item)
                shown.append(assistant_text(item) or "")
            for text in self.partial.values():
                if text:
                    host.record_item(assistant_message(text))
                    shown.append(text)
        except StorageError as exc:
            return await self._finish_failed({"message": str(exc)})
        self.partial.clear()
        self.done_messages.clear()
        self._answer_pending_calls()
        partial_text = "".join(shown) or None
        return await self._end("interrupted", partial_text or self.final_message, None)

    def _answer_pending_calls(self) -> None:
        for call_id in list(self.pending_calls):
            try:
                self._complete_call(call_id, ToolOutcome("aborted", ABORTED_OUTPUT))
            except StorageError:
                self.pending_calls.remove(call_id)  # resume repairs it from the file

    async def _end(
        self, status: TurnStatus, final_message: str | None, error: dict[str, Any] | None
    ) -> TurnResult:
        """The one way out: record the end, flush, then tell the editor."""
        self.finishing = True
        usage = dict(self.usage) or None
        try:
            # text the user added that no request carried stays in this turn, unanswered:
            # it must never slip into the next turn, after that turn's own message
            for text in self.host.take_steering():
                self.emit("steered", text=text)
            self.host.record_turn_end(self.id, status, final_message, usage, error)
            await self.host.flush()
        except StorageError as exc:
            # the turn still ends, and says it could not be saved
            status, error = "failed", {"message": str(exc)}
        if error is not None:
            error = self.context.redact_fields(error)
        result = TurnResult(
            session_id=self.host.session_id,
            turn_id=self.id,
            status=status,
            final_message=final_message,
            usage=usage,
            error=error,
        )
        fields: dict[str, Any] = {"status": status}
        if final_message is not None:
            fields["finalMessage"] = final_message
        if usage:
            fields["usage"] = usage
        if error:
            fields["error"] = error
        self.emit("turnCompleted", **fields)
        return result


class _Scope(CallScope):
    """One tool call's view of its turn: stream output, ask the user."""

    def __init__(self, turn: Turn, call_id: str) -> None:
        self._turn = turn
        self.call_id = call_id
        self.turn_id = turn.id
        self.session_id = turn.host.session_id

    def emit(self, event_type: str, **fields: Any) -> None:
        self._turn.emit(event_type, callId=self.call_id, **fields)

    async def approve(self, request: ApprovalRequest) -> Decision:
        return await self._turn.host.approve(request)


async def prepare(work: Awaitable[Any]) -> bool:
    """Await work that comes before a turn (settling the model, reading the history);
    returns whether a stop arrived meanwhile. The stop is kept, not lost: the caller starts
    the turn stopped, so the request still answers with an interrupted turn."""
    job = asyncio.ensure_future(work)
    try:
        await asyncio.shield(job)
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None:
            while task.cancelling():
                task.uncancel()
        job.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await job
        return True
    return False


class TurnControl:
    """At most one running turn per session: start it, stop it, wait for it.

    A stop that arrives before the turn's task has taken its first step is delivered right
    after that step (the loop runs ready callbacks in order), so the turn always gets to
    record its start and its end: there is no "stopped before it started" case to handle.
    """

    def __init__(self) -> None:
        self._turn: Turn | None = None
        self._task: asyncio.Task[TurnResult] | None = None
        # why no turn may start now (an undo is rewinding the session), else None
        self.blocked: str | None = None

    @property
    def running_turn_id(self) -> str | None:
        return self._turn.id if self._turn is not None else None

    async def send(self, turn: Turn, *, stopped: bool = False) -> TurnResult:
        """Run one turn to its end; a cancelled caller interrupts the turn, then gets its result.

        `stopped`: a stop arrived while the turn was being prepared (`prepare`); the turn
        starts and is stopped at once, so it is recorded and answered like any stopped turn.
        """
        if self._task is not None:
            raise TurnInProgressError(
                f"a turn is already running in session {turn.host.session_id}; "
                "wait for it to finish or interrupt it first"
            )
        if self.blocked is not None:
            raise TurnInProgressError(self.blocked)
        self._turn = turn
        task = asyncio.get_running_loop().create_task(turn.run(), name=f"agentls-{turn.id}")
        self._task = task
        task.add_done_callback(self._turn_done)
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

    def _turn_done(self, task: asyncio.Task[TurnResult]) -> None:
        if self._task is task:
            self._task = None
            self._turn = None

    def interrupt(self) -> str | None:
        """Stop the running turn; returns its id, or None when there was nothing to stop."""
        turn, task = self._turn, self._task
        if turn is None or task is None or task.done() or turn.finishing:
            return None
        asyncio.get_running_loop().call_soon(self._cancel, turn, task)
        return turn.id

    @staticmethod
    def _cancel(turn: Turn, task: asyncio.Task[TurnResult]) -> None:
        if not task.done() and not turn.finishing and not task.cancelling():
            task.cancel()

    async def wait_idle(self) -> None:
        if self._task is not None:
            try:
                await asyncio.shield(self._task)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise

"""The conversation turn: the model streams, tools run, until the model answers without a
call. `Turn.run` is the loop; a stop lands as `CancelledError` wherever it waits.

Every path out ends the same way (`end_turn`): each call made in the turn has an output in
memory and on disk, an end record is written and fsynced, and only then is `turnCompleted`
sent. The turn sees its session only through `TurnHost`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from agentls.agent.approvals import ApprovalRequest, Decision
from agentls.agent.context import AgentContext
from agentls.agent.results import StorageError, TurnResult, TurnStatus
from agentls.agent.tasks.control import uncancel
from agentls.agent.tasks.ending import TurnRecords, changes_at_stop, end_turn, report_changes
from agentls.agent.tasks.events import EventSink, TaskEvents
from agentls.agent.tools import (
    AbortRequestedError,
    CallScope,
    PreparedCall,
    ToolBox,
    ToolOutcome,
)
from agentls.history.items import assistant_text
from agentls.history.repair import ABORTED_OUTPUT
from agentls.protocol import EventType
from agentls.providers.events import (
    Completed,
    ItemDone,
    ModelRequest,
    ProviderError,
    Retry,
    TextDelta,
)
from agentls.providers.retry import stream_with_retries

logger = logging.getLogger(__name__)

MAX_MODEL_REQUESTS = 200


class TurnHost(TurnRecords, Protocol):
    """What a conversation turn may ask of its session, and nothing more."""

    def record_turn_start(self, turn_id: str, text: str) -> None: ...

    def record_call_output(
        self, call_id: str, output: str, status: str, exit_code: int | None
    ) -> None: ...

    def steering_pending(self) -> bool: ...

    def next_request(self, tools: list[dict[str, Any]]) -> ModelRequest: ...

    async def prepare_request(
        self, tools: list[dict[str, Any]], events: TaskEvents
    ) -> ModelRequest:
        """The next request, the history compacted first when it would not fit."""
        ...

    async def retry_after_refusal(
        self,
        request: ModelRequest,
        error: ProviderError,
        tools: list[dict[str, Any]],
        events: TaskEvents,
    ) -> ModelRequest | None:
        """The request to send again after a refusal (stored history, length), or None."""
        ...

    def usage_fields(self, usage: dict[str, int]) -> dict[str, Any]: ...

    def after_response(self, response_id: str | None) -> None: ...

    async def approve(self, request: ApprovalRequest) -> Decision: ...


def assistant_message(text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text}],
    }


class Turn:
    """One conversation turn: the user's text, the model's answers and tool calls."""

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
        self.events = TaskEvents(
            host.session_id, turn_id, sink, context.redact_fields, context.secrets
        )
        self.usage: dict[str, int] = {}
        self.final_message: str | None = None
        self.partial: dict[str, str] = {}
        self.done_messages: list[dict[str, Any]] = []
        self.pending_calls: list[str] = []
        self.finishing = False

    def emit(self, event_type: str, **fields: Any) -> None:
        self.events.emit(event_type, **fields)

    # -- the loop -----------------------------------------------------------------------
    async def run(self) -> TurnResult:
        try:
            self.host.record_turn_start(self.id, self.text)
            self.emit(EventType.TURN_STARTED, text=self.text)
            return await self._loop()
        except (asyncio.CancelledError, AbortRequestedError):
            uncancel()
            await changes_at_stop(self.host, self.events)
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

    async def _loop(self) -> TurnResult:
        host = self.host
        for _ in range(MAX_MODEL_REQUESTS):
            for text in host.take_steering():
                self.emit(EventType.STEERED, text=text)
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

        The session compacts the history before a request that would fill the context
        window, and after the API refuses one for its length (then that request is retried
        once).
        """
        await self.tools.settle(self.events.emit)  # MCP servers still starting
        tools = self.tools.definitions()
        request = await self.host.prepare_request(tools, self.events)
        try:
            return await self._consume(request)
        except ProviderError as exc:
            retry = await self.host.retry_after_refusal(request, exc, tools, self.events)
            if retry is None:
                raise
            return await self._consume(retry)

    async def _consume(self, request: ModelRequest) -> tuple[list[dict[str, Any]], str | None]:
        items: list[dict[str, Any]] = []
        response_id: str | None = None
        context = self.context
        async for event in stream_with_retries(context.model_stream, request, context.settings):
            if isinstance(event, TextDelta):
                self.partial[event.item_id] = self.partial.get(event.item_id, "") + event.delta
                self.emit(EventType.TEXT_DELTA, itemId=event.item_id, delta=event.delta)
            elif isinstance(event, ItemDone):
                items.append(event.item)
                text = assistant_text(event.item)
                if text is not None:
                    item_id = str(event.item.get("id", ""))
                    self.partial.pop(item_id, None)
                    self.done_messages.append(event.item)
                    self.emit(EventType.MESSAGE_COMPLETED, itemId=item_id, text=text)
            elif isinstance(event, Completed):
                response_id = event.response_id
                for key, value in event.usage.items():
                    self.usage[key] = self.usage.get(key, 0) + value
                if event.usage:
                    self.emit(EventType.TOKEN_USAGE, **self.host.usage_fields(event.usage))
            elif isinstance(event, Retry):
                items.clear()
                self.partial.clear()
                self.done_messages.clear()
                self.emit(
                    EventType.RETRYING,
                    attempt=event.attempt,
                    delayMs=round(event.delay_s * 1000),
                    reason=event.reason,
                )
        return items, response_id

    async def _run_call(self, call: dict[str, Any]) -> None:
        call_id = str(call.get("call_id"))
        name = str(call.get("name", ""))
        arguments = str(call.get("arguments", ""))
        await self.tools.read_ahead(name, arguments)
        prepared: PreparedCall | ToolOutcome = await self.tools.prepare(name, arguments)
        if isinstance(prepared, ToolOutcome):
            self.emit(EventType.TOOL_CALL_STARTED, callId=call_id, name=name, arguments=arguments)
            self._complete_call(call_id, prepared)
            return
        started = prepared.started_fields
        self.emit(
            EventType.TOOL_CALL_STARTED, callId=call_id, name=name, arguments=arguments, **started
        )
        may_change = bool(getattr(prepared, "may_change", False))
        if may_change:
            await self.host.before_change(self.id)
        outcome = await prepared.run(_Scope(self, call_id))
        self._complete_call(call_id, outcome)
        if may_change and outcome.status != "denied":
            await report_changes(self.host, self.events)

    def _complete_call(self, call_id: str, outcome: ToolOutcome) -> None:
        self.host.record_call_output(
            call_id, self.context.redact(outcome.output), outcome.status, outcome.exit_code
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
        self.emit(EventType.TOOL_CALL_COMPLETED, **fields)

    # -- endings ------------------------------------------------------------------------
    async def _finish_failed(self, error: dict[str, Any]) -> TurnResult:
        self._answer_pending_calls()
        return await self._end("failed", self.final_message, error)

    async def _finish_interrupted(self) -> TurnResult:
        """What the user saw of the answer is kept: finished and partial messages alike."""
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
        self.finishing = True
        usage = dict(self.usage) or None
        return await end_turn(
            self.host, self.events, self.context.redact_fields, status, final_message, usage, error
        )


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

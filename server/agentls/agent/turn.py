"""One turn: the model streams, tools run, until the model answers without a call.

Every path out of a turn ends the same way: each call made in the turn has an output in
memory and on disk, an end record is written and fsynced, and only then is `turnCompleted`
sent. Stopping is task cancellation: wherever the turn is waiting (the model stream, a
command, an approval), `CancelledError` lands there and the abort path takes over.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agentls.agent.approvals import DECISIONS, ApprovalRequest, needs_approval
from agentls.agent.results import TurnResult
from agentls.config.settings import HistoryMode, WireApi
from agentls.history.repair import ABORTED_OUTPUT, server_side_input
from agentls.history.view import assistant_text, describe_call
from agentls.providers.events import (
    Completed,
    ItemDone,
    ModelRequest,
    ProviderError,
    Retry,
    TextDelta,
)
from agentls.providers.retry import stream_with_retries
from agentls.tools.process import run_command
from agentls.tools.shell import (
    SHELL_TOOL,
    ToolArgumentError,
    format_result_for_model,
    parse_shell_arguments,
    resolve_workdir,
)

if TYPE_CHECKING:
    from agentls.agent.session import Session

logger = logging.getLogger(__name__)

EventSink = Callable[[dict[str, Any]], None]
MAX_MODEL_REQUESTS = 200
DENIED_OUTPUT = (
    "The user denied this command. Do not run it again unchanged; ask or try another way."
)


def _refuses_response_chain(error: ProviderError) -> bool:
    """A 400 about `previous_response_id` or `store`: forgotten, or never supported."""
    text = error.message.lower()
    return error.http_status == 400 and (
        "previous_response" in text or "previous response" in text or "'store'" in text
    )


class AbortRequestedError(Exception):
    """The user answered an approval with "abort": the whole turn stops."""


def assistant_message(text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text}],
    }


class Turn:
    def __init__(self, session: Session, turn_id: str, text: str, sink: EventSink) -> None:
        self.session = session
        self.id = turn_id
        self.text = text
        self._sink = sink
        self._seq = 0
        self.usage: dict[str, int] = {}
        self.final_message: str | None = None
        self.partial: dict[str, str] = {}
        self.done_messages: list[dict[str, Any]] = []
        self.pending_calls: list[str] = []
        self.interrupt_requested = False
        self.started = False
        self.finishing = False

    # -- events -------------------------------------------------------------------------
    def emit(self, event_type: str, **fields: Any) -> None:
        event = {
            "sessionId": self.session.id,
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
        self.started = True
        try:
            return await self._run()
        except (asyncio.CancelledError, AbortRequestedError):
            task = asyncio.current_task()
            if task is not None:
                while task.cancelling():
                    task.uncancel()
            return await self._finish_interrupted()
        except ProviderError as exc:
            return await self._finish_failed(exc.to_wire())
        except Exception as exc:
            logger.exception("turn %s failed", self.id)
            return await self._finish_failed(
                {"message": f"internal error in agentls: {exc.__class__.__name__}: {exc}"}
            )

    async def _run(self) -> TurnResult:
        session = self.session
        session.record_turn_start(self)
        self.emit("turnStarted", text=self.text)
        if self.interrupt_requested:  # stopped before the task first ran
            raise asyncio.CancelledError
        for _ in range(MAX_MODEL_REQUESTS):
            items, response_id = await self._stream_response()
            calls = [item for item in items if item.get("type") == "function_call"]
            for item in items:
                session.append_item(item)
            if response_id and self._uses_server_history():
                session.record_response_state(response_id)
            self.partial.clear()
            self.done_messages.clear()
            texts = [t for item in items if (t := assistant_text(item))]
            if texts:
                self.final_message = texts[-1]
            if not calls:
                return await self._finish_completed()
            self.pending_calls = [str(call.get("call_id")) for call in calls]
            for call in calls:
                await self._run_call(call)
        raise ProviderError(
            f"the model kept calling tools for {MAX_MODEL_REQUESTS} requests; stopped the turn"
        )

    def _uses_server_history(self) -> bool:
        settings = self.session.context.settings
        return (
            settings.history is HistoryMode.SERVER
            and settings.wire_api is WireApi.RESPONSES
            and not self.session.server_history_refused
        )

    def _request(self) -> ModelRequest:
        session = self.session
        settings = session.context.settings
        chain = session.response_chain if self._uses_server_history() else None
        if chain is not None:
            items = server_side_input(session.history, chain[1])
        else:
            items, added, dropped = session.stateless_input.build(session.history)
            if added or dropped:
                logger.warning(
                    "history repaired before request: %d added, %d dropped", added, dropped
                )
        return ModelRequest(
            model=settings.model,
            input=items,
            tools=[SHELL_TOOL],
            instructions=settings.instructions or session.instructions,
            store=self._uses_server_history(),
            previous_response_id=chain[0] if chain else None,
        )

    async def _stream_response(self) -> tuple[list[dict[str, Any]], str | None]:
        """Items of one completed response; nothing of an incomplete one is returned."""
        request = self._request()
        try:
            return await self._consume(request)
        except ProviderError as exc:
            if not request.store or not _refuses_response_chain(exc):
                raise
            refused = request.previous_response_id is None or "support" in exc.message
            logger.warning(
                "the model API %s the stored history (%s); sending the full history instead",
                "refuses" if refused else "no longer has",
                exc.message,
            )
            self.session.forget_response_chain(refused=refused)
            return await self._consume(self._request())

    async def _consume(self, request: ModelRequest) -> tuple[list[dict[str, Any]], str | None]:
        context = self.session.context
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
        session = self.session
        call_id = str(call.get("call_id"))
        name = str(call.get("name", ""))
        arguments = str(call.get("arguments", ""))
        self.emit("toolCallStarted", callId=call_id, name=name, arguments=arguments)
        if name != "shell":
            self._complete_call(call_id, "failed", f"unknown tool '{name}'; use 'shell'", None)
            return
        try:
            args = parse_shell_arguments(arguments)
        except ToolArgumentError as exc:
            self._complete_call(call_id, "failed", str(exc), None)
            return
        cwd = resolve_workdir(session.context.workspace, args.workdir)
        settings = session.context.settings
        if needs_approval(settings.approval, args.command, session.approved_commands):
            decision = await session.context.approver(
                ApprovalRequest(
                    session_id=session.id,
                    turn_id=self.id,
                    call_id=call_id,
                    kind="shell",
                    cwd=str(cwd),
                    command=args.command,
                    reason=describe_call(name, arguments),
                )
            )
            if decision not in DECISIONS or decision == "deny":
                self._complete_call(call_id, "denied", DENIED_OUTPUT, None, shown="denied")
                return
            if decision == "abort":
                raise AbortRequestedError
            if decision == "approveForSession":
                session.approved_commands.add(tuple(args.command))
        timeout_s = (args.timeout_ms / 1000) if args.timeout_ms else settings.shell_timeout_s
        started = time.monotonic()
        result = await run_command(
            args.command,
            cwd=cwd,
            timeout_s=timeout_s,
            on_output=lambda chunk: self.emit("toolOutputDelta", callId=call_id, delta=chunk),
            env=session.context.tool_env(),
            kill_grace_s=settings.kill_grace_s,
        )
        logger.debug("call %s ran %.3f s", call_id, time.monotonic() - started)
        status = "completed" if result.exit_code == 0 else "failed"
        self._complete_call(
            call_id,
            status,
            format_result_for_model(result),
            result.exit_code,
            shown=result.output if result.error is None else result.error,
        )

    def _complete_call(
        self,
        call_id: str,
        status: str,
        output: str,
        exit_code: int | None,
        *,
        shown: str | None = None,
    ) -> None:
        self.session.record_call_output(call_id, output, status, exit_code)
        if call_id in self.pending_calls:
            self.pending_calls.remove(call_id)
        fields: dict[str, Any] = {"callId": call_id, "status": status, "output": shown or output}
        if exit_code is not None:
            fields["exitCode"] = exit_code
        self.emit("toolCallCompleted", **fields)

    # -- endings ------------------------------------------------------------------------
    async def _finish_completed(self) -> TurnResult:
        self.finishing = True
        return await self._end("completed", self.final_message, None)

    async def _finish_failed(self, error: dict[str, Any]) -> TurnResult:
        self.finishing = True
        self._answer_pending_calls()
        return await self._end("failed", self.final_message, error)

    async def _finish_interrupted(self) -> TurnResult:
        self.finishing = True
        session = self.session
        shown: list[str] = []
        for item in self.done_messages:
            session.append_item(item)
            shown.append(assistant_text(item) or "")
        for text in self.partial.values():
            if text:
                session.append_item(assistant_message(text))
                shown.append(text)
        self.partial.clear()
        self.done_messages.clear()
        self._answer_pending_calls()
        partial_text = "".join(shown) or None
        return await self._end("interrupted", partial_text or self.final_message, None)

    def _answer_pending_calls(self) -> None:
        for call_id in list(self.pending_calls):
            self._complete_call(call_id, "aborted", ABORTED_OUTPUT, None)

    async def _end(
        self, status: str, final_message: str | None, error: dict[str, Any] | None
    ) -> TurnResult:
        session = self.session
        usage = dict(self.usage) or None
        session.record_turn_end(self.id, status, final_message, usage, error)
        await session.flush()
        result = TurnResult(
            session_id=session.id,
            turn_id=self.id,
            status=status,  # type: ignore[arg-type]
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

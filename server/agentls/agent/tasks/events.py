"""A task's events on their way to the front end: numbered, redacted, never fatal."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from agentls.agent.redaction import StreamRedactor
from agentls.protocol import EventType

logger = logging.getLogger(__name__)

EventSink = Callable[[dict[str, Any]], None]
Redact = Callable[[dict[str, Any]], dict[str, Any]]

# Text the model wrote: it never saw the key (not in requests, not in tool outputs), so it
# cannot hold it; these are most of a turn's events and need no redaction.
MODEL_TEXT_EVENTS = frozenset({EventType.TEXT_DELTA, EventType.MESSAGE_COMPLETED})
OUTPUT_DELTA = EventType.TOOL_OUTPUT_DELTA
CALL_COMPLETED = EventType.TOOL_CALL_COMPLETED


class TaskEvents:
    """The event stream of one task: each event carries the session, the task and a `seq`.

    A sink that raises (a closed editor connection) is logged, never allowed to break the
    task: its records on disk matter more than one lost notification.
    """

    def __init__(
        self,
        session_id: str,
        task_id: str,
        sink: EventSink,
        redact: Redact,
        secrets: Callable[[], list[str]] = list,
    ) -> None:
        self.session_id = session_id
        self.task_id = task_id
        self._sink = sink
        self._redact = redact
        self._secrets = secrets
        self._seq = 0
        # a call's streamed output, redacted across chunk borders (by callId)
        self._streams: dict[str, StreamRedactor] = {}

    def emit(self, event_type: str, **fields: Any) -> None:
        if event_type == OUTPUT_DELTA:
            self._stream_delta(fields)
            return
        if event_type == CALL_COMPLETED:
            self._end_stream(str(fields.get("callId")))
        self._send(event_type, fields)

    def _stream_delta(self, fields: dict[str, Any]) -> None:
        call_id = str(fields.get("callId"))
        stream = self._streams.get(call_id)
        if stream is None:
            stream = self._streams[call_id] = StreamRedactor(self._secrets)
        shown = stream.feed(str(fields.get("delta", "")))
        if shown:
            self._send(OUTPUT_DELTA, {**fields, "delta": shown})

    def _end_stream(self, call_id: str) -> None:
        stream = self._streams.pop(call_id, None)
        rest = stream.flush() if stream is not None else ""
        if rest:
            self._send(OUTPUT_DELTA, {"callId": call_id, "delta": rest})

    def _send(self, event_type: str, fields: dict[str, Any]) -> None:
        if event_type not in MODEL_TEXT_EVENTS:  # the key never reaches the model
            fields = self._redact(fields)
        event = {
            "sessionId": self.session_id,
            "turnId": self.task_id,
            "seq": self._seq,
            "type": event_type,
            **fields,
        }
        self._seq += 1
        try:
            self._sink(event)
        except Exception:
            logger.exception("could not deliver %s event", event_type)

"""A session's context meter and compaction: how full the window is, and shrinking it.

The session asks `Compaction.before_request` for each model request of a turn: when the
request would pass `auto_compact_percent` of the window, the history is compacted first. When
the API refuses a request for context length anyway (the estimate is only bytes / 4),
`after_refusal` compacts and hands back the request to retry, once. `agent/compact` runs the
same procedure on demand, as a task of its own (`agentls.agent.tasks.compact`). A compaction
is one model request (the summary); its result is written as one `compacted` line, and only
then does the session's model history become the replacement, so a stop or a failure in the
middle changes nothing.

The window is looked up once per model endpoint: the `context_window` setting, else what a
llama.cpp-style server reports (`/props`, probed at the first request, never at
`initialize`), else the table of known models; unknown means no meter and no automatic
compaction, but a refusal still compacts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from agentls.agent.context import AgentContext
from agentls.agent.results import CoreError
from agentls.history.compact import (
    compaction_input,
    estimate_item_tokens,
    estimate_text_tokens,
    replacement_history,
    should_compact,
    summary_from_output,
    summary_text,
    user_message_budget,
)
from agentls.history.repair import stateless_input
from agentls.protocol import EventType
from agentls.providers.context_window import (
    context_percent,
    is_context_length_error,
    known_context_window,
    probe_reported_window,
)
from agentls.providers.events import Completed, ItemDone, ModelRequest, ProviderError, Retry
from agentls.providers.retry import stream_with_retries

logger = logging.getLogger(__name__)

Item = dict[str, Any]
Emit = Callable[..., None]

# The summary request may fill this share of the window; the rest is for the summary itself.
SUMMARY_INPUT_SHARE = 0.8
# How often the summary request is shrunk and tried again when it is itself too long.
SUMMARY_ATTEMPTS = 3


class CompactionError(CoreError):
    """The summary could not be made; the history is unchanged."""

    code = -32603


class CompactionHost(Protocol):
    """What compaction needs of a session."""

    context: AgentContext
    instructions: str | None

    @property
    def session_id(self) -> str: ...

    @property
    def history(self) -> list[Item]: ...

    def next_request(self, tools: list[dict[str, Any]]) -> ModelRequest: ...

    def record_compaction(self, message: str, replacement: list[Item]) -> None: ...

    async def flush(self) -> None: ...


@dataclass(frozen=True)
class CompactionOutcome:
    tokens_before: int
    tokens_after: int


# --------------------------------------------------------------------------- the window

_reported: dict[str, asyncio.Future[int | None]] = {}


async def _probe(base_url: str, api_key: str | None) -> int | None:
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        async with httpx.AsyncClient(trust_env=False, headers=headers) as client:
            return await probe_reported_window(client, base_url)
    except Exception as exc:  # the meter is a nicety: never let it break a turn
        logger.info("could not ask %s for its context window: %s", base_url, exc)
        return None


async def reported_window(context: AgentContext) -> int | None:
    """What the model server says its context is; asked once per endpoint, shared."""
    from agentls.config.settings import DEFAULT_BASE_URL

    settings = context.settings
    info = context.provider_info
    if info.get("embedded"):
        return settings.local_context_tokens
    base_url = str(info.get("baseUrl") or settings.base_url)
    if base_url.rstrip("/") == DEFAULT_BASE_URL or not base_url.startswith("http"):
        return None  # the public API reports nothing: the table knows its models
    future = _reported.get(base_url)
    if future is None or future.get_loop() is not asyncio.get_running_loop():
        future = asyncio.ensure_future(_probe(base_url, settings.api_key(context.env)))
        _reported[base_url] = future
    return await asyncio.shield(future)


async def context_window(context: AgentContext) -> int | None:
    """The setting, else what the server reports, else the table; None when unknown."""
    settings = context.settings
    if settings.context_window:
        return settings.context_window
    reported = await reported_window(context)
    if reported:
        return reported
    return known_context_window(str(context.provider_info.get("model") or settings.model))


# --------------------------------------------------------------------------- estimates


class _Meter:
    """Estimated tokens of the model history, kept as a running sum.

    The history only grows between compactions, so only new items are measured; a history
    that shrank or was replaced is measured again.
    """

    def __init__(self) -> None:
        self._list: list[Item] | None = None  # the list measured (an id could be reused)
        self._counted = 0
        self._tokens = 0

    def history_tokens(self, history: list[Item]) -> int:
        if history is not self._list or len(history) < self._counted:
            self._list, self._counted, self._tokens = history, 0, 0
        for item in history[self._counted :]:
            self._tokens += estimate_item_tokens(item)
        self._counted = len(history)
        return self._tokens


def fixed_tokens(tools: list[dict[str, Any]], instructions: str | None) -> int:
    """Tokens of what every request carries besides the conversation."""
    tool_tokens = estimate_text_tokens(orjson.dumps(tools).decode()) if tools else 0
    return tool_tokens + (estimate_text_tokens(instructions) if instructions else 0)


# --------------------------------------------------------------------------- compaction


def _has_more_than_user_messages(history: list[Item]) -> bool:
    return any(item.get("role") != "user" for item in history)


class Compaction:
    """One session's meter and compactions."""

    def __init__(self, host: CompactionHost) -> None:
        self.host = host
        self._meter = _Meter()
        # tools and instructions of the last request: part of what fills the window
        self.fixed_tokens = 0
        self.window: int | None = None
        # the size of the last request refused for length, when the window is unknown
        self._refused_tokens: int | None = None
        # the last request sent: (its history list, the meter then), and the input tokens
        # the API counted for it
        self._sent: tuple[list[Item], int] | None = None
        self._counted: int | None = None

    def estimate(self) -> int:
        """Tokens of the next request: the whole model history, the tools, the instructions.

        Bytes / 4, or, when larger, what the API counted for the last request plus the bytes
        / 4 of what was added since: the model's tokenizer may count more than the estimate.
        """
        history = self.host.history
        measured = self._meter.history_tokens(history)
        estimate = measured + self.fixed_tokens
        sent, counted = self._sent, self._counted
        if sent is not None and counted is not None and sent[0] is history:
            estimate = max(estimate, counted + measured - sent[1])
        return estimate

    def _mark_sent(self) -> None:
        history = self.host.history
        self._sent = (history, self._meter.history_tokens(history))
        self._counted = None

    async def resolve_window(self) -> int | None:
        self.window = await context_window(self.host.context)
        return self.window

    @property
    def limit(self) -> int | None:
        """The window, or, when it is unknown, the size of a request the API refused.

        A refused size is an upper bound of the real window; compacting at a share of it
        keeps the next requests under it without knowing the exact number.
        """
        return self.window or self._refused_tokens

    def usage_fields(self, usage: dict[str, int]) -> dict[str, Any]:
        """`tokenUsage` for one response: its tokens, and how full the window is after it."""
        input_tokens = int(usage.get("input_tokens", 0))
        output_tokens = int(usage.get("output_tokens", 0))
        if input_tokens > 0:
            self._counted = input_tokens
        fields: dict[str, Any] = {"inputTokens": input_tokens, "outputTokens": output_tokens}
        if self.window:
            fields["contextWindow"] = self.window
            percent = context_percent(input_tokens + output_tokens, self.window)
            if percent is not None:
                fields["percent"] = percent
        return fields

    async def before_request(self, tools: list[dict[str, Any]], emit: Emit) -> ModelRequest:
        """The next request, compacting first when it would pass the threshold."""
        host = self.host
        request = host.next_request(tools)
        self.fixed_tokens = fixed_tokens(request.tools, request.instructions)
        await self.resolve_window()
        window = self.limit
        percent = host.context.settings.auto_compact_percent
        due = (
            window is not None and percent > 0 and should_compact(self.estimate(), window, percent)
        )
        if due and _has_more_than_user_messages(host.history):  # else nothing would shrink
            try:
                await self.run(emit, reason="auto")
                request = host.next_request(tools)
            except CompactionError as exc:
                # the request may still fit; if not, the refusal path tries once more
                logger.warning("automatic compaction failed: %s", exc)
        self._mark_sent()
        return request

    async def after_refusal(
        self, error: ProviderError, tools: list[dict[str, Any]], emit: Emit
    ) -> ModelRequest | None:
        """After a context-length refusal: compact and give the request to retry, once."""
        if not is_context_length_error(error.http_status, error.code, error.message):
            return None
        if self.window is None:
            self._refused_tokens = self.estimate()
        try:
            await self.run(emit, reason="refused")
        except CompactionError:
            raise error from None
        request = self.host.next_request(tools)
        self._mark_sent()
        return request

    async def run(self, emit: Emit, *, reason: str) -> CompactionOutcome:
        """Summarise, record the `compacted` line, replace the model history.

        Raises CompactionError (after a `failed` event) when no summary could be made; a
        stop (`CancelledError`) also leaves the history as it was.
        """
        host = self.host
        history = host.history
        before = self.estimate()
        emit(EventType.COMPACTION, phase="started", reason=reason, tokensBefore=before)
        try:
            summary = await self._summarise(history)
        except asyncio.CancelledError:
            emit(EventType.COMPACTION, phase="failed", reason=reason, error={"message": "stopped"})
            raise
        except (ProviderError, CompactionError) as exc:
            message = exc.message if isinstance(exc, ProviderError) else str(exc)
            emit(EventType.COMPACTION, phase="failed", reason=reason, error={"message": message})
            raise CompactionError(f"compaction failed: {message}") from exc
        budget = user_message_budget(self.limit)
        replacement = replacement_history(history, summary, budget_tokens=budget)
        host.record_compaction(summary_text(summary), replacement)
        self._sent = self._counted = None  # counted for a history that is gone
        await host.flush()
        after = self.estimate()
        fields: dict[str, Any] = {"tokensBefore": before, "tokensAfter": after}
        if self.window:
            fields["contextWindow"] = self.window
            fields["percent"] = context_percent(after, self.window)
        emit(EventType.COMPACTION, phase="completed", reason=reason, **fields)
        # the meter, until the next response reports the real count
        meter: dict[str, Any] = {"inputTokens": after, "outputTokens": 0, "estimated": True}
        if self.window:
            meter.update(contextWindow=self.window, percent=fields["percent"])
        emit(EventType.TOKEN_USAGE, **meter)
        return CompactionOutcome(before, after)

    async def _summarise(self, history: list[Item]) -> str:
        """One model request for the summary; shrunk and retried only if it is refused."""
        host = self.host
        settings = host.context.settings
        instructions = settings.instructions or host.instructions
        budget: int | None = None
        limit = self.limit
        if limit:
            fixed = estimate_text_tokens(instructions) if instructions else 0
            budget = max(256, int(limit * SUMMARY_INPUT_SHARE) - fixed)
        for attempt in range(SUMMARY_ATTEMPTS):
            request = ModelRequest(
                model=settings.model,
                input=compaction_input(history, budget_tokens=budget),
                tools=[],
                instructions=instructions,
                store=False,
            )
            try:
                items = await self._consume(request)
            except ProviderError as exc:
                refused = is_context_length_error(exc.http_status, exc.code, exc.message)
                if not refused or attempt == SUMMARY_ATTEMPTS - 1:
                    raise
                size = sum(estimate_item_tokens(i) for i in stateless_input(history)[0])
                budget = max(256, (budget or size) // 2)
                continue
            summary = summary_from_output(items)
            if not summary.strip():
                raise CompactionError("the model answered the summary request without text")
            return summary
        raise CompactionError("the summary request did not fit the model's context")

    async def _consume(self, request: ModelRequest) -> list[Item]:
        context = self.host.context
        items: list[Item] = []
        async for event in stream_with_retries(context.model_stream, request, context.settings):
            if isinstance(event, ItemDone):
                items.append(event.item)
            elif isinstance(event, Retry):
                items.clear()
            elif isinstance(event, Completed):
                pass
        return items

"""Bounded retries with exponential backoff and jitter, honouring Retry-After."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable

from agentls.config.settings import Settings
from agentls.providers.events import ModelEvent, ModelRequest, ProviderError, Retry

StreamFactory = Callable[[ModelRequest], AsyncIterator[ModelEvent]]


def backoff_delay(attempt: int, settings: Settings, retry_after_s: float | None) -> float:
    if retry_after_s is not None:
        return float(min(retry_after_s, max(settings.retry_max_delay_s, 60.0)))
    base = settings.retry_base_delay_s * float(1 << (attempt - 1))
    return min(settings.retry_max_delay_s, base) * random.uniform(0.5, 1.0)


async def stream_with_retries(
    stream: StreamFactory, request: ModelRequest, settings: Settings
) -> AsyncIterator[ModelEvent]:
    """Yields a `Retry` before each new attempt so the consumer drops partial output."""
    attempt = 1
    while True:
        try:
            async for event in stream(request):
                yield event
            return
        except ProviderError as exc:
            if not exc.retryable or attempt > settings.max_retries:
                if exc.retryable and attempt > 1:
                    exc.message = f"{exc.message} (gave up after {attempt} attempts)"
                    exc.args = (exc.message,)
                raise
            delay = backoff_delay(attempt, settings, exc.retry_after_s)
            yield Retry(attempt=attempt + 1, delay_s=delay, reason=exc.message)
            await asyncio.sleep(delay)
            attempt += 1

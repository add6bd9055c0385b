"""Turning HTTP failures into errors a user can act on."""

from __future__ import annotations

import email.utils
import time
from typing import Any

import orjson

from agentls.providers.events import ProviderError

RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    parsed = email.utils.parsedate_to_datetime(value) if value else None
    if parsed is None:
        return None
    return max(0.0, parsed.timestamp() - time.time())


def api_message(body: bytes) -> tuple[str, str | None]:
    """The service's own words, if it sent any."""
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        text = body.decode("utf-8", "replace").strip()
        return (text[:300] or "no details given"), None
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        code = error.get("code") or error.get("type")
        return str(error.get("message") or "no details given"), (str(code) if code else None)
    if isinstance(error, str):
        return error, None
    return str(data)[:300], None


def http_error(
    status: int, body: bytes, retry_after: str | None, *, key_env: str, base_url: str
) -> ProviderError:
    message, code = api_message(body)
    advice = ""
    if status == 401:
        advice = f" Check {key_env}: it is missing, wrong or revoked."
    elif status == 403:
        advice = f" The key in {key_env} is not allowed to use this model or endpoint."
    elif status == 404:
        advice = f" Check the model name (AGENTLS_MODEL) and the base URL ({base_url})."
    elif status == 429:
        advice = " The service is rate-limiting this key; wait a moment, or check its limits."
    elif status >= 500:
        advice = " The model service is failing; try again later."
    return ProviderError(
        f"{status} from the model API: {message}.{advice}".replace("..", "."),
        http_status=status,
        code=code,
        retryable=status in RETRYABLE_STATUSES,
        retry_after_s=parse_retry_after(retry_after),
    )

"""How many tokens of input the model accepts, and whether an error says it was exceeded.

The window comes, in order of trust, from the user's `context_window` setting, from what a
local server reports about itself (llama.cpp's `/props`), and from a table of known models.
The table holds input limits: what a request may carry before the service refuses it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the HTTP stack is imported by the probe, not by whoever imports this
    import httpx

PROBE_TIMEOUT_S = 2.0

# Longest prefix wins. Sources, as published:
# - gpt-5 family (gpt-5, -mini, -nano, -codex, 5.1, 5.2...): 400,000 tokens of context of
#   which up to 128,000 are output, so 272,000 of input (platform.openai.com/docs/models/gpt-5;
#   the Codex CLI uses 272,000 for every "gpt-5*" and "codex-*" model).
# - gpt-4.1, gpt-4.1-mini, gpt-4.1-nano: 1,047,576 (platform.openai.com/docs/models/gpt-4.1).
# - gpt-4o, gpt-4o-mini, gpt-4-turbo, gpt-4.5-preview: 128,000
#   (platform.openai.com/docs/models/gpt-4o and the pages of the others).
# - o1, o3, o3-mini, o4-mini, codex-mini-latest: 200,000 (platform.openai.com/docs/models/o3).
# - gpt-3.5-turbo: 16,385; gpt-4: 8,192 (platform.openai.com/docs/models).
# - gpt-oss-20b / -120b: 131,072 (the gpt-oss model card: 128k context).
# - Qwen2.5 and Qwen3 (dense and MoE, without YaRN): 32,768 native (their model cards);
#   Qwen3-Coder: 262,144 native (its model card); Qwen2.5-Coder 32,768.
# - Llama 3 (8B/70B): 8,192; Llama 3.1, 3.2, 3.3: 131,072 (Meta's model cards).
# - Gemma 3 (4B and larger): 131,072; Mistral Small 3.x / Devstral: 131,072 (model cards).
# - DeepSeek-Coder-V2: 163,840 (its model card); SmolLM2: 8,192 (its config).
_KNOWN: tuple[tuple[str, int], ...] = (
    ("gpt-5", 272_000),
    ("codex-mini", 200_000),
    ("codex-", 272_000),
    ("gpt-4.1", 1_047_576),
    ("gpt-4o", 128_000),
    ("gpt-4-turbo", 128_000),
    ("gpt-4.5", 128_000),
    ("gpt-4", 8_192),
    ("gpt-3.5-turbo", 16_385),
    ("o1", 200_000),
    ("o3", 200_000),
    ("o4-mini", 200_000),
    ("gpt-oss", 131_072),
    ("qwen3-coder", 262_144),
    ("qwen3", 32_768),
    ("qwen2.5", 32_768),
    ("llama3.1", 131_072),
    ("llama3.2", 131_072),
    ("llama3.3", 131_072),
    ("llama3", 8_192),
    ("gemma3", 131_072),
    ("mistral-small", 131_072),
    ("devstral", 131_072),
    ("deepseek-coder-v2", 163_840),
    ("smollm2", 8_192),
)
_BY_LENGTH = sorted(_KNOWN, key=lambda entry: len(entry[0]), reverse=True)

# What servers say when the input does not fit, lower-cased. OpenAI: the code
# `context_length_exceeded` and "maximum context length"; llama.cpp: "exceeds the available
# context size" (type `exceed_context_size_error`); vLLM: "maximum context length" /
# "maximum model length"; Ollama and Anthropic-style servers: "prompt is too long".
_PHRASES = (
    "context_length_exceeded",
    "exceed_context_size",
    "exceeds the available context size",
    "maximum context length",
    "maximum model length",
    "context length exceeded",
    "exceeds the context window",
    "exceeds the context length",
    "context window of this model",
    "prompt is too long",
    "prompt too long",
    "input is too long",
    "reduce the length of the messages",
)
_CODES = frozenset({"context_length_exceeded", "exceed_context_size_error"})


def _normalize(model: str) -> str:
    """`Qwen/Qwen3-8B-GGUF`, `qwen3:8b`, `meta-llama-3.1-8b.gguf` → comparable names."""
    name = model.strip().lower().rsplit("/", 1)[-1]
    name = name.removeprefix("meta-")
    name = re.sub(r"^llama-(\d)", r"llama\1", name)
    return re.sub(r"^(gemma)-(\d)", r"\1\2", name)


def known_context_window(model: str) -> int | None:
    name = _normalize(model)
    for prefix, window in _BY_LENGTH:
        if name.startswith(prefix):
            return window
    return None


def resolve_context_window(setting: int | None, model: str, reported: int | None) -> int | None:
    """The setting wins, then what the server reports, then the table; None when unknown."""
    for value in (setting, reported):
        if value is not None and value > 0:
            return value
    return known_context_window(model)


def _positive_int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return None
    return value


def _server_root(base_url: str) -> str:
    root = base_url.rstrip("/")
    return root.removesuffix("/v1")


async def _get_json(client: httpx.AsyncClient, url: str, timeout_s: float) -> Any:
    import httpx

    try:
        response = await client.get(url, timeout=timeout_s)
        if response.status_code != 200:
            return None
        return response.json()
    except (httpx.HTTPError, ValueError):
        return None


async def probe_reported_window(
    client: httpx.AsyncClient, base_url: str, *, timeout_s: float = PROBE_TIMEOUT_S
) -> int | None:
    """The context a llama.cpp-style server runs with, or None. Never raises.

    `/props` gives the context it was started with (`default_generation_settings.n_ctx`);
    `/v1/models` gives at best the model's training context (`meta.n_ctx_train`), which is
    only an upper bound, so it is the fallback. Other servers answer 404 or lack the fields.
    """
    props = await _get_json(client, f"{_server_root(base_url)}/props", timeout_s)
    if isinstance(props, dict):
        settings = props.get("default_generation_settings")
        if isinstance(settings, dict) and (n_ctx := _positive_int(settings.get("n_ctx"))):
            return n_ctx
        if n_ctx := _positive_int(props.get("n_ctx")):
            return n_ctx
    models = await _get_json(client, f"{base_url.rstrip('/')}/models", timeout_s)
    if isinstance(models, dict) and isinstance(models.get("data"), list) and models["data"]:
        first = models["data"][0]
        meta = first.get("meta") if isinstance(first, dict) else None
        if isinstance(meta, dict):
            return _positive_int(meta.get("n_ctx")) or _positive_int(meta.get("n_ctx_train"))
    return None


def is_context_length_error(http_status: int | None, code: str | None, message: str) -> bool:
    """Whether an API error means the input is over the model's context window.

    Rate limits ("tokens per min") mention tokens too, and are not this: a 429 never is.
    """
    if http_status == 429:
        return False
    if code is not None and str(code).lower() in _CODES:
        return True
    text = message.lower()
    return any(phrase in text for phrase in _PHRASES)


def context_percent(tokens: int, window: int | None) -> int | None:
    """How full the window is, 0 to 100, for `tokenUsage.percent`; None when unknown."""
    if not window or window <= 0:
        return None
    return max(0, min(100, round(tokens * 100 / window)))

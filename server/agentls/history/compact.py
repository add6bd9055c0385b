"""Compaction: shrink what the model sees to a summary plus the user's recent words.

This follows the Codex CLI (codex-rs/core/src/compact.rs) in behaviour:
- the summary is asked for with the whole history plus one more user message (the prompt);
- the new history is the most recent user messages, newest first until a token budget is
  spent (Codex keeps up to 20,000 tokens of them, cutting the one that overflows in the
  middle), restored to their original order, then the summary as one more *user* message
  that starts with a fixed prefix telling the model where it came from. Earlier summaries
  are recognised by that prefix and not kept as "user messages" again;
- tokens are estimated as bytes / 4, rounded up, as Codex's `approx_token_count` does;
- when the summary request itself is too big, Codex drops the oldest item and retries;
  `compaction_input(budget_tokens=...)` drops the oldest items up front to fit an estimate.
Differences: the summary prefix is worded here, and the instructions are not part of the
history (they travel as the request's `instructions`), so the replacement history starts
with the user messages where Codex puts its "initial context" first.

The new history holds no function calls and no outputs, so no call can be left without its
output whatever was running. An output recorded after the compaction for a call made before
it has no call in the new history; `normalize_for_request` drops it from requests, and the
panel, which reads the whole rollout, still shows the call with its output.
"""

from __future__ import annotations

import math

import orjson

from agentls.history.items import Item, summary_message, user_text
from agentls.history.repair import stateless_input

BYTES_PER_TOKEN = 4
USER_MESSAGES_MAX_TOKENS = 20_000
# The user messages kept may take at most this share of the window, so that a small local
# model (4k, 8k) still has room for the summary and the next answer.
USER_MESSAGES_WINDOW_SHARE = 0.25
NO_SUMMARY = "(no summary was produced)"
TRUNCATION_MARKER = "\n[... {tokens} tokens cut from this message at compaction ...]\n"

COMPACTION_PROMPT = """\
Your context is about to be compacted: everything above will be replaced by what you write \
now, plus the user's most recent messages. Write the handoff notes that you, or another \
assistant with no memory of this conversation, would need to carry on the work without \
asking again or redoing anything. Use these headings:

Goal: what the user wants overall, and any preferences or constraints they stated.
Decisions: what was decided and why, including approaches tried and rejected.
Files: every file created, edited, deleted or read that matters, each with one line on what \
changed or what it holds.
State: where the work stands now: what works, what fails (exact error messages, failing \
commands and tests), and anything left half done.
Next steps: the concrete actions that remain, in order.

Be specific (paths, names, commands, numbers) and brief. Do not call any tool; answer with \
the notes only."""

SUMMARY_PREFIX = (
    "Summary of the earlier conversation (its details were compacted away to save context). "
    "It was written by the assistant that did the work; the user messages above are the "
    "most recent ones. Continue from this summary instead of redoing what it describes:"
)


def estimate_text_tokens(text: str) -> int:
    return math.ceil(len(text.encode()) / BYTES_PER_TOKEN)


def estimate_item_tokens(item: Item) -> int:
    return math.ceil(len(orjson.dumps(item)) / BYTES_PER_TOKEN)


def estimate_tokens(items: list[Item]) -> int:
    """Tokens the items take in a request, roughly; the sum of the per-item estimates.

    A sum, so a caller can keep a running total as items are appended.
    """
    return sum(estimate_item_tokens(item) for item in items)


def should_compact(tokens: int, window: int | None, percent: int) -> bool:
    """Whether a request of `tokens` would pass `percent` of the window (0 turns it off)."""
    if percent <= 0 or not window:
        return False
    return tokens * 100 >= window * percent


def user_message_budget(window: int | None) -> int:
    """Tokens of recent user messages to keep: Codex's 20,000, or less for small windows."""
    if not window:
        return USER_MESSAGES_MAX_TOKENS
    return max(0, min(USER_MESSAGES_MAX_TOKENS, int(window * USER_MESSAGES_WINDOW_SHARE)))


def is_summary_text(text: str) -> bool:
    return text.startswith(SUMMARY_PREFIX)


def summary_text(summary: str) -> str:
    return f"{SUMMARY_PREFIX}\n{summary.strip() or NO_SUMMARY}"


def compaction_input(history: list[Item], *, budget_tokens: int | None = None) -> list[Item]:
    """The input of the summary request: the history, then the prompt as a user message.

    Every call has an output ("aborted" for one still running or cut off) and items are in
    the stored-nothing form (no item ids), so the request is valid with `store` true or false
    and without `previous_response_id`. With `budget_tokens`, the oldest items are left out
    until the request fits, as Codex does when the summary request itself is refused: the
    model summarises what it can still see.
    """
    items, _, _ = stateless_input(history)
    prompt = summary_message(COMPACTION_PROMPT)
    if budget_tokens is not None:
        items = _newest_within(items, budget_tokens - estimate_item_tokens(prompt))
    return [*items, prompt]


def _newest_within(items: list[Item], budget: int) -> list[Item]:
    total = 0
    start = len(items)
    while start > 0:
        cost = estimate_item_tokens(items[start - 1])
        if total + cost > budget:
            break
        total += cost
        start -= 1
    if start == 0:
        return items
    # Starting on an output would leave it without its call: start after such outputs.
    while start < len(items) and items[start].get("type") == "function_call_output":
        start += 1
    kept, _, _ = stateless_input(items[start:])
    return kept


def recent_user_messages(history: list[Item]) -> list[str]:
    """The user's own messages, oldest first; earlier summaries and the prompt excluded."""
    texts: list[str] = []
    for item in history:
        text = user_text(item)
        if text is None or is_summary_text(text) or text == COMPACTION_PROMPT:
            continue
        texts.append(text)
    return texts


def _truncate_middle(text: str, tokens: int) -> str:
    """Keep the start and the end of `text` within about `tokens`; the middle goes."""
    keep = tokens * BYTES_PER_TOKEN
    data = text.encode()
    if len(data) <= keep:
        return text
    head = data[: keep // 2].decode(errors="ignore")
    tail = data[len(data) - keep // 2 :].decode(errors="ignore")
    cut = estimate_text_tokens(text) - tokens
    return head + TRUNCATION_MARKER.format(tokens=cut) + tail


def replacement_history(history: list[Item], summary: str, *, budget_tokens: int) -> list[Item]:
    """What the model sees after compaction: recent user messages, then the summary.

    Messages are taken newest first while they fit `budget_tokens` (see
    `user_message_budget`); the one that does not fit is cut in the middle to the tokens
    left, and older ones are dropped. Only user messages, so no call is left unanswered.
    """
    selected: list[str] = []
    remaining = budget_tokens
    for text in reversed(recent_user_messages(history)):
        if remaining <= 0:
            break
        tokens = estimate_text_tokens(text)
        if tokens <= remaining:
            selected.append(text)
            remaining -= tokens
        else:
            selected.append(_truncate_middle(text, remaining))
            break
    selected.reverse()
    return [*(summary_message(text) for text in selected), summary_message(summary_text(summary))]


def summary_from_output(items: list[Item]) -> str:
    """The summary the model wrote: the text of its last assistant message."""
    for item in reversed(items):
        if item.get("type") != "message" or item.get("role") != "assistant":
            continue
        content = item.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return "".join(
                str(part.get("text", ""))
                for part in content
                if isinstance(part, dict) and part.get("type") in ("output_text", "text")
            )
    return ""

"""Keep the history acceptable to a strict model API.

The rule the real services enforce: every function call has exactly one output after it,
and every output answers a call before it. After a stop or a crash some calls have none;
they are answered "aborted" here, before anything is sent.
"""

from __future__ import annotations

from typing import Any

from agentls.history.items import Item, function_call_output

ABORTED_OUTPUT = "aborted"


def pending_call_ids(items: list[Item]) -> list[str]:
    """Calls that have no output yet, in the order they were made."""
    answered = {item.get("call_id") for item in items if item.get("type") == "function_call_output"}
    return [
        str(item["call_id"])
        for item in items
        if item.get("type") == "function_call" and item.get("call_id") not in answered
    ]


def normalize_for_request(
    items: list[Item], prior_calls: set[Any] | None = None
) -> tuple[list[Item], int, int]:
    """A copy of `items` that a strict API accepts; returns (items, outputs added, dropped).

    Missing outputs are placed right after their call (before the next non-call item), and
    outputs whose call is absent or earlier-answered are dropped. `prior_calls` are calls
    made before these items (server-side history), whose outputs are legitimate here.
    Two linear passes, no quadratic scans.
    """
    made: set[Any] = set()
    answerable: set[Any] = set()
    for item in items:
        kind = item.get("type")
        if kind == "function_call":
            made.add(item.get("call_id"))
        elif kind == "function_call_output" and item.get("call_id") in made:
            answerable.add(item.get("call_id"))
    missing = made - answerable
    result: list[Item] = []
    seen_calls: set[Any] = set(prior_calls or ())
    answered: set[Any] = set()
    waiting: list[str] = []
    added = dropped = 0

    def flush_waiting() -> None:
        nonlocal added
        for call_id in waiting:
            result.append(function_call_output(call_id, ABORTED_OUTPUT))
            answered.add(call_id)
            added += 1
        waiting.clear()

    for item in items:
        kind = item.get("type")
        if kind == "function_call":
            call_id = item.get("call_id")
            if call_id in seen_calls:
                dropped += 1
                continue
            seen_calls.add(call_id)
            result.append(item)
            if call_id in missing:
                waiting.append(str(call_id))
            continue
        if kind == "function_call_output":
            call_id = item.get("call_id")
            if call_id not in seen_calls or call_id in answered:
                dropped += 1
                continue
            answered.add(call_id)
            result.append(item)
            continue
        flush_waiting()
        result.append(item)
    flush_waiting()
    return result, added, dropped


def stateless_input(items: list[Item]) -> tuple[list[Item], int, int]:
    """The full history as `store: false` input.

    Output item ids refer to stored responses that do not exist in this mode, and the API
    rejects them; reasoning items can only be replayed through their encrypted content.
    """
    normalized, added, dropped = normalize_for_request(items)
    result = [wire for item in normalized if (wire := stateless_item(item)) is not None]
    return result, added, dropped


def stateless_item(item: Item) -> Item | None:
    """One item as `store: false` input, or None when it cannot be replayed."""
    if item.get("type") == "reasoning":
        return item if item.get("encrypted_content") else None
    return {k: v for k, v in item.items() if k != "id"} if "id" in item else item


class StatelessInput:
    """The `store: false` input, kept in step with the history instead of rebuilt per request.

    At 50,000 items, rebuilding cost about 250 ms a request. The list is built once with the
    full repair, then extended item by item while it stays valid (every call answered once,
    every output answering a call); anything unusual triggers the full rebuild again.
    """

    def __init__(self) -> None:
        self._items: list[Item] | None = None
        self._calls: set[Any] = set()
        self._open: set[Any] = set()
        self._valid = False

    def append(self, item: Item) -> None:
        if self._items is None:
            return
        kind = item.get("type")
        call_id = item.get("call_id")
        if kind == "function_call":
            if call_id in self._calls:
                self._valid = False
            self._calls.add(call_id)
            self._open.add(call_id)
        elif kind == "function_call_output":
            if call_id not in self._open:
                self._valid = False
            self._open.discard(call_id)
        wire = stateless_item(item)
        if wire is not None:
            self._items.append(wire)

    def build(self, history: list[Item]) -> tuple[list[Item], int, int]:
        """The input for the next request; (items, outputs added, items dropped)."""
        if self._items is not None and self._valid and not self._open:
            return list(self._items), 0, 0
        items, added, dropped = stateless_input(history)
        self._items = items
        self._calls = {i.get("call_id") for i in items if i.get("type") == "function_call"}
        self._open = set()
        self._valid = True
        return list(items), added, dropped


def server_side_input(items: list[Item], start: int) -> list[Item]:
    """What to send after `previous_response_id`: the items from `start` on.

    Calls the service already knows (before `start`) that never got an output are answered
    "aborted" first, as the stateless mode would; outputs in the tail may answer them.
    """
    prior_calls = {
        item.get("call_id") for item in items[:start] if item.get("type") == "function_call"
    }
    answered = {item.get("call_id") for item in items if item.get("type") == "function_call_output"}
    result = [
        function_call_output(str(call_id), ABORTED_OUTPUT)
        for item in items[:start]
        if item.get("type") == "function_call" and (call_id := item.get("call_id")) not in answered
    ]
    tail, _, _ = normalize_for_request(items[start:], prior_calls=prior_calls)
    return result + tail

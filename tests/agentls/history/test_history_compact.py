"""Compaction functions, checked against the strict fake API where a request is involved."""

from __future__ import annotations

import math
from typing import Any

import httpx
import orjson
from fixtures.fake_api import FakeModelAPI

from agentls.history.compact import (
    COMPACTION_PROMPT,
    NO_SUMMARY,
    SUMMARY_PREFIX,
    USER_MESSAGES_MAX_TOKENS,
    compaction_input,
    estimate_item_tokens,
    estimate_text_tokens,
    estimate_tokens,
    is_summary_text,
    recent_user_messages,
    replacement_history,
    should_compact,
    summary_from_output,
    summary_text,
    user_message_budget,
)
from agentls.history.items import user_text
from agentls.history.repair import pending_call_ids

Item = dict[str, Any]


def user(text: str) -> Item:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def assistant(text: str, item_id: str) -> Item:
    return {
        "type": "message",
        "role": "assistant",
        "id": item_id,
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


def call(call_id: str, command: str) -> Item:
    return {
        "type": "function_call",
        "id": f"fc_{call_id}",
        "call_id": call_id,
        "name": "shell",
        "arguments": orjson.dumps({"command": ["bash", "-lc", command]}).decode(),
    }


def output(call_id: str, text: str) -> Item:
    return {"type": "function_call_output", "call_id": call_id, "output": text}


def session(turns: int, *, pending: bool = True) -> list[Item]:
    """Turns of user message, call, output, answer; the last call has no output yet."""
    items: list[Item] = []
    for n in range(turns):
        items += [
            user(f"task {n}: " + "please do it " * 10),
            call(f"call_{n}", f"make step-{n}"),
            output(f"call_{n}", f"step {n} done\n" * 20),
            assistant(f"done with {n}", f"msg_{n}"),
        ]
    items.append(user("last request"))
    if pending:
        items.append(call("call_running", "sleep 100"))
    return items


def test_estimates_are_bytes_over_four() -> None:
    item = user("héllo")
    assert estimate_item_tokens(item) == math.ceil(len(orjson.dumps(item)) / 4)
    assert estimate_text_tokens("abcde") == 2
    assert estimate_text_tokens("é") == 1  # two bytes
    history = session(3)
    assert estimate_tokens(history) == sum(estimate_item_tokens(i) for i in history)
    assert estimate_tokens(session(6)) > estimate_tokens(history)
    assert estimate_tokens([]) == 0


def test_should_compact() -> None:
    assert not should_compact(10_000, 10_000, 0)  # 0 turns it off
    assert not should_compact(10_000, None, 85)  # window unknown
    assert not should_compact(8_499, 10_000, 85)
    assert should_compact(8_500, 10_000, 85)
    assert should_compact(20_000, 10_000, 85)


def test_user_message_budget() -> None:
    assert user_message_budget(None) == USER_MESSAGES_MAX_TOKENS
    assert user_message_budget(272_000) == USER_MESSAGES_MAX_TOKENS
    assert user_message_budget(8_192) == 2_048


def test_compaction_input_answers_every_call() -> None:
    history = session(3)
    assert pending_call_ids(history) == ["call_running"]
    items = compaction_input(history)
    assert pending_call_ids(items) == []
    running = [i for i in items if i.get("call_id") == "call_running"]
    assert [i["type"] for i in running] == ["function_call", "function_call_output"]
    assert running[1]["output"] == "aborted"
    assert user_text(items[-1]) == COMPACTION_PROMPT
    assert all("id" not in i for i in items)
    assert history[-1] == call("call_running", "sleep 100")  # the caller's list is untouched


async def test_compaction_input_is_accepted_by_a_strict_api() -> None:
    history = session(4)
    async with FakeModelAPI() as api, httpx.AsyncClient(timeout=10.0) as http:
        body = {"model": "m", "stream": True, "store": False, "input": compaction_input(history)}
        response = await http.post(f"{api.base_url}/responses", json=body)
        assert response.status_code == 200, response.text
        assert api.rejected == []


async def test_compaction_input_within_budget_fits_the_limit() -> None:
    history = session(30)
    budget = 1_500
    items = compaction_input(history, budget_tokens=budget)
    assert estimate_tokens(items) <= budget
    assert len(items) < len(history)
    assert pending_call_ids(items) == []
    assert items[0].get("type") != "function_call_output"
    assert user_text(items[-1]) == COMPACTION_PROMPT
    assert user_text(items[-4]) == "last request"  # the newest items are the ones kept
    # The fake estimates the whole request (a bit more than the items): it accepts it.
    async with FakeModelAPI(context_limit=budget + 100) as api, httpx.AsyncClient() as http:
        body = {"model": "m", "stream": True, "input": items}
        response = await http.post(f"{api.base_url}/responses", json=body)
        assert response.status_code == 200, response.text
        whole = {"model": "m", "stream": True, "input": compaction_input(history)}
        response = await http.post(f"{api.base_url}/responses", json=whole)
        assert response.json()["error"]["code"] == "context_length_exceeded"


def test_replacement_history_is_recent_user_messages_then_the_summary() -> None:
    history = session(5)
    new = replacement_history(history, "We built steps 0 to 4.", budget_tokens=20_000)
    assert all(i["type"] == "message" and i["role"] == "user" for i in new)
    assert pending_call_ids(new) == []
    texts = [user_text(i) for i in new]
    assert texts[:-1] == [user_text(i) for i in history if user_text(i) is not None]
    assert texts[-1] == f"{SUMMARY_PREFIX}\nWe built steps 0 to 4."
    assert is_summary_text(str(texts[-1]))


def test_replacement_history_budget_keeps_the_newest() -> None:
    history = session(5)
    per_message = estimate_text_tokens(str(user_text(history[0])))
    last = estimate_text_tokens("last request")
    budget = last + per_message + 10  # the last request, task 4, and a piece of task 3
    new = replacement_history(history, "S", budget_tokens=budget)
    texts = [str(user_text(i)) for i in new[:-1]]
    assert texts[-1] == "last request"
    assert texts[-2] == user_text(history[16])
    assert "tokens cut from this message" in texts[0]
    assert texts[0].startswith("task 3: ")
    assert len(texts) == 3
    assert sum(estimate_text_tokens(t) for t in texts) <= budget + 20  # the marker's size
    assert [user_text(i) for i in replacement_history(history, "S", budget_tokens=0)] == [
        summary_text("S")
    ]


def test_earlier_summaries_are_not_kept_as_user_messages() -> None:
    first = replacement_history(session(2), "first summary", budget_tokens=20_000)
    later = [*first, user("new work"), assistant("ok", "msg_x")]
    assert recent_user_messages(later)[-1] == "new work"
    assert not any(is_summary_text(t) for t in recent_user_messages(later))
    second = replacement_history(later, "", budget_tokens=20_000)
    assert user_text(second[-1]) == f"{SUMMARY_PREFIX}\n{NO_SUMMARY}"
    assert sum(1 for i in second if is_summary_text(str(user_text(i)))) == 1


def test_summary_from_output() -> None:
    assert summary_from_output([assistant("one", "a"), assistant("two", "b")]) == "two"
    assert summary_from_output([call("c", "ls")]) == ""

"""The pieces of a long session together, against the strict fake API, without the turn loop.

A conversation grows until the API refuses it for context length; the refusal is recognised,
the model writes a summary (answered by a predicate reply), the history is replaced, the
rollout gets a `compacted` line, the refused request is retried and accepted, and resume
rebuilds exactly the history the model was seeing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from fixtures.fake_api import FakeModelAPI, Reply, TextItem, last_user_text_contains

from agentls.history.compact import (
    COMPACTION_PROMPT,
    compaction_input,
    estimate_tokens,
    replacement_history,
    should_compact,
    summary_from_output,
    user_message_budget,
)
from agentls.history.items import summary_message
from agentls.history.repair import stateless_input
from agentls.providers.chat import to_messages
from agentls.providers.context_window import is_context_length_error
from agentls.rollout.paging import history_page, load_model_history, open_resume
from agentls.rollout.records import (
    COMPACTED,
    RESPONSE_ITEM,
    SESSION_META,
    compacted_payload,
    encode_line,
)

Item = dict[str, Any]
WINDOW = 3_000
SUMMARY = "Parts were discussed one by one; the user wants every part described."


class Wire:
    """Posts a history on one wire and returns (status, error or output items, usage)."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, endpoint: str) -> None:
        self.http = http
        self.base_url = base_url
        self.endpoint = endpoint

    async def send(self, items: list[Item]) -> tuple[int, Any, int]:
        if self.endpoint == "responses":
            body: dict[str, Any] = {"model": "m", "stream": True, "store": False}
            body["input"], _, _ = stateless_input(items)
            response = await self.http.post(f"{self.base_url}/responses", json=body)
        else:
            body = {
                "model": "m",
                "stream": True,
                "stream_options": {"include_usage": True},
                "messages": to_messages(stateless_input(items)[0], None),
            }
            response = await self.http.post(f"{self.base_url}/chat/completions", json=body)
        if response.status_code != 200:
            return response.status_code, response.json()["error"], 0
        return 200, *self._read(response.text)

    def _read(self, text: str) -> tuple[list[Item], int]:
        datas = [line[len("data: ") :] for line in text.split("\n") if line.startswith("data: ")]
        if self.endpoint == "responses":
            done = json.loads(datas[-1])["response"]
            return done["output"], done["usage"]["input_tokens"]
        chunks = [json.loads(d) for d in datas if d != "[DONE]"]
        reply = "".join(
            c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]
        )
        message = {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": reply}],
        }
        return [message], chunks[-1]["usage"]["prompt_tokens"]


@pytest.mark.parametrize(("endpoint", "flavor"), [("responses", "openai"), ("chat", "llamacpp")])
async def test_refusal_compaction_retry_and_resume(
    tmp_path: Path, endpoint: str, flavor: str
) -> None:
    rollout = tmp_path / "rollout.jsonl"
    lines = [encode_line(SESSION_META, {"id": "s"})]
    history: list[Item] = []

    def record(item: Item) -> None:
        history.append(item)
        lines.append(encode_line(RESPONSE_ITEM, item))

    async with (
        FakeModelAPI(context_limit=WINDOW, flavor=flavor) as api,
        httpx.AsyncClient(timeout=10.0) as http,
    ):
        api.when(last_user_text_contains(COMPACTION_PROMPT), Reply([TextItem(SUMMARY)]))
        wire = Wire(http, api.base_url, endpoint)
        usage: list[int] = []
        refused = None
        for n in range(100):
            record(summary_message(f"describe part {n}: " + "in detail please " * 8))
            status, answer, tokens = await wire.send(history)
            if status != 200:
                refused = answer
                break
            usage.append(tokens)
            for item in answer:
                record(item)
        assert refused is not None, "the context must fill up"
        assert usage == sorted(usage) and len(usage) > 3  # the meter fills as the session grows
        assert is_context_length_error(400, str(refused.get("code")), refused["message"])
        assert should_compact(estimate_tokens(history), WINDOW, 85)

        # Compact: the summary request must fit too, so it gets the window as its budget.
        status, output, _ = await wire.send(compaction_input(history, budget_tokens=WINDOW - 200))
        assert status == 200
        summary = summary_from_output(output)
        assert summary == SUMMARY
        replacement = replacement_history(
            history, summary, budget_tokens=user_message_budget(WINDOW)
        )
        lines.append(encode_line(COMPACTED, compacted_payload(summary, replacement)))
        history = list(replacement)

        # The refused request, retried once with the new history, goes through.
        status, answer, tokens = await wire.send(history)
        assert status == 200, answer
        assert tokens < usage[-1]
        for item in answer:
            record(item)
        record(summary_message("and the next part?"))

    rollout.write_bytes(b"".join(lines))
    view = open_resume(rollout, 5)
    assert load_model_history(view).items == history
    assert view.replacement_history == replacement
    # The panel still has every user message of the session, compacted or not.
    entries = list(view.entries)
    cursor = view.history_cursor
    while cursor is not None:
        page, cursor = history_page(rollout, cursor, 5)
        entries = page + entries
    said = [e["text"] for e in entries if e["role"] == "user"]
    assert said[0].startswith("describe part 0: ")
    assert said[-1] == "and the next part?"
    assert len(said) == len(usage) + 2


async def test_compaction_while_a_call_is_running() -> None:
    """The call's output arrives after the history was replaced: requests stay valid."""
    call = {"type": "function_call", "call_id": "call_r", "name": "shell", "arguments": "{}"}
    history = [summary_message("run the build"), call]
    replacement = replacement_history(history, "Building.", budget_tokens=1_000)
    after = [*replacement, {"type": "function_call_output", "call_id": "call_r", "output": "ok"}]
    async with FakeModelAPI() as api, httpx.AsyncClient(timeout=10.0) as http:
        wire = Wire(http, api.base_url, "responses")
        status, answer, _ = await wire.send(compaction_input(history))
        assert status == 200, answer
        status, answer, _ = await wire.send(after)
        assert status == 200, answer
        raw = await http.post(
            f"{api.base_url}/responses", json={"model": "m", "stream": True, "input": after}
        )
        assert raw.status_code == 400  # sent as is, the orphan output would be refused
        wire = Wire(http, api.base_url, "chat")
        status, answer, _ = await wire.send(after)
        assert status == 200, answer

"""The outbox sends a session's updates in order, merges what only repeats, and drains."""

from __future__ import annotations

import asyncio

from acp.schema import (
    AgentMessageChunk,
    ContentToolCallContent,
    TextContentBlock,
    ToolCallProgress,
    ToolCallStart,
)

from agentls.acp.outbox import UpdateOutbox
from agentls.acp.updates import Update


def chunk(text: str, message_id: str = "m1") -> AgentMessageChunk:
    return AgentMessageChunk(
        session_update="agent_message_chunk",
        content=TextContentBlock(type="text", text=text),
        message_id=message_id,
    )


def output(text: str, call: str = "c1") -> ToolCallProgress:
    return ToolCallProgress(
        session_update="tool_call_update",
        tool_call_id=call,
        status="in_progress",
        content=[
            ContentToolCallContent(type="content", content=TextContentBlock(type="text", text=text))
        ],
    )


class SlowClient:
    """Takes one update at a time, when let."""

    def __init__(self) -> None:
        self.sent: list[Update] = []
        self.go = asyncio.Event()

    async def __call__(self, session_id: str, update: Update) -> None:
        await self.go.wait()
        self.sent.append(update)


async def test_updates_that_wait_are_merged_and_order_is_kept() -> None:
    client = SlowClient()
    outbox = UpdateOutbox("s", client)
    start = ToolCallStart(session_update="tool_call", tool_call_id="c1", title="make")
    outbox.put(chunk("a"))  # taken by the sender at once, waits for the client
    await asyncio.sleep(0)
    outbox.put(chunk("b"))
    outbox.put(chunk("c"))
    outbox.put(chunk("x", "m2"))
    outbox.put(start)
    for n in range(1, 50):
        outbox.put(output("line\n" * n))
    done = ToolCallProgress(
        session_update="tool_call_update", tool_call_id="c1", status="completed"
    )
    outbox.put(done)
    client.go.set()
    await outbox.drain()
    texts = [
        getattr(u.content, "text", None) if isinstance(u, AgentMessageChunk) else None
        for u in client.sent
    ]
    assert texts[:3] == ["a", "bc", "x"]
    assert client.sent[3] is start
    assert isinstance(client.sent[4], ToolCallProgress)
    assert client.sent[4].content[0].content.text == "line\n" * 49  # type: ignore[index,union-attr]
    assert client.sent[5] is done
    assert len(client.sent) == 6


async def test_drain_when_idle_and_a_gone_client() -> None:
    async def gone(session_id: str, update: Update) -> None:
        raise ConnectionError("Connection closed")

    outbox = UpdateOutbox("s", gone)
    await outbox.drain()  # nothing queued: at once
    outbox.put(chunk("a"))
    outbox.put(output("x"))
    await outbox.drain()  # everything dropped, nothing hangs
    outbox.close()
    outbox.put(chunk("late"))
    await outbox.drain()

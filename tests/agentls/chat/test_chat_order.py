"""Lines reach the chat's prompt loop in the order they came, whenever they came.

A script piped into `agentls chat` is read by a thread that hands each line to the event
loop; whether a line arrives before the turn of the line above it has started, or during
that turn, depends on how the machine schedules them. These tests fix each moment by holding
the turn open (a stand-in server whose `agent/send` answers only when told to), so the
outcome cannot depend on the machine's load.
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

from tests.helpers import wait_for

from agentls.chat.conversation import Chat
from agentls.chat.keys import Key
from agentls.chat.render import TerminalRenderer


class HeldServer:
    """Stands in for the server child: records what the chat asks, in order; each turn
    (`agent/send`, `agent/runCommand`) stays open until the test ends it."""

    def __init__(self) -> None:
        self.methods = {
            "agent/send",
            "agent/compact",
            "agent/fork",
            "agent/listSessions",
            "agent/runCommand",
        }
        self.model: dict[str, Any] = {"configured": True}
        self.stderr_lines: list[str] = []
        self.returncode: int | None = None
        self.asked: list[str] = []
        self.turns: list[asyncio.Future[Any]] = []
        self.held: asyncio.Future[None] | None = None  # set: the next request waits for it

    def supports(self, method: str) -> bool:
        return method in self.methods

    def start_request(self, method: str, params: dict[str, Any]) -> tuple[str, asyncio.Future[Any]]:
        self.asked.append(f"{method} {params.get('text') or params.get('command')}")
        turn: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.turns.append(turn)
        return f"turn-{len(self.turns)}", turn

    def end_turn(self) -> None:
        self.turns[-1].set_result({"status": "completed", "sessionId": "s-1"})

    async def request(self, method: str, params: dict[str, Any]) -> Any:
        self.asked.append(method)
        if self.held is not None:
            held, self.held = self.held, None
            await held
        if method == "agent/listSessions":
            return {"sessions": []}
        return {"sessionId": "s-1", "tokensBefore": 10, "tokensAfter": 5}

    def cancel(self, msg_id: str) -> None:
        return None


def piped_chat() -> tuple[Chat, HeldServer, io.StringIO]:
    """A chat as `agentls chat` runs it with a pipe for stdin, around a held server."""
    info = io.StringIO()
    chat = Chat(TerminalRenderer(io.StringIO(), info), None, False)
    server = HeldServer()
    chat.conn = server  # type: ignore[assignment]
    return chat, server, info


def pipe(chat: Chat, *lines: str) -> None:
    for line in lines:
        chat.on_key(Key("line", line))


async def loop_in_first_turn(chat: Chat, server: HeldServer, *read: str) -> asyncio.Task[int]:
    """The prompt loop, started with the `read` lines already handed over, once the turn of
    the first one runs (held open)."""
    pipe(chat, *read)
    loop = asyncio.create_task(chat.loop())
    await wait_for(lambda: server.turns, 5, what=f"the turn of {read[0]!r} to start")
    return loop


async def test_a_line_read_before_the_turn_started_runs_before_those_read_during_it() -> None:
    """The flaky `/compact` of the e2e script: the reader thread handed `hello` and `/compact`
    over before the loop took `hello`, the rest came during its turn; `/compact` was left
    behind the lines that came later and the script's `/quit` ended the chat before it."""
    chat, server, info = piped_chat()
    loop = await loop_in_first_turn(chat, server, "hello", "/compact")
    pipe(chat, "/fork", "!echo mine", "/quit")
    server.end_turn()
    await wait_for(lambda: len(server.turns) == 2, 5, what="the `!` command's turn")
    server.end_turn()
    assert await asyncio.wait_for(loop, 5) == 0
    assert server.asked == [
        "agent/send hello",
        "agent/compact",
        "agent/fork",
        "agent/runCommand echo mine",
    ]
    assert "(compacted: 10 → 5 tokens)" in info.getvalue()


async def test_the_end_of_the_input_during_a_turn_waits_for_the_lines_before_it() -> None:
    chat, server, _info = piped_chat()
    loop = await loop_in_first_turn(chat, server, "hello", "/compact")
    pipe(chat, "/fork")
    chat.on_key(Key("eof"))
    server.end_turn()
    assert await asyncio.wait_for(loop, 5) == 0
    assert server.asked == ["agent/send hello", "agent/compact", "agent/fork"]


async def test_lines_queued_during_a_turn_run_before_those_read_after_it() -> None:
    """The other way round: `/fork` waited from the turn on, `/sessions` came while the
    `/compact` after the turn was still being answered (no turn running then)."""
    chat, server, _info = piped_chat()
    loop = await loop_in_first_turn(chat, server, "hello")
    pipe(chat, "/compact", "/fork")
    server.held = asyncio.get_running_loop().create_future()
    held = server.held
    server.end_turn()
    await wait_for(lambda: "agent/compact" in server.asked, 5)
    pipe(chat, "/sessions", "/quit")
    held.set_result(None)
    assert await asyncio.wait_for(loop, 5) == 0
    assert server.asked == [
        "agent/send hello",
        "agent/compact",
        "agent/fork",
        "agent/listSessions",
    ]


async def test_a_line_queued_after_the_loop_went_idle_is_taken_at_once() -> None:
    """A steer that came too late is queued when the loop may already wait at the prompt:
    it must wake the loop, not wait for the next key."""
    chat, server, _info = piped_chat()
    loop = await loop_in_first_turn(chat, server, "hello")
    server.end_turn()
    # from the turn's end to the wait for the next line the loop does not pause
    await wait_for(lambda: chat.turn_id is None, 5, what="the turn to end")
    chat._wait_line("late steer")
    await wait_for(lambda: len(server.turns) == 2, 5, what="the queued line's turn")
    server.end_turn()
    chat.on_key(Key("eof"))
    assert await asyncio.wait_for(loop, 5) == 0
    assert server.asked == ["agent/send hello", "agent/send late steer"]

"""What the server writes: framed by pygls (encoded by orjson), gathered per loop turn, live
deltas dropped for a client that stops reading."""

import asyncio
import json
import re
from typing import Any

import pytest
from lsprotocol.types import ResponseError, ResponseErrorMessage
from pygls.protocol.json_rpc import JsonRPCProtocol

from agentls.lsp.encoding import AsciiJson, _with_fast_json, pygls_send_data
from agentls.lsp.outbox import LIVE_DELTA_CAP, Outbox
from agentls.lsp.server import AgentLanguageServer
from agentls.protocol import EventType

HEADER = re.compile(rb"Content-Length: (\d+)\r\n(?:[^\r\n]+\r\n)*\r\n")


def _frames(data: bytes) -> list[Any]:
    """Split a byte stream the way a client does, checking every length."""
    messages = []
    while data:
        match = HEADER.match(data)
        assert match, data[:80]
        length = int(match.group(1))
        body = data[match.end() : match.end() + length]
        assert len(body) == length
        messages.append(json.loads(body))
        data = data[match.end() + length :]
    return messages


def _event(kind: EventType, seq: int, **fields: Any) -> dict[str, Any]:
    return {"sessionId": "s", "turnId": "t", "seq": seq, "type": kind, **fields}


def _server(outbox: Outbox, *, framed: bool = True) -> AgentLanguageServer:
    server = AgentLanguageServer(env={})
    server.protocol.use_outbox(outbox, framed=framed)
    return server


async def test_a_loop_turn_of_messages_is_one_write_of_pygls_frames() -> None:
    writes: list[bytes] = []
    server = _server(Outbox(writes.append, lambda: 0))
    texts = ["plain", "ünïcödé ✓", "half a pair \ud83d"]
    for seq, text in enumerate(texts):
        server.protocol.notify("agent/event", _event(EventType.TEXT_DELTA, seq, delta=text))
    server.protocol.send_raw({"jsonrpc": "2.0", "id": 7, "result": {"ok": True}})
    assert writes == []  # gathered until the loop turns
    await asyncio.sleep(0)
    assert len(writes) == 1
    # pygls's own header (it names the content type too), and lengths that hold for any text
    assert b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n" in writes[0]
    messages = _frames(writes[0])
    assert [m["params"]["delta"] for m in messages[:3]] == [*texts[:2], "half a pair \ud83d"]
    assert messages[3] == {"jsonrpc": "2.0", "id": 7, "result": {"ok": True}}


async def test_live_deltas_are_dropped_while_the_client_lags() -> None:
    writes: list[bytes] = []
    backlog = [LIVE_DELTA_CAP + 1]
    outbox = Outbox(writes.append, lambda: backlog[0])
    server = _server(outbox)
    notify = server.protocol.notify
    notify("agent/event", _event(EventType.TEXT_DELTA, 0, itemId="m", delta="x"))
    notify("agent/event", _event(EventType.TOOL_OUTPUT_DELTA, 1, callId="c", delta="y"))
    notify("$/progress", {"token": 1, "value": {"kind": "report", "message": "…"}})
    notify("agent/event", _event(EventType.MESSAGE_COMPLETED, 2, itemId="m", text="x"))
    notify("agent/event", _event(EventType.TURN_COMPLETED, 3, status="completed"))
    backlog[0] = 0  # the client reads again
    notify("agent/event", _event(EventType.TEXT_DELTA, 4, itemId="n", delta="z"))
    await asyncio.sleep(0)
    assert outbox.dropped == 3
    sent = [m["params"]["seq"] for m in _frames(b"".join(writes))]
    assert sent == [2, 3, 4]  # the gap shows in seq; what completes a message is kept


async def test_over_a_websocket_each_message_is_a_bare_body_written_at_once() -> None:
    writes: list[bytes] = []
    server = _server(Outbox(writes.append, lambda: 0, gather=False), framed=False)
    server.protocol.notify("agent/event", _event(EventType.STEERED, 0, text="also"))
    server.protocol.notify("agent/sessionsChanged", {})
    assert [json.loads(w)["method"] for w in writes] == ["agent/event", "agent/sessionsChanged"]
    # pygls's run_websocket installs its own writer when its loop starts: ours stays
    server.protocol.set_writer(object(), include_headers=False)
    server.protocol.notify("agent/sessionsChanged", {})
    assert len(writes) == 3


async def test_a_broken_transport_closes_the_outbox_quietly() -> None:
    def broken(_data: bytes) -> None:
        raise BrokenPipeError("gone")

    outbox = Outbox(broken, lambda: 0)
    server = _server(outbox)
    server.protocol.notify("agent/sessionsChanged", {})
    await asyncio.sleep(0)
    assert outbox.closed
    server.protocol.notify("agent/sessionsChanged", {})  # nothing raised, nothing written


MESSAGES: list[Any] = [
    {"jsonrpc": "2.0", "method": "agent/event", "params": _event(EventType.TEXT_DELTA, 0)},
    {"jsonrpc": "2.0", "method": "n", "params": {"text": "ünïcödé ✓ 𝄞", "lone": "\udc00"}},
    {"jsonrpc": "2.0", "id": 1, "result": {1: "a non-string key"}},
    {"jsonrpc": "2.0", "id": 2, "result": {"big": 1 << 70}},
    ResponseErrorMessage(id=3, error=ResponseError(code=-33002, message="busy ✗")),
]


def _written(send: Any, message: Any) -> bytes:
    writes: list[bytes] = []
    protocol = AgentLanguageServer(env={}).protocol
    protocol.use_outbox(Outbox(writes.append, lambda: 0, gather=False), framed=True)
    send(protocol, message)
    return b"".join(writes)


@pytest.mark.parametrize("message", MESSAGES)
def test_the_faster_encoder_frames_what_pygls_frames(message: Any) -> None:
    """pygls's own writer runs (same code), and its frames carry the same messages."""
    assert pygls_send_data.__code__ is JsonRPCProtocol._send_data.__code__
    ours = _written(pygls_send_data, message)
    stock = _written(JsonRPCProtocol._send_data, message)
    assert ours.isascii()  # so pygls's Content-Length (a count of characters) counts bytes
    assert _frames(ours) == _frames(stock)


def test_a_pygls_that_changed_its_writer_is_used_as_it_is() -> None:
    def send(self: Any, data: Any) -> None:
        self.writer.write(data)

    assert _with_fast_json(send) is send
    assert AsciiJson.dumps({"a": "é"}) == json.dumps({"a": "é"})
    assert AsciiJson.dumps({"a": "e"}) == '{"a":"e"}'

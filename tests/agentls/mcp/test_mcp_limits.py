"""Big messages, a chatty stderr, a server stuck mid-message: bounded, and never fatal."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path

import pytest
from tests.agentls.mcp.mcp_helpers import ManagerFactory, stdio_table
from tests.helpers import wait_for

from agentls.mcp import McpManager
from agentls.mcp.stdio import STDERR_TAIL_BYTES

MIB = 1024 * 1024


def _state(manager: McpManager, name: str = "fx") -> str:
    return {s.name: s.state for s in manager.statuses()}[name]


async def _answers(manager: McpManager, name: str = "fx") -> None:
    """The server answers a call again (after a restart, when there was one)."""
    result = await manager.call(f"mcp__{name}__echo", '{"text": "still here"}')
    assert (result.output, result.is_error) == ("still here", False), result


async def test_a_30_mib_one_line_message_costs_linear_cpu(make_manager: ManagerFactory) -> None:
    """The SDK's own reader spends ~9 s of a core on this; the server's CPU is not ours.

    (The fixture's SDK sends the text twice, as content and as structured content.)"""
    manager = make_manager({"fx": stdio_table()})
    await manager.start()
    started = time.process_time()
    result = await manager.call("mcp__fx__big", json.dumps({"size": 15 * MIB}))
    cpu = time.process_time() - started
    assert not result.is_error, result.output[:300]
    assert result.output.startswith("xxxx")
    assert len(result.output) < 64 * 1024  # cut for the model, as before
    assert cpu < 3.0, cpu
    await _answers(manager)


async def test_a_message_exactly_at_the_cap_passes_and_one_byte_more_is_refused(
    make_manager: ManagerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    manager = make_manager({"fx": stdio_table(max_message_mb=1)})
    await manager.start()
    at_cap = await manager.call("mcp__fx__raw_result", json.dumps({"size": MIB}))
    assert not at_cap.is_error, at_cap.output[:300]
    assert at_cap.output.startswith("xxxx")
    assert _state(manager) == "ready"
    over = await manager.call("mcp__fx__raw_result", json.dumps({"size": MIB + 1}))
    assert over.is_error
    assert "larger than 1.0 MB" in over.output
    assert "max_message_mb" in over.output
    assert "started again" in over.output
    await _answers(manager)  # waits for the restart
    assert _state(manager) == "ready"
    assert "starting it again" in caplog.text


async def test_after_a_200_mib_result_the_next_call_answers(make_manager: ManagerFactory) -> None:
    manager = make_manager({"fx": stdio_table()})
    await manager.start()
    started = time.process_time()
    refused = await manager.call("mcp__fx__raw_result", json.dumps({"size": 200 * MIB}))
    assert refused.is_error
    assert "larger than 32.0 MB" in refused.output
    await _answers(manager)
    # Reading stopped at the cap (what came after was only drained); no core burned.
    assert time.process_time() - started < 5.0
    assert _state(manager) == "ready"


async def test_a_server_refused_again_and_again_is_left_stopped(
    make_manager: ManagerFactory,
) -> None:
    manager = make_manager({"fx": stdio_table(max_message_mb=0.01)})
    await manager.start()
    big = json.dumps({"size": 20_000})
    for _ in range(3):
        assert "started again" in (await manager.call("mcp__fx__big", big)).output
        await _answers(manager)
    last = await manager.call("mcp__fx__big", big)
    assert last.is_error
    await wait_for(lambda: _state(manager) == "failed", 20.0, what="the server to be given up on")
    [status] = manager.statuses()
    assert status.error is not None
    assert "restarted 3 times" in status.error
    assert manager.tool_definitions() == []


async def test_a_huge_stderr_is_kept_as_a_bounded_tail(make_manager: ManagerFactory) -> None:
    manager = make_manager({"fx": stdio_table()})
    await manager.start()
    result = await manager.call("mcp__fx__spam_stderr", json.dumps({"size": 64 * MIB}))
    assert result.output == f"wrote {64 * MIB} bytes to stderr"
    tail = manager.stderr_tail("fx")
    assert len(tail.encode()) <= STDERR_TAIL_BYTES + 16
    assert tail.endswith("the last line of stderr")
    crashed = await manager.call("mcp__fx__crash_now", "{}")
    assert crashed.is_error
    await wait_for(lambda: _state(manager) == "failed", 20.0, what="the crash to be noticed")
    [status] = manager.statuses()
    assert status.error is not None
    assert "closed the connection" in status.error
    assert "the last line of stderr" in status.error  # the tail, shown where it helps
    assert len(status.error) < 4096


async def test_a_server_that_hangs_mid_message_then_a_stop(
    make_manager: ManagerFactory, tmp_path: Path
) -> None:
    manager = make_manager({"fx": stdio_table()})
    await manager.start()
    record = tmp_path / "record"
    call = asyncio.create_task(
        manager.call("mcp__fx__half_line", json.dumps({"record": str(record)}))
    )
    await wait_for(record.exists, 20.0, what="half of the answer to be written")
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    # The half answer would swallow the next one: the server is started again instead.
    await wait_for(lambda: _state(manager) == "starting", 10, what="the restart")
    await _answers(manager)


async def test_a_server_that_hangs_mid_message_then_a_timeout(
    make_manager: ManagerFactory, tmp_path: Path
) -> None:
    manager = make_manager({"fx": stdio_table(tool_timeout_s=0.5)})
    await manager.start()
    record = tmp_path / "record"
    timed_out = await manager.call("mcp__fx__half_line", json.dumps({"record": str(record)}))
    assert timed_out.is_error
    assert "did not answer within 0.5 s" in timed_out.output
    await wait_for(lambda: _state(manager) == "starting", 10, what="the restart")
    await _answers(manager)


async def test_a_stopped_call_between_messages_keeps_the_server(
    make_manager: ManagerFactory, tmp_path: Path
) -> None:
    states: list[str] = []
    manager = make_manager({"fx": stdio_table()}, on_change=lambda: states.append("changed"))
    await manager.start()
    states.clear()
    record = tmp_path / "record"
    call = asyncio.create_task(
        manager.call("mcp__fx__slow", json.dumps({"seconds": 60, "record": str(record)}))
    )
    await wait_for(record.exists, 20.0, what="the slow tool to start")
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    await asyncio.sleep(1.5)  # past the mid-message grace
    await _answers(manager)
    assert states == []  # never restarted: nothing was half-sent


async def test_a_big_result_over_http(
    make_manager: ManagerFactory, http_server: tuple[str, str]
) -> None:
    """The HTTP transport takes events up to the same cap (the SDK's own limit is 1 MiB),
    and refuses a larger one with the same words; the server stays usable."""
    url, token = http_server
    headers = {"Authorization": f"Bearer {token}"}
    manager = make_manager(
        {
            "web": {"url": url, "http_headers": headers},
            "small": {"url": url, "http_headers": headers, "max_message_mb": 1},
        }
    )
    await manager.start()
    result = await manager.call("mcp__web__big", json.dumps({"size": 3 * MIB}))
    assert not result.is_error, result.output[:300]
    assert result.output.startswith("xxxx")
    refused = await manager.call("mcp__small__big", json.dumps({"size": 3 * MIB}))
    assert refused.is_error
    assert "larger than 1.0 MB (its max_message_mb)" in refused.output
    await _answers(manager, "small")

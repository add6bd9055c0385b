"""Stop means stop, even in a storm: 100 sends stopped at random moments (0-50 ms) by
$/cancelRequest, agent/interrupt, both, twice, or an interrupt raced against the turn's own
end and followed at once by the next send, in two sessions of one server at the same time.

The full-size storm is `python bench/stop_storm.py` (1,000 rounds by default). A last test
stops 250 fast streams and checks their HTTP connections are given back.
"""

from __future__ import annotations

import asyncio
import os
import random
from pathlib import Path

import pytest
from bench.agent import API_KEY, server_env, start_agent
from bench.fake_proc import FakeAPIProcess
from bench.procs import fd_kinds
from bench.stop_storm import run_stop_storm
from tests.helpers import wait_for

# counts the server's threads, descriptors and sockets, stops at random moments: alone
# (`make pytest` runs `serial` tests after the parallel pass)
pytestmark = pytest.mark.serial


async def test_stop_storm(tmp_path: Path) -> None:
    seed = int(os.environ.get("AGENTLS_PROOF_SEED") or random.randrange(1 << 32))
    report = await run_stop_storm(100, seed, sessions=2, root=tmp_path, time_limit_s=120)
    summary = report.to_json()
    context = f"seed {seed} (rerun with AGENTLS_PROOF_SEED={seed}): {summary}"
    assert report.rounds == 100, context
    # wire level: every request id answered exactly once, nothing answered that was not asked
    assert report.unanswered == [], context
    assert report.answered_twice == [], context
    assert report.unknown_answers == 0, context
    # every turn ended once (completed or interrupted), no tool left, the API never refused
    assert report.problems == [], context
    assert report.leaked == [], context
    assert report.rejected == 0, context
    assert report.statuses["interrupted"] > 0, context
    # bounded: threads, descriptors and memory back near the warmed-up baseline
    before, after = report.memory_before, report.memory_after
    assert before is not None and after is not None, context
    assert after.threads <= before.threads + 4, context
    assert after.fds <= before.fds + 8, context


def sockets(pid: int) -> int:
    return fd_kinds(pid).get("socket", 0)


async def test_stopped_streams_give_their_connections_back(tmp_path: Path) -> None:
    rng = random.Random(int(os.environ.get("AGENTLS_PROOF_SEED") or 0) or None)
    async with FakeAPIProcess(API_KEY) as api:
        env = server_env(tmp_path / "state", api.base_url)
        agent = await start_agent(tmp_path, env, {"approval": "never-ask"})
        try:
            await agent.send("warm up")
            await agent.send("stream: 2000")
            before = sockets(agent.pid)
            for _ in range(250):
                msg_id, pending = agent.start_send("stream: 2000")
                await asyncio.sleep(rng.uniform(0, 0.02))
                agent.client.cancel(msg_id)
                assert (await asyncio.wait_for(pending, 20))["status"] in (
                    "interrupted",
                    "completed",
                )
            await agent.send("after the stops")
            # one pooled keep-alive connection may stay; the stopped streams' must go (their
            # closing may still be under way in the server)
            await wait_for(
                lambda: sockets(agent.pid) <= before + 1,
                what="the stopped streams' sockets to close",
                explain=lambda: f"sockets {before} -> {sockets(agent.pid)} after 250 stops",
            )
        finally:
            await agent.close()

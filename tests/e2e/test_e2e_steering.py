"""Steering at the edges of a turn."""

from __future__ import annotations

import asyncio

from fixtures.fake_api import FakeModelAPI
from tests.e2e.conftest import Starter

NEVER = {"approval": "never-ask"}


async def test_steering_a_stopped_turn_stays_in_that_turn(
    start: Starter, api: FakeModelAPI
) -> None:
    """Text added to a turn that is stopped before its next request is kept in that turn,
    never carried into the next one after that turn's own message."""
    agent = await start(init_options=NEVER)
    msg_id, running = agent.start("agent/send", {"text": "run: sleep 30"})
    await agent.wait_event("toolCallStarted")
    assert (await agent.request("agent/steer", {"text": "stale steer"}))["accepted"] is True
    agent.cancel(msg_id)
    assert (await asyncio.wait_for(running, 15))["status"] == "interrupted"
    result = await agent.send("fresh question")
    assert result["finalMessage"] == "You said: fresh question"
    users = [i for i in api.requests[-1]["input"] if i.get("role") == "user"]
    assert "fresh question" in str(users[-1])

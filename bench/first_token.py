"""Time from `agent/send` to the first `textDelta` and to the answer, per provider.

Run from the repository root: `python -m bench.first_token [--runs N]`. Prints one JSON
object. The fake API answers at once, so its figures are agentls's own cost; the embedded
model's figures are what a newcomer with no key sees (its first turn also waits for the
model to load, reported separately as `cold`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.agent import Agent, server_env, start_agent
from bench.fake_proc import FakeAPIProcess


async def one_turn(agent: Agent, text: str, session_id: str | None) -> dict[str, Any]:
    first = agent.expect_event(lambda e: e.get("type") == "textDelta")
    started = time.perf_counter()
    extra = {"sessionId": session_id} if session_id else {}
    result = await agent.send(text, timeout=120, **extra)
    answered = time.perf_counter()
    delta = await asyncio.wait_for(first, 5)
    assert result["status"] == "completed", result
    assert delta["turnId"] == result["turnId"]
    first_at = float(delta.get("_received_at", answered))
    return {
        "first_delta_ms": (first_at - started) * 1000,
        "answer_ms": (answered - started) * 1000,
        "session": result["sessionId"],
    }


def _median(rows: list[dict[str, Any]], key: str) -> float:
    return round(statistics.median(r[key] for r in rows), 1)


async def measure(env: dict[str, str], root: Path, runs: int, text: str) -> dict[str, Any]:
    workspace = root / "work"
    workspace.mkdir(exist_ok=True)
    agent = await start_agent(workspace, env)
    stamp_events(agent)
    try:
        cold = await one_turn(agent, text, None)
        rows = [await one_turn(agent, text, cold["session"]) for _ in range(runs)]
    finally:
        await agent.close()
    return {
        "cold_first_delta_ms": round(cold["first_delta_ms"], 1),
        "cold_answer_ms": round(cold["answer_ms"], 1),
        "first_delta_ms": _median(rows, "first_delta_ms"),
        "answer_ms": _median(rows, "answer_ms"),
        "runs": runs,
    }


def stamp_events(agent: Agent) -> None:
    """Record when each event arrived, so the first delta is timed on arrival."""
    original = agent.client.notifications["agent/event"]

    def on_event(params: dict[str, Any]) -> None:
        params["_received_at"] = time.perf_counter()
        original(params)

    agent.client.notifications["agent/event"] = on_event


async def main(runs: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="agentls-bench-") as tmp:
        root = Path(tmp)
        fake = await FakeAPIProcess(api_key=None).start()
        try:
            env = server_env(root / "home-fake", fake.base_url)
            results["fake"] = await measure(env, root, runs, "hello there")
        finally:
            await fake.stop()
        env = server_env(root / "home-embedded", None, AGENTLS_LOCAL_MODEL="1")
        results["embedded"] = await measure(env, root, max(3, runs // 4), "Say hi in five words.")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.runs)), indent=2))

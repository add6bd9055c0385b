"""An editor-like driver for one `agentls serve` process, on top of the light client."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tests.e2e.harness import API_KEY, server_env

from bench.rpc import LspClient

__all__ = ["API_KEY", "Agent", "EventWaiter", "server_env", "start_agent"]

Json = dict[str, Any]
Predicate = Callable[[Json], bool]


class EventWaiter:
    def __init__(self, predicate: Predicate, future: asyncio.Future[Json]) -> None:
        self.predicate = predicate
        self.future = future


class Agent:
    """A connected server and what it sent: agent/event notifications, approval requests."""

    def __init__(self, client: LspClient, *, keep_events: bool = True) -> None:
        self.client = client
        self.keep_events = keep_events
        self.events: list[Json] = []
        self.event_counts: Counter[str] = Counter()
        self.sessions_changed = 0
        self.approval_requests: list[Json] = []
        self.decide: Callable[[Json], Any] = lambda _p: {"decision": "approve"}
        self.initialize_result: Any = None
        self.initialize_ms = 0.0
        self._waiters: list[EventWaiter] = []
        client.notifications["agent/event"] = self._on_event
        client.notifications["agent/sessionsChanged"] = self._on_changed
        client.requests["agent/requestApproval"] = self._on_approval
        client.requests["workspace/configuration"] = lambda params: [
            None for _ in (params or {}).get("items", [])
        ]
        client.requests["window/showMessageRequest"] = lambda _p: None
        client.requests["window/workDoneProgress/create"] = lambda _p: None

    @property
    def pid(self) -> int:
        return self.client.pid

    def _on_event(self, params: Json) -> None:
        self.event_counts[params.get("type", "?")] += 1
        if self.keep_events:
            self.events.append(params)
        if self._waiters:
            for waiter in list(self._waiters):
                if waiter.future.done():
                    self._waiters.remove(waiter)
                elif waiter.predicate(params):
                    waiter.future.set_result(params)
                    self._waiters.remove(waiter)

    def _on_changed(self, _params: Any) -> None:
        self.sessions_changed += 1

    def _on_approval(self, params: Json) -> Any:
        self.approval_requests.append(params)
        return self.decide(params)

    def expect_event(self, predicate: Predicate) -> asyncio.Future[Json]:
        """A future for the first event from now on that matches; register before acting."""
        future: asyncio.Future[Json] = asyncio.get_running_loop().create_future()
        self._waiters.append(EventWaiter(predicate, future))
        return future

    async def wait_event(self, predicate: Predicate, timeout: float = 15.0) -> Json:
        for event in self.events:
            if predicate(event):
                return event
        return await asyncio.wait_for(self.expect_event(predicate), timeout)

    def turn_events(self, turn_id: str) -> list[Json]:
        return [e for e in self.events if e.get("turnId") == turn_id]

    async def request(self, method: str, params: Any, timeout: float | None = 30.0) -> Any:
        return await self.client.request(method, params, timeout=timeout)

    async def send(self, text: str, timeout: float = 30.0, **extra: Any) -> Json:
        result: Json = await self.client.request(
            "agent/send", {"text": text, **extra}, timeout=timeout
        )
        return result

    def start_send(self, text: str, **extra: Any) -> tuple[Any, asyncio.Future[Any]]:
        return self.client.start_request("agent/send", {"text": text, **extra})

    async def close(self) -> None:
        await self.client.close()


async def start_agent(
    workspace: Path,
    env: Mapping[str, str],
    init_options: Mapping[str, Any] | None = None,
    *,
    stderr_path: Path | None = None,
    keep_events: bool = True,
    cwd: Path | None = None,
    timeout: float = 30.0,
) -> Agent:
    client = LspClient()
    agent = Agent(client, keep_events=keep_events)
    options = {"approvals": True, "retryBaseDelayS": 0, "maxRetries": 2, **(init_options or {})}
    await client.start(env, cwd=cwd or workspace, stderr_path=stderr_path)
    try:
        agent.initialize_result = await client.initialize(workspace, options, timeout=timeout)
    except BaseException:
        client.kill()
        raise
    agent.initialize_ms = (time.perf_counter() - client.spawned_at) * 1000
    return agent

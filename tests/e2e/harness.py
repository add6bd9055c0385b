"""Start the real `agentls serve` as a subprocess and drive it like an editor (pytest-lsp)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.protocol import default_converter
from pygls.protocol.json_rpc import (
    JsonRPCNotification,
    JsonRPCRequestMessage,
    JsonRPCResponseMessage,
)
from pytest_lsp import ClientServerConfig, LanguageClient
from pytest_lsp.client import register_lsp_features
from tests.helpers import Changes, alive, process_tree, wait_for

from agentls.protocol import EVENTS

# the benchmarks (bench/) take these from here
__all__ = [
    "API_KEY",
    "Agent",
    "agent_converter",
    "alive",
    "make_client",
    "process_tree",
    "server_env",
    "start_agent",
    "stop_agent",
]

API_KEY = "sk-test-0123456789abcdef"


def _keep_dicts(obj: dict[str, Any], cls: type[Any]) -> Any:
    """Custom params and results stay plain dicts: pygls would make lossy namedtuples."""
    return cls(**obj)


def agent_converter() -> Any:
    """A pygls converter for a test client of the agent methods."""
    converter = default_converter()
    for message_type in (JsonRPCRequestMessage, JsonRPCNotification, JsonRPCResponseMessage):
        converter.register_structure_hook(message_type, _keep_dicts)
    return converter


def event_shape_errors(event: dict[str, Any]) -> list[str]:
    """How an event differs from its shape in `agentls.protocol`: missing or unknown keys.

    Every event a test receives is checked, so an emit that adds or drops a field fails the
    end-to-end tests until the protocol (and with it the client's generated types) says so.
    """
    cls = EVENTS.get(event.get("type"))
    if cls is None:
        return [f"unknown event type {event.get('type')!r}"]
    keys = set(event)
    errors = [f"{event['type']} lacks {key}" for key in sorted(cls.__required_keys__ - keys)]
    allowed = cls.__required_keys__ | cls.__optional_keys__
    errors += [f"{event['type']} has unknown {key}" for key in sorted(keys - allowed)]
    return errors


def make_client() -> LanguageClient:
    client = LanguageClient(converter_factory=agent_converter)
    register_lsp_features(client)
    return client


class Agent:
    """A connected client plus what it has received."""

    def __init__(self, client: LanguageClient) -> None:
        self.client = client
        self.events: list[dict[str, Any]] = []
        self.shape_errors: list[str] = []
        self.sessions_changed = 0
        self.approval_requests: list[dict[str, Any]] = []
        self.approval_cancels: list[Any] = []
        self.decide: Callable[[dict[str, Any]], Any] = lambda _p: {"decision": "approve"}
        self._counter = 0
        self.initialize_result: Any = None
        self._changed = asyncio.Event()
        self.arrivals = Changes()  # an event came
        # pygls tags handlers with attributes, which bound methods cannot carry
        client.feature("agent/event")(lambda params: self._on_event(params))
        client.feature("agent/sessionsChanged")(lambda params: self._on_changed(params))

        async def approval(params: dict[str, Any]) -> Any:
            return await self._on_approval(params)

        client.feature("agent/requestApproval")(approval)

    def _on_event(self, params: dict[str, Any]) -> None:
        self.events.append(params)
        self.shape_errors += event_shape_errors(params)
        self.arrivals.changed()

    def _on_changed(self, _params: Any) -> None:
        self.sessions_changed += 1
        self._changed.set()

    async def _on_approval(self, params: dict[str, Any]) -> Any:
        self.approval_requests.append(params)
        try:
            decision = self.decide(params)
            if asyncio.iscoroutine(decision):
                decision = await decision
            return decision
        except asyncio.CancelledError:
            self.approval_cancels.append(params["callId"])
            raise

    @property
    def server(self) -> asyncio.subprocess.Process:
        process = self.client._server
        assert process is not None
        return process

    def next_id(self) -> str:
        self._counter += 1
        return f"req-{self._counter}"

    async def request(self, method: str, params: Any, msg_id: str | None = None) -> Any:
        return await self.client.protocol.send_request_async(
            method, params, msg_id=msg_id or self.next_id()
        )

    def start(self, method: str, params: Any) -> tuple[str, asyncio.Future[Any]]:
        msg_id = self.next_id()  # sent now, so a cancel that follows cannot overtake it
        future = self.client.protocol.send_request(method, params, msg_id=msg_id)
        return msg_id, asyncio.wrap_future(future)

    def cancel(self, msg_id: str) -> None:
        self.client.cancel_request(types.CancelParams(id=msg_id))

    async def send(self, text: str, **extra: Any) -> dict[str, Any]:
        result: dict[str, Any] = await asyncio.wait_for(
            self.request("agent/send", {"text": text, **extra}), 30
        )
        return result

    async def wait_event(
        self,
        kind: str,
        predicate: Callable[[dict[str, Any]], bool] = lambda _e: True,
        timeout: float = 15,
    ) -> dict[str, Any]:
        """The first event of `kind` that `predicate` accepts, received or still to come."""

        def find() -> dict[str, Any] | None:
            return next((e for e in self.events if e["type"] == kind and predicate(e)), None)

        return await wait_for(find, timeout, what=f"a {kind} event", changes=self.arrivals)

    async def wait_sessions_changed(self, timeout: float = 10) -> None:
        await asyncio.wait_for(self._changed.wait(), timeout)
        self._changed.clear()

    def turn_events(self, turn_id: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["turnId"] == turn_id]


def server_env(home: Path, base_url: str | None, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL") and not k.startswith("AGENTLS_")
    }
    env["AGENTLS_HOME"] = str(home)
    # login shells of the tools must not run the machine's profile (pyenv rehash locks)
    user_home = home.parent / "user-home"
    user_home.mkdir(parents=True, exist_ok=True)
    env["HOME"] = str(user_home)
    if base_url:
        env["OPENAI_BASE_URL"] = base_url
        env["OPENAI_API_KEY"] = API_KEY
    env.update(extra)
    return env


async def start_agent(
    workspace: Path,
    env: dict[str, str],
    init_options: dict[str, Any] | None = None,
    capabilities: types.ClientCapabilities | None = None,
) -> Agent:
    config = ClientServerConfig(
        server_command=[sys.executable, "-m", "agentls", "serve"],
        server_env=env,
        client_factory=make_client,
    )
    client = await config.start()
    assert isinstance(client, LanguageClient)
    agent = Agent(client)
    options = {"approvals": True, "retryBaseDelayS": 0, "maxRetries": 2, **(init_options or {})}
    agent.initialize_result = await client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities or types.ClientCapabilities(),
            root_uri=workspace.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name="work")],
            initialization_options=options,
        )
    )
    return agent


async def stop_agent(agent: Agent) -> None:
    client = agent.client
    if client._server is not None and client._server.returncode is None:
        try:
            await asyncio.wait_for(client.shutdown_session(), 10)
        except Exception:
            client._server.kill()
    await asyncio.wait_for(client.stop(), 10)
    assert not agent.shape_errors, f"events unlike agentls.protocol's: {agent.shape_errors}"

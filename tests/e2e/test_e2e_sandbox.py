"""The sandbox through the real server: nothing escapes, the key stays out of reach, and
without bubblewrap the user is told once and asked before anything that writes."""

from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path

from fixtures.fake_api import FakeModelAPI, HttpError
from tests.e2e.conftest import Starter
from tests.e2e.harness import API_KEY, Agent, server_env
from tests.helpers import pids_with_marker, wait_for

NEVER = {"approval": "never-ask"}


async def test_a_detached_process_does_not_outlive_its_call(
    start: Starter, api: FakeModelAPI
) -> None:
    token = f"escape-{uuid.uuid4().hex}"
    agent = await start(init_options=NEVER)
    capability = agent.initialize_result.capabilities.experimental["agent"]
    assert capability["sandbox"]["active"] is True, capability["sandbox"]
    script = (
        f"env -i setsid -f sh -c 'sleep 300; : {token}'; "
        f"env -u AGENTLS_TOOL_OWNER setsid -f sh -c 'sleep 300; : {token}'; echo started"
    )
    result = await agent.send(f"run: {script}")
    assert result["status"] == "completed"
    await wait_for(lambda: not pids_with_marker(token), 5, explain=lambda: pids_with_marker(token))


async def test_nothing_survives_a_sigkill_of_the_server(start: Starter, api: FakeModelAPI) -> None:
    token = f"escape-{uuid.uuid4().hex}"
    agent = await start(init_options=NEVER)
    script = f"setsid -f sh -c 'sleep 300; : {token}'; sleep 300"
    _msg, pending = agent.start("agent/send", {"text": f"run: {script}"})
    await wait_for(lambda: bool(pids_with_marker(token)), 15)
    os.kill(agent.server.pid, signal.SIGKILL)
    await agent.server.wait()
    pending.cancel()
    await wait_for(lambda: not pids_with_marker(token), 10, explain=lambda: pids_with_marker(token))


async def test_the_key_cannot_be_read_from_proc(start: Starter, api: FakeModelAPI) -> None:
    agent = await start()  # ask-unsafe: reading /proc is asked, and approved here
    agent.decide = lambda _p: {"decision": "approve"}
    result = await agent.send("run: cat /proc/$PPID/environ /proc/1/environ | tr '\\0' '\\n'")
    assert result["status"] == "completed"
    assert len(agent.approval_requests) == 1  # never auto-approved
    completed = await agent.wait_event("toolCallCompleted")
    assert API_KEY not in completed["output"]
    assert all(API_KEY not in str(request) for request in api.requests)


async def test_an_error_body_that_echoes_the_key_is_redacted(
    agent: Agent, api: FakeModelAPI
) -> None:
    api.enqueue(HttpError(400, f"Invalid key {API_KEY} for this project"))
    result = await agent.send("hello")
    assert result["status"] == "failed"
    assert API_KEY not in str(result)
    assert API_KEY not in str(agent.events)
    assert "[redacted]" in result["error"]["message"]


async def test_without_bubblewrap_the_user_is_told_and_asked(
    start: Starter, api: FakeModelAPI, home: Path, tmp_path: Path, workspace: Path
) -> None:
    fake_bin = tmp_path / "fake-bin"
    fake_bin.mkdir()
    fake = fake_bin / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    env = server_env(home, api.base_url)
    env["PATH"] = f"{fake_bin}:{env['PATH']}"
    agent = await start(env=env, init_options=NEVER)
    sandbox = agent.initialize_result.capabilities.experimental["agent"]["sandbox"]
    assert sandbox["active"] is False and "namespace" in sandbox["warning"]
    await wait_for(lambda: sum("sandbox" in m.message for m in agent.client.messages) == 1, 10)
    agent.decide = lambda _p: {"decision": "deny"}
    result = await agent.send("run: touch made-by-the-model")
    assert result["status"] == "completed"
    assert len(agent.approval_requests) == 1  # never-ask, but nothing contains the command
    assert not (workspace / "made-by-the-model").exists()
    await agent.send("run: ls")  # strictly read-only: still runs unasked
    assert len(agent.approval_requests) == 1

"""The sandbox through the real server: nothing escapes, the key stays out of reach, and
without bubblewrap the user is told once and asked before anything that writes."""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from pathlib import Path

import pytest
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


async def test_a_key_printed_in_pieces_never_reaches_the_editor(
    agent: Agent, api: FakeModelAPI, workspace: Path
) -> None:
    (workspace / ".env").write_text(API_KEY)
    script = "echo start; sleep 0.3; head -c 9 .env; sleep 0.3; tail -c +10 .env; echo; echo done"
    result = await agent.send(f"run: {script}")
    events = agent.turn_events(result["turnId"])
    deltas = [e["delta"] for e in events if e["type"] == "toolOutputDelta"]
    assert deltas[0] == "start\n" and len(deltas) >= 2  # streamed, not sent at the end
    shown = "".join(deltas)
    assert API_KEY not in shown and API_KEY[:9] not in shown
    assert "[redacted]" in shown and "done" in shown
    assert api.rejected == []


# --------------------------------------------------------------------------------------------
# Programs a repository names never run unasked, sandbox or not; the state home and a new
# `.git` are out of a command's reach
# --------------------------------------------------------------------------------------------

SANDBOX_ON_AND_OFF = pytest.mark.parametrize(
    "options", [{}, {"sandbox": "off"}], ids=["sandboxed", "sandbox-off"]
)
IDENTITY = ["-c", "user.name=t", "-c", "user.email=t@t"]


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *IDENTITY, *args], cwd=cwd, check=True, capture_output=True)


def _repository_with_a_decoy(workspace: Path, marker: Path, scratch: Path) -> None:
    """The workspace, a clean repository, vendors `vendor/lib`: a bare repository behind an
    empty `.git/`, whose diffs go through a program that leaves ``marker``."""
    _git(workspace, "init", "-q")
    (workspace / "a.txt").write_text("one\n")
    _git(workspace, "add", "a.txt")
    _git(workspace, "commit", "-qm", "one")
    source = scratch / "lib-source"
    source.mkdir()
    _git(source, "init", "-q")
    for text in ("int x;\n", "int y;\n"):
        (source / "lib.c").write_text(text)
        _git(source, "add", "lib.c")
        _git(source, "commit", "-qm", text)
    lib = workspace / "vendor" / "lib"
    lib.parent.mkdir()
    _git(scratch, "clone", "-q", "--bare", str(source), str(lib))
    (lib / "info" / "attributes").write_text("* diff=evil\n")
    _git(lib, "config", "diff.evil.textconv", f"touch {marker}; cat")
    (lib / ".git").mkdir()


def _last_output(agent: Agent) -> str:
    completed = [e for e in agent.events if e["type"] == "toolCallCompleted"]
    return str(completed[-1]["output"])


@SANDBOX_ON_AND_OFF
@pytest.mark.parametrize(
    "command",
    [
        "git -C vendor/lib log -p",
        "cd vendor/lib && git log -p",
        "GIT_DIR=vendor/lib git log -p",
        "git --git-dir=vendor/lib log -p",
        "git -C vendor/lib status",
    ],
)
async def test_a_vendored_repositorys_program_is_asked_for(
    options: dict[str, str],
    command: str,
    start: Starter,
    api: FakeModelAPI,
    workspace: Path,
    tmp_path: Path,
) -> None:
    marker = tmp_path / "pwned"
    _repository_with_a_decoy(workspace, marker, tmp_path)
    agent = await start(init_options=options)  # ask-unsafe
    agent.decide = lambda _p: {"decision": "deny"}
    await agent.send("run: git log --oneline")  # the workspace's own, clean: unasked
    assert agent.approval_requests == []
    await agent.send(f"run: {command}")
    assert len(agent.approval_requests) == 1
    assert not marker.exists()
    # The control: approved, git does run the repository's program (where it may write).
    if options:
        agent.decide = lambda _p: {"decision": "approve"}
        await agent.send("run: git -C vendor/lib log -p")
        assert marker.exists()


@SANDBOX_ON_AND_OFF
async def test_a_dot_git_made_by_an_approved_command_plants_nothing(
    options: dict[str, str], start: Starter, api: FakeModelAPI, workspace: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    agent = await start(init_options=options)
    await agent.send(f"run: git init -q sub && git -C sub config core.fsmonitor 'touch {marker}'")
    assert len(agent.approval_requests) == 1  # git init is asked
    assert (workspace / "sub" / ".git" / "config").is_file()
    agent.decide = lambda _p: {"decision": "deny"}
    (workspace / "sub" / "f").write_text("x\n")
    await agent.send("run: git -C sub status")
    await agent.send("run: cd sub && git status --short")
    assert len(agent.approval_requests) == 3
    assert not marker.exists()


async def test_the_state_home_is_hidden_from_approved_commands(
    start: Starter, api: FakeModelAPI, home: Path, workspace: Path
) -> None:
    # The home inside the workspace: an approved command could otherwise plant the
    # config.toml the next start reads.
    state = workspace / ".agentls"
    env = server_env(home, api.base_url)
    env["AGENTLS_HOME"] = str(state)
    agent = await start(env=env, init_options=NEVER)
    await agent.send("hello")  # a session: the home now holds its files
    before = sorted(path.relative_to(state) for path in state.rglob("*"))
    assert before
    for script in (
        "echo 'sandbox = \"off\"' > .agentls/config.toml",
        'echo x > "$AGENTLS_HOME/planted"',
        "mv .agentls .old && mkdir .agentls && echo x > .agentls/config.toml",
    ):
        result = await agent.send(f"run: {script}")
        assert result["status"] == "completed"
        assert "Read-only file system" in _last_output(agent) or "busy" in _last_output(agent)
    await agent.send("run: ls -A .agentls; echo listed")
    assert _last_output(agent).strip() == "listed"
    assert not (state / "config.toml").exists()
    assert not (state / "planted").exists()
    assert not (workspace / ".old").exists()


async def test_the_state_home_in_the_temp_folder_is_out_of_reach(
    start: Starter, api: FakeModelAPI, home: Path
) -> None:
    # The tests' home is under /tmp, which approved commands may write.
    agent = await start(init_options=NEVER)
    await agent.send("hello")
    await agent.send('run: echo x > "$AGENTLS_HOME/config.toml"')
    assert "Read-only file system" in _last_output(agent)
    assert not (home / "config.toml").exists()

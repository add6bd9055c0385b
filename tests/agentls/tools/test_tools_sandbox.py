"""The sandbox against the escapes and reaches found by probing the server as an attacker.

Each escape is run twice: unsandboxed, where the test asserts that the escape is real (so
the detector can see it), and sandboxed, where nothing may be left once the call returns.
Leftovers are found through /proc by a unique token in their command line, independently
of the code under test, and killed after each test whatever happened.

Tests that need a working bubblewrap skip (with the probe's reason) when it cannot start
here, unless AGENTLS_TEST_REQUIRE_SANDBOX=1, which turns that into a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import random
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.helpers import live_pids, record_signals, wait_for, wait_for_blocking

from agentls.tools.process import CommandResult, run_command
from agentls.tools.procfs import read_stat
from agentls.tools.reaper import OWNER_ENV_VAR, Reaper
from agentls.tools.sandbox import (
    SandboxPolicy,
    command_policy,
    contained_argv,
    probe_sandbox,
    sandbox_status,
    temp_roots,
    wrap,
)

REQUIRE_ENV_VAR = "AGENTLS_TEST_REQUIRE_SANDBOX"


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def require_sandbox() -> None:
    """Skip (or, when the environment demands a sandbox, fail) without a working bwrap."""
    status = sandbox_status()
    if status.available:
        return
    reason = f"bubblewrap sandbox unavailable here: {status.reason}"
    if os.environ.get(REQUIRE_ENV_VAR) == "1":
        pytest.fail(f"{REQUIRE_ENV_VAR}=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture
def needs_sandbox() -> None:
    require_sandbox()


def with_token(token: str) -> list[int]:
    """Live (non-zombie) processes whose command line has ``token`` as one argument."""
    marker = token.encode()
    return live_pids(lambda arguments: marker in arguments)


async def while_it_runs(task: asyncio.Future[CommandResult], check: Callable[[], bool]) -> None:
    """Wait for ``check`` while the command runs: it must not have ended first."""

    def running_and_checked() -> bool:
        assert not task.done(), "the command ended before the wait was over"
        return check()

    await wait_for(running_and_checked, what=inspect.getsource(check).strip())


@pytest.fixture
def token() -> Iterator[str]:
    """A unique `sleep` duration: its text marks every process the test starts."""
    value = f"{random.randint(300, 399)}.{uuid.uuid4().int % 10**9:09d}"
    yield value
    for pid in with_token(value):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    subprocess.run(["git", "init", "-q", str(ws)], check=True)
    (ws / "tracked.txt").write_text("hello\n")
    return ws


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    # An empty HOME keeps shells from sourcing (slow, stateful) user profiles.
    home = tmp_path / "home"
    home.mkdir()
    return {**os.environ, "HOME": str(home)}


@pytest.fixture
def reaper() -> Iterator[Reaper]:
    started = Reaper()
    started.ensure_started()
    yield started
    started.close(timeout_s=3.0)


def write_policy(workspace: Path, network: bool = False) -> SandboxPolicy:
    return command_policy(
        "workspace-write", workspace=workspace, sandbox_network=network, approved=True
    )


READ_ONLY = SandboxPolicy(mode="read-only", network=False)


def run(
    argv: list[str],
    cwd: Path,
    sandbox: SandboxPolicy | None,
    env: dict[str, str] | None = None,
    timeout_s: float | None = 30,
) -> CommandResult:
    return asyncio.run(
        run_command(
            argv, cwd=cwd, timeout_s=timeout_s, on_output=lambda _: None, env=env, sandbox=sandbox
        )
    )


def sh(
    script: str,
    cwd: Path,
    sandbox: SandboxPolicy | None,
    env: dict[str, str] | None = None,
    timeout_s: float | None = 30,
) -> CommandResult:
    return run(["bash", "-c", script], cwd, sandbox, env=env, timeout_s=timeout_s)


# --------------------------------------------------------------------------------------------
# Escapes from the call and from the server
# --------------------------------------------------------------------------------------------

# Each detaches a `sleep <token>` and waits until the detached process has really left the
# command's session (it creates `ready` after setsid), so an unsandboxed run escapes for sure.
# The token is also the shell's $0, so the process carries it from its first instant.
_DETACHED = "sh -c 'touch {ready}; exec sleep {token}' {token}"
_WAIT_READY = "while [ ! -e {ready} ]; do sleep 0.01; done"
ESCAPES = {
    "setsid -f": "setsid -f " + _DETACHED,
    "env -u marker setsid -f": f"env -u {OWNER_ENV_VAR} setsid -f " + _DETACHED,
    "env -i setsid -f": "env -i setsid -f " + _DETACHED,
    "nohup setsid in background": "nohup setsid " + _DETACHED + " >/dev/null 2>&1 &",
    "kill the watchdog, then detach": (
        f"kill -9 {{reaper}}; env -u {OWNER_ENV_VAR} setsid -f " + _DETACHED
    ),
}


def escape_script(name: str, token: str, ready: Path, reaper_pid: int | None = None) -> str:
    template = ESCAPES[name] + "\n" + _WAIT_READY
    return template.format(token=token, ready=ready, reaper=reaper_pid)


@pytest.mark.parametrize("name", list(ESCAPES))
def test_escape_is_real_without_sandbox(
    name: str, workspace: Path, env: dict[str, str], token: str, reaper: Reaper
) -> None:
    """The control: without the sandbox each of these outlives its call."""
    script = escape_script(name, token, workspace / "ready", reaper.pid)
    result = sh(script, workspace, None, env=reaper.tool_env(env))
    assert result.exit_code == 0, result.output
    assert with_token(token), "the detached process did not outlive its call"


@pytest.mark.usefixtures("needs_sandbox")
@pytest.mark.parametrize("name", list(ESCAPES))
def test_nothing_outlives_a_sandboxed_call(
    name: str, workspace: Path, env: dict[str, str], token: str, reaper: Reaper
) -> None:
    reaper_pid = reaper.pid
    assert reaper_pid is not None
    script = escape_script(name, token, workspace / "ready", reaper_pid)
    result = sh(script, workspace, write_policy(workspace), env=reaper.tool_env(env))
    assert result.exit_code == 0, result.output
    assert (workspace / "ready").exists()  # the detached process did run
    assert with_token(token) == []
    # The watchdog is out of the sandbox's sight, so it could not be killed.
    stat_ = read_stat(reaper_pid)
    assert stat_ is not None and stat_.alive


SERVER_SCRIPT = textwrap.dedent(
    """
    import asyncio, os, sys
    from pathlib import Path
    from agentls.tools.process import run_command
    from agentls.tools.reaper import Reaper
    from agentls.tools.sandbox import command_policy

    workspace = Path(sys.argv[1])
    script = sys.argv[2]
    sandboxed = sys.argv[3] == "1"
    reaper = Reaper()
    policy = command_policy(
        "workspace-write", workspace=workspace, sandbox_network=False, approved=True
    )

    def show(text):
        sys.stdout.write(text)
        sys.stdout.flush()

    asyncio.run(
        run_command(
            ["bash", "-c", script],
            cwd=workspace,
            timeout_s=None,
            on_output=show,
            env=reaper.tool_env(os.environ),
            sandbox=policy if sandboxed else None,
        )
    )
    """
)


@pytest.mark.parametrize("sandboxed", [True, False], ids=["sandboxed", "control"])
@pytest.mark.parametrize("detach", ["env -u marker setsid -f", "env -i setsid -f"])
def test_nothing_outlives_a_sigkilled_server(
    sandboxed: bool,
    detach: str,
    workspace: Path,
    env: dict[str, str],
    token: str,
) -> None:
    if sandboxed:
        require_sandbox()
    ready = workspace / "ready"
    script = f"{escape_script(detach, token, ready)}\necho started\nexec sleep {token}"
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER_SCRIPT, str(workspace), script, "1" if sandboxed else "0"],
        stdout=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    try:
        assert server.stdout is not None
        assert server.stdout.readline() == b"started\n"
        wait_for_blocking(lambda: len(with_token(token)) == 2)  # the command and the detached one
        server.kill()
        server.wait()
        if sandboxed:
            wait_for_blocking(lambda: with_token(token) == [])
        else:
            # The server's reaper kills the command, but the detached process dropped
            # the marker: it survives the server.
            wait_for_blocking(lambda: len(with_token(token)) == 1)
    finally:
        with contextlib.suppress(OSError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait()


@pytest.mark.usefixtures("needs_sandbox")
def test_stop_kills_the_whole_namespace(workspace: Path, env: dict[str, str], token: str) -> None:
    ready = workspace / "ready"
    script = escape_script("env -i setsid -f", token, ready) + f"\nsleep {token}"

    async def scenario() -> None:
        task = asyncio.ensure_future(
            run_command(
                ["bash", "-c", script],
                cwd=workspace,
                timeout_s=None,
                on_output=lambda _: None,
                env=env,
                sandbox=write_policy(workspace),
            )
        )
        await while_it_runs(task, lambda: len(with_token(token)) >= 2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert with_token(token) == []


@pytest.mark.usefixtures("needs_sandbox")
def test_second_stop_during_clean_up(
    workspace: Path, env: dict[str, str], token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The command ignores SIGTERM, so the clean-up is still waiting out the grace period
    # when the second Stop arrives; it must finish anyway and leave nothing.
    script = f"trap '' TERM; setsid -f sleep {token}; sleep {token}"

    signals = record_signals(monkeypatch)

    async def scenario() -> None:
        task = asyncio.ensure_future(
            run_command(
                ["bash", "-c", script],
                cwd=workspace,
                timeout_s=None,
                on_output=lambda _: None,
                env=env,
                sandbox=write_policy(workspace),
                kill_grace_s=0.3,
            )
        )
        await while_it_runs(task, lambda: len(with_token(token)) >= 2)
        task.cancel()
        # the clean-up has sent SIGTERM (ignored here): the grace period has begun
        await signals.wait_for(signal.SIGTERM, "killpg")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert with_token(token) == []


@pytest.mark.usefixtures("needs_sandbox")
def test_timeout_terms_the_command_and_kills_the_rest(
    workspace: Path, env: dict[str, str], token: str
) -> None:
    script = f"trap 'echo cleaned up; exit 4' TERM; setsid -f sleep {token}; sleep {token} & wait"
    result = run(["bash", "-c", script], workspace, write_policy(workspace), env=env, timeout_s=0.5)
    assert result.timed_out
    assert result.exit_code is None
    assert "cleaned up" in result.output  # SIGTERM still reaches the command first
    assert with_token(token) == []


@pytest.mark.usefixtures("needs_sandbox")
def test_no_descriptor_leaks(workspace: Path, env: dict[str, str], token: str) -> None:
    policy = write_policy(workspace)

    async def scenario() -> None:
        await run_command(
            ["true"], cwd=workspace, timeout_s=5, on_output=lambda _: None, sandbox=policy
        )
        before = sorted(os.listdir("/proc/self/fd"))
        for _ in range(3):
            await run_command(
                ["sh", "-c", f"setsid -f sleep {token}; echo hi"],
                cwd=workspace,
                timeout_s=5,
                on_output=lambda _: None,
                env=env,
                sandbox=policy,
            )
            task = asyncio.ensure_future(
                run_command(
                    ["sleep", token],
                    cwd=workspace,
                    timeout_s=None,
                    on_output=lambda _: None,
                    env=env,
                    sandbox=policy,
                )
            )
            await while_it_runs(task, lambda: bool(with_token(token)))
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await run_command(
                ["no-such-program-agentls"],
                cwd=workspace,
                timeout_s=5,
                on_output=lambda _: None,
                sandbox=policy,
            )
        assert sorted(os.listdir("/proc/self/fd")) == before

    asyncio.run(scenario())
    assert with_token(token) == []


def test_contained_helper_dies_with_its_parent(tmp_path: Path, token: str) -> None:
    """Long-lived helpers (MCP servers): full access, but nothing outlives them."""
    out = tmp_path / "written-by-helper"
    script = f"echo ok > {out}; setsid -f sleep {token}; exec sleep {token}"
    argv = contained_argv(["sh", "-c", script], tmp_path)
    if not sandbox_status().available:
        assert argv == ["sh", "-c", script]
        pytest.skip(f"bubblewrap sandbox unavailable here: {sandbox_status().reason}")
    helper = subprocess.Popen(argv, start_new_session=True)
    try:
        wait_for_blocking(lambda: len(with_token(token)) == 2)
        assert out.read_text() == "ok\n"  # it may write outside any workspace
        helper.kill()  # as the server's death would, via the parent-death signal
        helper.wait()
        wait_for_blocking(lambda: with_token(token) == [])
    finally:
        helper.kill()
        helper.wait()


# --------------------------------------------------------------------------------------------
# What a sandboxed command can reach
# --------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("needs_sandbox")
def test_read_only_cannot_create_a_file(workspace: Path, env: dict[str, str]) -> None:
    result = sh("echo x > new.txt", workspace, READ_ONLY, env=env)
    assert result.exit_code != 0
    assert "Read-only file system" in result.output
    assert not (workspace / "new.txt").exists()
    # The control: the same command unsandboxed does write.
    assert sh("echo x > new.txt", workspace, None, env=env).exit_code == 0
    assert (workspace / "new.txt").read_text() == "x\n"


@pytest.mark.usefixtures("needs_sandbox")
def test_read_only_still_reads(workspace: Path, env: dict[str, str]) -> None:
    result = run(["git", "status", "--short"], workspace, READ_ONLY, env=env)
    assert result.exit_code == 0, result.output
    assert "?? tracked.txt" in result.output
    result = run([sys.executable, "-c", "print(6 * 7)"], workspace, READ_ONLY, env=env)
    assert (result.exit_code, result.output) == (0, "42\n")
    assert run(["ls"], workspace, READ_ONLY, env=env).output == "tracked.txt\n"


@pytest.mark.usefixtures("needs_sandbox")
def test_workspace_write_writes_workspace_and_temp_only(
    workspace: Path, env: dict[str, str]
) -> None:
    policy = write_policy(workspace)
    name = f"agentls-sandbox-test-{uuid.uuid4().hex}"
    result = sh(f"echo x > new.txt && echo y > {temp_roots()[0]}/{name}", workspace, policy)
    assert result.exit_code == 0, result.output
    assert (workspace / "new.txt").read_text() == "x\n"
    (temp_roots()[0] / name).unlink()
    outside = [Path.home() / name, Path("/etc") / name]
    try:
        for target in outside:
            result = sh(f"echo x > {target}", workspace, policy, env=env)
            assert result.exit_code != 0
            assert "Read-only file system" in result.output
            assert not target.exists()
    finally:
        for target in outside:
            target.unlink(missing_ok=True)


@pytest.mark.usefixtures("needs_sandbox")
def test_git_metadata_stays_read_only(workspace: Path, env: dict[str, str]) -> None:
    policy = write_policy(workspace)
    result = sh("echo '[core] fsmonitor = evil' >> .git/config", workspace, policy, env=env)
    assert result.exit_code != 0
    assert "evil" not in (workspace / ".git" / "config").read_text()
    assert run(["git", "status", "--short"], workspace, policy, env=env).exit_code == 0


@pytest.mark.usefixtures("needs_sandbox")
def test_a_dot_git_created_by_one_command_is_read_only_for_the_next(
    tmp_path: Path, env: dict[str, str]
) -> None:
    # Creating it cannot be told from any other write (`git init` is asked, being no
    # read-only command); once it exists, no later command can plant a program in it, and
    # what it holds is read by the classifier before any unasked git command.
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    policy = write_policy(fresh)
    assert run(["git", "init", "-q"], fresh, policy, env=env).exit_code == 0
    result = sh("echo '[core] fsmonitor = evil' >> .git/config", fresh, policy, env=env)
    assert result.exit_code != 0
    assert "evil" not in (fresh / ".git" / "config").read_text()


def _state(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "server-token").write_text("the-token\n")
    (folder / "config.toml").write_text('model = "mine"\n')
    return folder


def _home_policy(workspace: Path, home: Path, approved: bool = True) -> SandboxPolicy:
    return command_policy(
        "workspace-write",
        workspace=workspace,
        sandbox_network=False,
        approved=approved,
        state_home=home,
    )


def _assert_untouched(home: Path) -> None:
    assert sorted(path.name for path in home.iterdir()) == ["config.toml", "server-token"]
    assert (home / "config.toml").read_text() == 'model = "mine"\n'


ATTACKS = {
    "read the token": "cat {home}/server-token",
    "list it": "ls -A {home} | grep .",
    "plant a config": "echo 'sandbox = \"off\"' > {home}/config.toml",
    "add a file": "touch {home}/new",
    "rename it away": "mv {home} {home}.old && mkdir {home} && echo x > {home}/config.toml",
    "rename its parent away": (
        "mv {parent} {parent}.old && mkdir -p {home} && echo x > {home}/config.toml"
    ),
    "replace it by a link": "rm -rf {home} && ln -s /tmp {home}",
}


@pytest.mark.usefixtures("needs_sandbox")
@pytest.mark.parametrize("where", ["in the workspace", "in the temp folder"])
@pytest.mark.parametrize("attack", list(ATTACKS))
def test_the_state_home_is_out_of_reach(
    where: str, attack: str, workspace: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    base = workspace if where == "in the workspace" else tmp_path
    home = _state(base / "deep" / "agentls-state")
    script = ATTACKS[attack].format(home=home, parent=home.parent)
    for approved in (True, False):
        result = sh(script, workspace, _home_policy(workspace, home, approved), env=env)
        assert result.exit_code != 0, result.output
        assert "the-token" not in result.output
        _assert_untouched(home)
    # The control: without the home in the policy, the same command succeeds.
    assert sh(script, workspace, write_policy(workspace), env=env).exit_code == 0


@pytest.mark.usefixtures("needs_sandbox")
def test_a_missing_state_home_cannot_be_created_by_a_command(
    workspace: Path, env: dict[str, str]
) -> None:
    home = workspace / "state" / "agentls"
    result = sh(
        f"mkdir -p {home} && echo x > {home}/config.toml",
        workspace,
        _home_policy(workspace, home),
        env=env,
    )
    assert result.exit_code != 0
    assert home.is_dir() and not any(home.iterdir())


@pytest.mark.usefixtures("needs_sandbox")
def test_a_state_home_holding_the_workspace_is_read_only(
    tmp_path: Path, env: dict[str, str]
) -> None:
    # It cannot be hidden (the command works inside it): it is read-only, but the
    # workspace inside it stays writable.
    home = _state(tmp_path / "agentls-home")
    workspace = home / "project"
    workspace.mkdir()
    policy = _home_policy(workspace, home)
    assert sh("echo x > made.txt", workspace, policy, env=env).exit_code == 0
    assert (workspace / "made.txt").exists()
    result = sh(f"echo x > {home}/config.toml; touch {home}/new", workspace, policy, env=env)
    assert result.exit_code != 0
    assert sorted(p.name for p in home.iterdir()) == ["config.toml", "project", "server-token"]
    assert (home / "config.toml").read_text() == 'model = "mine"\n'


@pytest.mark.usefixtures("needs_sandbox")
def test_a_state_home_outside_the_writable_roots_is_hidden(
    workspace: Path, env: dict[str, str]
) -> None:
    home = Path.home() / f".agentls-test-{uuid.uuid4().hex}"
    _state(home)
    try:
        policy = _home_policy(workspace, home, approved=False)
        result = sh(f"cat {home}/server-token", workspace, policy, env=env)
        assert result.exit_code != 0
        assert "the-token" not in result.output
    finally:
        for path in home.iterdir():
            path.unlink()
        home.rmdir()


def test_the_state_home_mounts(workspace: Path, tmp_path: Path) -> None:
    home = _state(workspace / "a" / "b" / "state")
    argv = wrap(["ls"], cwd=workspace, policy=_home_policy(workspace, home))
    joined = " ".join(argv)
    real = os.path.realpath(workspace)
    # Every folder from the workspace down to the home is a mount point (cannot be
    # renamed), then the home is an empty read-only tmpfs; all after the workspace's bind.
    chain = [f"--bind {real}/a {real}/a", f"--bind {real}/a/b {real}/a/b"]
    hide = f"--tmpfs {real}/a/b/state --remount-ro {real}/a/b/state"
    positions = [joined.index(part) for part in [f"--bind {real} {real}", *chain, hide]]
    assert positions == sorted(positions)
    read_only = wrap(["ls"], cwd=workspace, policy=_home_policy(workspace, home, False))
    assert hide in " ".join(read_only)
    assert "--bind" not in read_only
    assert (
        command_policy(
            "off", workspace=workspace, sandbox_network=True, approved=True, state_home=home
        ).hidden
        == ()
    )


@pytest.fixture
def loopback_server() -> Iterator[int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


@pytest.mark.usefixtures("needs_sandbox")
def test_network_off_cannot_reach_the_host(
    workspace: Path, env: dict[str, str], loopback_server: int
) -> None:
    connect = [
        sys.executable,
        "-c",
        f"import socket; socket.create_connection(('127.0.0.1', {loopback_server}), 5)",
    ]
    offline = run(connect, workspace, write_policy(workspace, network=False), env=env)
    assert offline.exit_code != 0
    assert "Connection refused" in offline.output or "unreachable" in offline.output
    online = run(connect, workspace, write_policy(workspace, network=True), env=env)
    assert online.exit_code == 0, online.output


@pytest.mark.usefixtures("needs_sandbox")
def test_server_environment_is_out_of_reach(workspace: Path, env: dict[str, str]) -> None:
    read_environ = ["cat", f"/proc/{os.getpid()}/environ"]
    result = run(read_environ, workspace, write_policy(workspace), env=env)
    assert result.exit_code != 0
    assert "No such file or directory" in result.output
    # Only the namespace's own few processes are there, numbered from 1.
    listing = run(["ls", "/proc"], workspace, write_policy(workspace), env=env)
    pids = sorted(int(name) for name in listing.output.split() if name.isdigit())
    assert pids[0] == 1
    assert str(os.getpid()) not in listing.output.split()
    assert len(pids) < 5
    # The control: unsandboxed, the same read succeeds.
    assert run(read_environ, workspace, None, env=env).exit_code == 0


@pytest.mark.usefixtures("needs_sandbox")
def test_sandbox_off_runs_unwrapped(workspace: Path, env: dict[str, str]) -> None:
    result = run(
        ["test", "-e", f"/proc/{os.getpid()}"], workspace, SandboxPolicy("off", True), env=env
    )
    assert result.exit_code == 0


# --------------------------------------------------------------------------------------------
# Results are the same through bwrap
# --------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("needs_sandbox")
@pytest.mark.parametrize(
    "argv",
    [
        ["sh", "-c", "printf 'out\\n'; printf 'err\\n' >&2; exit 3"],
        ["sh", "-c", "kill -TERM $$"],
        ["sh", "-c", "kill -KILL $$"],
        ["no-such-program-agentls"],
        ["./missing-script"],
        ["/etc/passwd"],
        ["true"],
    ],
)
def test_same_result_with_and_without_sandbox(
    argv: list[str], workspace: Path, env: dict[str, str]
) -> None:
    direct = run(argv, workspace, None, env=env)
    sandboxed = run(argv, workspace, write_policy(workspace), env=env)
    assert (sandboxed.exit_code, sandboxed.output, sandboxed.error) == (
        direct.exit_code,
        direct.output,
        direct.error,
    )


@pytest.mark.usefixtures("needs_sandbox")
def test_relative_working_directory(
    workspace: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(workspace.parent)
    result = run(["pwd"], Path(workspace.name), write_policy(workspace), env=env)
    assert (result.exit_code, result.output) == (0, f"{workspace}\n")


@pytest.mark.usefixtures("needs_sandbox")
def test_not_executable_file_is_permission_denied(workspace: Path, env: dict[str, str]) -> None:
    script = workspace / "script.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(stat.S_IRUSR | stat.S_IWUSR)
    result = run(["./script.sh"], workspace, write_policy(workspace), env=env)
    assert (result.exit_code, result.error) == (126, "permission denied: ./script.sh")
    script.chmod(stat.S_IRWXU)
    result = run(["./script.sh"], workspace, write_policy(workspace), env=env)
    assert (result.exit_code, result.output) == (0, "hi\n")


@pytest.mark.usefixtures("needs_sandbox")
def test_path_search_matches_a_direct_spawn(
    tmp_path: Path, workspace: Path, env: dict[str, str]
) -> None:
    not_a_folder = tmp_path / "file-on-path"
    not_a_folder.write_text("")
    only_readable = tmp_path / "bin-readable"
    only_readable.mkdir()
    (only_readable / "tool-agentls").write_text("#!/bin/sh\necho hi\n")
    executable = tmp_path / "bin-executable"
    executable.mkdir()
    (executable / "tool-agentls").write_text("#!/bin/sh\necho found\n")
    (executable / "tool-agentls").chmod(stat.S_IRWXU)
    search = [str(tmp_path / "missing"), str(not_a_folder), str(only_readable)]
    cases = {
        "skips what is not there, finds the executable": ([*search, str(executable)], 0),
        "a match that cannot be executed": ([*search, "/bin"], 126),
        "nothing at all": ([str(tmp_path / "missing"), "/bin"], 127),
    }
    for name, (path, exit_code) in cases.items():
        case_env = {**env, "PATH": os.pathsep.join(path)}
        direct = run(["tool-agentls"], workspace, None, env=case_env)
        sandboxed = run(["tool-agentls"], workspace, write_policy(workspace), env=case_env)
        assert (sandboxed.exit_code, sandboxed.output, sandboxed.error) == (
            direct.exit_code,
            direct.output,
            direct.error,
        ), name
        assert direct.exit_code == exit_code, name


# --------------------------------------------------------------------------------------------
# The probe and the policies
# --------------------------------------------------------------------------------------------


def test_probe_without_bwrap_says_so() -> None:
    status = probe_sandbox(None)
    assert not status.available
    assert status.reason is not None and "bubblewrap" in status.reason


def test_probe_reports_why_bwrap_cannot_start(tmp_path: Path) -> None:
    # A stand-in that fails the way bwrap does where user namespaces are disabled.
    fake = tmp_path / "bwrap"
    fake.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = --version ]; then echo "bubblewrap 9.9.9"; exit 0; fi\n'
        'echo "bwrap: No permissions to create new namespace" >&2\n'
        "exit 1\n"
    )
    fake.chmod(stat.S_IRWXU)
    status = probe_sandbox(str(fake))
    assert not status.available
    assert status.version == "9.9.9"
    assert status.reason is not None
    assert "No permissions to create new namespace" in status.reason


def test_probe_of_a_missing_path(tmp_path: Path) -> None:
    status = probe_sandbox(str(tmp_path / "nowhere" / "bwrap"))
    assert not status.available
    assert status.reason is not None and "could not be started" in status.reason


def test_probe_of_the_real_bwrap_is_cached() -> None:
    assert sandbox_status() is sandbox_status()
    if sandbox_status().available:
        assert sandbox_status().reason is None
        assert sandbox_status().version


def test_command_policy(tmp_path: Path) -> None:
    ws = tmp_path
    off = command_policy("off", workspace=ws, sandbox_network=False, approved=False)
    assert off.mode == "off"
    # Unasked commands: read-only and offline whatever the settings.
    for setting in ("workspace-write", "read-only"):
        unasked = command_policy(setting, workspace=ws, sandbox_network=True, approved=False)
        assert (unasked.mode, unasked.network) == ("read-only", False)
    approved = command_policy("workspace-write", workspace=ws, sandbox_network=True, approved=True)
    assert (approved.mode, approved.network) == ("workspace-write", True)
    assert approved.writable_roots[0] == ws
    assert Path("/tmp") in approved.writable_roots
    ro = command_policy("read-only", workspace=ws, sandbox_network=False, approved=True)
    assert (ro.mode, ro.network) == ("read-only", False)
    with pytest.raises(ValueError, match="unknown sandbox mode"):
        command_policy("sometimes", workspace=ws, sandbox_network=True, approved=True)


def test_wrap_command_line(workspace: Path) -> None:
    assert wrap(["ls", "-l"], cwd=workspace, policy=SandboxPolicy("off", True)) == ["ls", "-l"]
    argv = wrap(["ls", "-l"], cwd=workspace, policy=write_policy(workspace))
    assert argv[-3:] == ["--", "ls", "-l"]
    for flag in ("--die-with-parent", "--unshare-pid", "--new-session", "--unshare-net"):
        assert flag in argv
    real = os.path.realpath(workspace)
    joined = " ".join(argv)
    assert f"--bind {real} {real}" in joined
    assert f"--ro-bind {real}/.git {real}/.git" in joined
    # The read-only .git must come after every writable bind, or a bind would undo it.
    assert joined.index(f"--ro-bind {real}/.git") > joined.rindex("--bind /")
    online = wrap(["ls"], cwd=workspace, policy=write_policy(workspace, network=True))
    assert "--unshare-net" not in online
    read_only = wrap(["ls"], cwd=workspace, policy=READ_ONLY)
    assert "--bind" not in read_only

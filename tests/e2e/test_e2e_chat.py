"""Point 6: `agentls chat`, a terminal client speaking LSP to a server child."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from fixtures.fake_api import FakeModelAPI
from tests.e2e.harness import server_env


async def spawn_chat(
    env: dict[str, str], workspace: Path, *args: str
) -> asyncio.subprocess.Process:
    """`agentls chat` as a user starts it, with every stream piped to the test."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agentls",
        "chat",
        "--workspace",
        str(workspace),
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )


async def run_chat(
    env: dict[str, str], workspace: Path, *args: str, stdin: bytes | None = None
) -> tuple[int, str, str]:
    process = await spawn_chat(env, workspace, *args)
    out, err = await asyncio.wait_for(process.communicate(stdin), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_one_shot_prints_the_answer(api: FakeModelAPI, home: Path, workspace: Path) -> None:
    code, out, err = await run_chat(server_env(home, api.base_url), workspace, "-p", "hello")
    assert code == 0, err
    assert out == "You said: hello\n"


async def test_resume_continues_the_last_session(
    api: FakeModelAPI, home: Path, workspace: Path
) -> None:
    env = server_env(home, api.base_url)
    await run_chat(env, workspace, "-p", "first message")
    code, out, _ = await run_chat(env, workspace, "--resume", "-p", "second message")
    assert code == 0
    assert out == "You said: second message\n"
    roles = [i.get("role") for i in api.requests[-1]["input"]]
    assert roles == ["user", "assistant", "user"]


async def test_without_a_key_it_says_what_to_set(home: Path, workspace: Path) -> None:
    env = server_env(home, None, AGENTLS_LOCAL_MODEL="0")
    code, out, err = await run_chat(env, workspace, "-p", "hello")
    assert code == 2
    assert out == ""
    assert "OPENAI_API_KEY" in err and "OPENAI_BASE_URL" in err


async def test_interactive_ctrl_c_stops_the_turn_not_the_program(
    api: FakeModelAPI, home: Path, workspace: Path
) -> None:
    process = await spawn_chat(server_env(home, api.base_url), workspace)
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(b"slow: 0.05\n")
    await process.stdin.drain()
    first = await asyncio.wait_for(process.stdout.readexactly(4), 30)
    assert first == b"tick"
    process.send_signal(signal.SIGINT)
    await asyncio.sleep(0.5)
    assert process.returncode is None
    process.stdin.write(b"are you there\n/quit\n")
    await process.stdin.drain()
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err
    assert "You said: are you there" in out.decode()
    assert "(stopped)" in err.decode()
    assert api.rejected == []
    assert [i.get("role") for i in api.requests[-1]["input"]] == ["user", "assistant", "user"]


async def test_without_a_key_the_embedded_model_answers(home: Path, workspace: Path) -> None:
    from tests.e2e.test_e2e_real_model import _local_model_or_skip

    _local_model_or_skip()
    code, out, err = await run_chat(server_env(home, None), workspace, "-p", "Say hi.")
    assert code == 0, err
    assert out.strip()
    process = await spawn_chat(server_env(home, None), workspace)
    _out, banner = await asyncio.wait_for(process.communicate(b"/quit\n"), 60)
    assert "SmolLM2-135M-Instruct" in banner.decode()


async def test_the_key_is_in_no_log_no_output_no_file(
    api: FakeModelAPI, home: Path, workspace: Path
) -> None:
    secret = "sk-this-key-must-never-show-up-0001"
    env = server_env(home, api.base_url, OPENAI_API_KEY=secret, AGENTLS_LOG="debug")
    code, out, err = await run_chat(env, workspace, "-p", "run: env; echo $OPENAI_API_KEY")
    assert code == 1  # the fake refuses that key: a failed turn
    assert "401" in err
    assert secret not in out and secret not in err
    for path in home.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes()

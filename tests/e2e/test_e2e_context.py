"""What the model is pointed at: editor attachments and the project's AGENTS.md files."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import threading
from pathlib import Path

import pytest
from fixtures.fake_api import FakeModelAPI
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from tests.e2e.conftest import Starter
from tests.e2e.harness import API_KEY, Agent


def user_parts(api: FakeModelAPI) -> list[str]:
    message = [i for i in api.requests[-1]["input"] if i.get("role") == "user"][-1]
    return [part["text"] for part in message["content"]]


async def test_a_selection_from_an_unsaved_buffer_joins_the_message(
    agent: Agent, api: FakeModelAPI, workspace: Path
) -> None:
    source = workspace / "calc.py"
    source.write_text("def add(a, b):\n    return a + b\n")
    agent.client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=source.as_uri(),
                language_id="python",
                version=1,
                text="def add(a, b):\n    return a - b  # typed, not saved\n",
            )
        )
    )
    selection = {"start": {"line": 1, "character": 0}, "end": {"line": 2, "character": 0}}
    result = await agent.send(
        "why is this wrong?",
        context=[
            {"uri": source.as_uri(), "range": selection},
            {"uri": (workspace / "gone.txt").as_uri()},
        ],
    )
    assert result["status"] == "completed"
    parts = user_parts(api)
    assert parts[0] == "why is this wrong?"
    assert "calc.py" in parts[1] and "return a - b  # typed, not saved" in parts[1]
    assert "def add" not in parts[1]  # only the selected line
    assert "could not be read" in parts[2]


async def test_a_large_file_is_capped_with_a_visible_mark(
    agent: Agent, api: FakeModelAPI, workspace: Path
) -> None:
    big = workspace / "big.txt"
    big.write_text("".join(f"line {n}\n" for n in range(100_000)))
    await agent.send("summarize", context=[{"uri": big.as_uri()}])
    attached = user_parts(api)[1]
    assert "truncated" in attached
    assert len(attached.encode()) < 70 * 1024


async def test_bad_context_is_refused_naming_the_field(agent: Agent) -> None:
    with pytest.raises(JsonRpcException) as refused:
        await agent.send("hi", context=[{"range": {}}])
    assert refused.value.code == -32602 and "context[0]" in refused.value.message


async def test_agents_md_files_are_read_root_first(
    start: Starter, api: FakeModelAPI, workspace: Path
) -> None:
    subprocess.run(["git", "init", "-q", str(workspace)], check=True)  # noqa: ASYNC221
    (workspace / "AGENTS.md").write_text("Root rule: use tabs.\n")
    sub = workspace / "pkg"
    sub.mkdir()
    (sub / "AGENTS.md").write_text("ignored: the override wins here\n")
    (sub / "AGENTS.override.md").write_text("Package rule: no globals.\n")
    agent = await start(workspace=sub)
    capability = agent.initialize_result.capabilities.experimental["agent"]
    assert capability["instructionFiles"] == [
        str(workspace / "AGENTS.md"),
        str(sub / "AGENTS.override.md"),
    ]
    await agent.send("hello")
    instructions = api.requests[-1]["instructions"]
    assert instructions.index("Root rule") < instructions.index("Package rule")
    assert "ignored" not in instructions
    resumed = await agent.request("agent/resume", {})
    assert len(resumed["instructionFiles"]) == 2


async def answers_again(agent: Agent) -> None:
    """The server still serves: another request is answered at once."""
    listed = await asyncio.wait_for(agent.request("agent/listSessions", {}), 5)
    assert "sessions" in listed


KERNEL_FILES = ["/proc/self/environ", "/dev/urandom", "/dev/zero", "/dev/stdin", "/proc/self/fd/0"]


async def test_kernel_files_are_never_attached(
    agent: Agent, api: FakeModelAPI, workspace: Path
) -> None:
    context = []
    for n, target in enumerate(KERNEL_FILES):
        link = workspace / f"innocent{n}.txt"
        link.symlink_to(target)
        context += [{"uri": Path(target).as_uri()}, {"uri": link.as_uri()}]
    result = await agent.send("look", context=context)
    assert result["status"] == "completed"
    parts = user_parts(api)
    assert len(parts) == 1 + 2 * len(KERNEL_FILES)
    assert all("could not be read" in part for part in parts[1:]), parts
    sent = str(api.requests[-1])
    assert API_KEY not in sent and "PATH=" not in sent
    await answers_again(agent)


async def test_special_and_growing_attachments_do_not_freeze_the_server(
    agent: Agent, api: FakeModelAPI, workspace: Path
) -> None:
    os.mkfifo(workspace / "pipe")
    log = workspace / "growing.log"
    log.write_bytes(b"")
    stop = threading.Event()

    def grow() -> None:
        with log.open("ab") as out:
            while not stop.is_set():
                out.write(b"line of a log that keeps growing\n" * 2048)
                out.flush()

    writer = threading.Thread(target=grow, daemon=True)
    listening = socket.socket(socket.AF_UNIX)
    try:
        listening.bind(str(workspace / "sock"))
        writer.start()
        while log.stat().st_size < (9 << 20):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        uris = [(workspace / name).as_uri() for name in ("pipe", "sock", "growing.log")]
        result = await agent.send("look", context=[{"uri": uri} for uri in uris])
    finally:
        stop.set()
        writer.join()
        listening.close()
    assert result["status"] == "completed"
    parts = user_parts(api)
    assert "FIFO" in parts[1] and "socket" in parts[2]
    assert "larger than 8 MiB" in parts[3]
    await answers_again(agent)


async def test_attached_text_holding_the_key_reaches_the_model_redacted(
    agent: Agent, api: FakeModelAPI, workspace: Path
) -> None:
    leaky = workspace / ".env"
    leaky.write_text(f"OPENAI_API_KEY={API_KEY}\n")
    await agent.send(
        "check this",
        context=[{"uri": leaky.as_uri()}, {"uri": "untitled:1", "text": f"key {API_KEY}"}],
    )
    parts = user_parts(api)
    assert "OPENAI_API_KEY=[redacted]" in parts[1]
    assert "key [redacted]" in parts[2]
    assert API_KEY not in str(api.requests[-1])


async def test_agents_md_files_linked_to_the_kernel_are_not_read(
    start: Starter, api: FakeModelAPI, workspace: Path
) -> None:
    subprocess.run(["git", "init", "-q", str(workspace)], check=True)  # noqa: ASYNC221
    (workspace / "AGENTS.md").symlink_to("/proc/self/environ")
    sub = workspace / "pkg"
    sub.mkdir()
    (sub / "AGENTS.md").symlink_to("/dev/stdin")
    (sub / "AGENTS.override.md").symlink_to("/dev/zero")
    agent = await start(workspace=sub)
    capability = agent.initialize_result.capabilities.experimental["agent"]
    assert capability["instructionFiles"] == []
    result = await agent.send("hello")
    assert result["status"] == "completed"
    sent = str(api.requests[-1])
    assert API_KEY not in sent and "PATH=" not in sent
    await answers_again(agent)


async def test_agents_md_leaving_the_repository_or_holding_the_key(
    start: Starter, api: FakeModelAPI, workspace: Path, tmp_path: Path
) -> None:
    subprocess.run(["git", "init", "-q", str(workspace)], check=True)  # noqa: ASYNC221
    (tmp_path / "private.md").write_text("from outside the repository\n")
    (workspace / "AGENTS.override.md").symlink_to(tmp_path / "private.md")
    (workspace / "AGENTS.md").write_text(f"Use the key {API_KEY} for nothing.\n")
    agent = await start()
    await agent.send("hello")
    instructions = api.requests[-1]["instructions"]
    assert "from outside" not in instructions
    assert "Use the key [redacted] for nothing." in instructions


async def test_a_huge_agents_md_costs_only_its_budget(
    start: Starter, api: FakeModelAPI, workspace: Path
) -> None:
    subprocess.run(["git", "init", "-q", str(workspace)], check=True)  # noqa: ASYNC221
    with (workspace / "AGENTS.md").open("wb") as out:
        out.write(b"Rule one.\n")
        out.truncate(400 << 20)  # sparse: 400 MiB on no disk
    agent = await start()
    result = await agent.send("hello")
    assert result["status"] == "completed"
    instructions = api.requests[-1]["instructions"]
    assert instructions.startswith("Rule one.") and "[truncated" in instructions
    assert len(instructions.encode()) < 40 * 1024

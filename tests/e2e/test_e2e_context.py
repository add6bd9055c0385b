"""What the model is pointed at: editor attachments and the project's AGENTS.md files."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from fixtures.fake_api import FakeModelAPI
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from tests.e2e.conftest import Starter
from tests.e2e.harness import Agent


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

"""`/mcp` and MCP calls in `agentls chat`, against the real server and the fixture MCP server."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

from fixtures.fake_api import CallItem, FakeModelAPI, Reply, TextItem
from tests.agentls.chat.terminal import ROOT, Terminal
from tests.helpers import wait_for

from agentls.chat.commands import help_text
from agentls.chat.conversation import Chat, approval_question
from agentls.chat.mcp_servers import format_mcp_servers
from agentls.chat.render import TerminalRenderer, describe_tool

FIXTURE = ROOT / "fixtures" / "mcp" / "server.py"
SECRET = "chat-fixture-secret-0123456789"
PROMPT = r"(?m)^> $"


def _config(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    python, fixture = json.dumps(sys.executable), json.dumps(str(FIXTURE))
    (home / "config.toml").write_text(
        f"[mcp_servers.fix]\ncommand = {python}\nargs = [{fixture}]\n\n"
        f'[mcp_servers.broken]\ncommand = {python}\nargs = [{fixture}, "--crash"]\n'
        f'env = {{ FIXTURE_SECRET = "{SECRET}" }}\n'
    )


def test_the_list_shows_state_error_and_tool_count() -> None:
    assert "no MCP servers configured" in format_mcp_servers([])
    text = format_mcp_servers(
        [
            {"name": "fix", "state": "ready", "error": None, "tools": ["echo", "slow"]},
            {"name": "broken", "state": "failed", "error": "exited with status 3", "tools": []},
            {"name": "later", "state": "starting", "tools": []},
        ]
    )
    lines = text.splitlines()
    assert lines[1].split() == ["fix", "ready", "2", "tools"]
    assert lines[2].split() == ["broken", "failed"]
    assert lines[3].strip() == "error: exited with status 3"
    assert lines[4].split() == ["later", "starting"]
    assert "/mcp" in help_text()


def test_mcp_calls_read_as_server_and_tool() -> None:
    shown = describe_tool("mcp__a_b__c", '{"x": 1}', {"server": "a_b", "tool": "c"})
    assert shown == 'a_b/c {"x": 1}'
    # a cut, hashed name does not split: the event's `mcp` field names the pair
    hashed = "mcp__" + "s" * 40 + "__long_1234abcd"
    assert describe_tool(hashed, "{}", {"server": "s" * 40, "tool": "t" * 30}).endswith(
        "/" + "t" * 30
    )
    question = approval_question(
        {"kind": "mcp", "tool": {"server": "fix", "tool": "echo", "arguments": '{"text": "hi"}'}}
    )
    assert question.startswith('Call `fix/echo {"text": "hi"}`?')
    assert "[a]lways: this tool" in question


async def test_a_server_without_the_method_says_so() -> None:
    out, info = io.StringIO(), io.StringIO()
    chat = Chat(TerminalRenderer(out, info), None, False)
    chat.conn.methods = {"agent/send"}  # what an older server announces
    await chat.command("/mcp")
    assert "this server does not support /mcp yet" in info.getvalue()


async def test_mcp_lists_the_servers_and_a_call_shows_like_a_command(
    api: FakeModelAPI, home: Path, env: dict[str, str], workspace: Path, terminals: list[Terminal]
) -> None:
    _config(home)
    chat = Terminal.chat(env, workspace)
    terminals.append(chat)
    await chat.expect(PROMPT)

    # the servers start in the background (slowly on a loaded machine): ask until both settle
    async def settled() -> str | None:
        await chat.type("/mcp\r")
        await chat.expect(r"MCP servers:")
        listing = await chat.expect(PROMPT)
        text = chat.text[: listing.start()]
        block = text[text.rfind("MCP servers:") :]
        states = [line.split()[1] for line in block.splitlines()[1:] if len(line.split()) > 1]
        return None if "starting" in states else block

    block = await wait_for(settled, 60, interval=0.5, what="both MCP servers to settle")
    assert "fix" in block and "broken" in block, block
    ready = next(line for line in block.splitlines() if line.split()[:1] == ["fix"])
    assert ready.split()[1] == "ready", ready
    assert int(ready.split()[2]) >= 3, ready  # echo, slow, spawn_child, ...
    assert "broken  failed" in block and "error:" in block, block
    assert SECRET not in chat.text

    api.enqueue(
        Reply([CallItem("mcp__fix__echo", {"text": "hello from mcp"})]),
        Reply([TextItem("the tool said hello")]),
    )
    await chat.type("use the echo tool\r")
    await chat.expect(r'\$ fix/echo \{"text": "hello from mcp"\}')
    await chat.expect(r'Call `fix/echo \{"text": "hello from mcp"\}`\? \[y\]es')
    chat.write("y")
    await chat.expect(r"hello from mcp")
    await chat.expect(r"\[completed\]")
    await chat.expect("the tool said hello")
    await chat.expect(PROMPT)
    await chat.type("/quit\r")
    assert await chat.wait() == 0
    assert api.rejected == []


async def test_mcp_without_servers_says_none_are_configured(
    api: FakeModelAPI, env: dict[str, str], workspace: Path, terminals: list[Terminal]
) -> None:
    chat = Terminal.chat(env, workspace)
    terminals.append(chat)
    await chat.expect(PROMPT)
    await chat.type("/mcp\r")
    await chat.expect("no MCP servers configured")
    await chat.type("/quit\r")
    assert await chat.wait() == 0

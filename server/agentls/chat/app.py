"""`agentls chat` and `agentls sessions`: a terminal client that talks to `agentls serve`
exactly as an editor does.

It starts the server as a child over stdio (pygls's client side), so everything it shows
went through LSP. Ctrl-C during a turn cancels the `agent/send` request (`$/cancelRequest`)
and the turn answers `interrupted`; at the prompt it clears the line and redraws the prompt.
Ctrl-C never reaches the processes around the chat (`make`, a wrapping shell): on a terminal
it is read as a key, not delivered as a signal.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from agentls import __version__
from agentls.chat.connection import ServerConnection, ServerStartError
from agentls.chat.conversation import Chat, Keys, Renderer
from agentls.chat.input import PipeKeys, TerminalKeys
from agentls.chat.render import TerminalRenderer
from agentls.chat.sessions import format_sessions, list_sessions

NO_MODEL_HELP = (
    "No model API is configured. Set OPENAI_API_KEY to use api.openai.com, "
    "or OPENAI_BASE_URL (for example http://127.0.0.1:11434/v1 for Ollama) "
    "to use a local OpenAI-compatible server."
)


def _banner(model: dict[str, Any], workspace: Path, ui: Renderer) -> None:
    name = model.get("model") or model.get("name", "?")
    where = "embedded, runs in agentls" if model.get("embedded") else model.get("baseUrl", "?")
    ui.notice(
        f"agentls {__version__} · model {name} ({where}, {model.get('wireApi', '?')}) · "
        f"workspace {workspace}"
    )
    ui.notice("/help lists commands · Ctrl-C stops a turn · !cmd runs a command · /quit leaves")
    if model.get("embedded"):
        ui.notice(
            "(the embedded model is tiny: it answers short questions and never runs commands. "
            "Try !ls to run one yourself; set OPENAI_API_KEY or OPENAI_BASE_URL for a model "
            "that works as an agent)"
        )


def _options(approval: str | None, model: str | None) -> dict[str, Any]:
    options: dict[str, Any] = {"approvals": True}
    if approval:
        options["approval"] = approval
    if model:
        options["model"] = model
    return options


def _renderer(terminal: bool) -> Renderer:
    if terminal:
        from agentls.chat.live import LiveRenderer

        return LiveRenderer()
    return TerminalRenderer()


async def _interactive(chat: Chat, resume: str | None, workspace: Path) -> int:
    _banner(chat.conn.model, workspace, chat.ui)
    if not chat.conn.model.get("configured"):
        chat.ui.error(NO_MODEL_HELP)
    if resume is not None:
        await chat.resume(resume, show=True)
    assert chat.keys is not None
    with chat.keys.running(chat.on_key):
        return await chat.loop()


async def _one_shot(chat: Chat, prompt: str, resume: str | None) -> int:
    if not chat.conn.model.get("configured"):
        chat.ui.error(NO_MODEL_HELP)
        return 2
    if resume is not None:
        await chat.resume(resume, show=False)
    if chat.session_id is None:
        # marked so that a bare `--resume` skips it (a server that does not know the
        # field ignores it)
        created = await chat.conn.request("agent/newSession", {"oneShot": True})
        chat.session_id = str(created["sessionId"])
    if chat.keys is not None:  # a terminal: keys for Ctrl-C and approvals, nothing echoed
        with chat.keys.running(chat.on_key):
            result = await chat.send(prompt)
    else:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, chat.stop_turn)
        try:
            result = await chat.send(prompt)
        finally:
            loop.remove_signal_handler(signal.SIGINT)
    if result is None:
        return 1
    return {"completed": 0, "interrupted": 130}.get(str(result.get("status")), 1)


async def _chat(
    prompt: str | None, resume: str | None, workspace: Path, options: dict[str, Any]
) -> int:
    interactive = prompt is None
    terminal = sys.stdin.isatty() and sys.stdout.isatty()
    keys: Keys | None = None
    if terminal:
        keys = TerminalKeys(sys.stdin.fileno())
    elif interactive:
        keys = PipeKeys()  # a one-shot leaves a piped stdin alone
    # Markdown and colours whenever a person reads stdout (`-p` included); plain text to pipes
    chat = Chat(_renderer(sys.stdout.isatty()), keys, terminal)
    try:
        await chat.conn.start(workspace, options)
        if interactive:
            return await _interactive(chat, resume, workspace)
        return await _one_shot(chat, prompt or "", resume)
    finally:
        await chat.conn.close()


def run_chat(
    *,
    prompt: str | None,
    resume: str | None,
    workspace: str,
    approval: str | None,
    model: str | None = None,
) -> int:
    """`resume`: None (a new conversation), "" (the last one) or a session id (prefix)."""
    folder = Path(workspace).resolve()
    if not folder.is_dir():
        print(f"agentls chat: workspace folder {folder} does not exist", file=sys.stderr)
        return 2
    if not os.environ.get("AGENTLS_LOG"):
        # the client side's own chatter (a cancel that crossed an answer) is not the user's
        logging.getLogger("pygls").setLevel(logging.ERROR)
    try:
        return asyncio.run(_chat(prompt, resume, folder, _options(approval, model)))
    except KeyboardInterrupt:
        return 130
    except ServerStartError as exc:
        print(f"agentls chat: {exc}", file=sys.stderr)
        return 1


async def _sessions(folder: Path) -> int:
    conn = ServerConnection(lambda _e: None, _deny, lambda m: print(m, file=sys.stderr))
    try:
        await conn.start(folder, {})
        print(format_sessions(await list_sessions(conn)))
    finally:
        await conn.close()
    return 0


async def _deny(_params: dict[str, Any]) -> dict[str, Any]:
    return {"decision": "deny"}


def run_sessions(*, workspace: str) -> int:
    """`agentls sessions`: this workspace's sessions, newest first, through the server."""
    folder = Path(workspace).resolve()
    if not folder.is_dir():
        print(f"agentls sessions: workspace folder {folder} does not exist", file=sys.stderr)
        return 2
    return asyncio.run(_sessions(folder))

"""`agentls chat`: a terminal client that talks to `agentls serve` exactly as an editor does.

It starts the server as a child over stdio, so everything it shows went through LSP. Ctrl-C
during a turn cancels the `agent/send` request (`$/cancelRequest`); at the prompt it only
reminds how to leave.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from agentls import __version__
from agentls.chat.render import TerminalRenderer
from agentls.history.view import describe_command
from agentls.rpc.endpoint import Endpoint
from agentls.rpc.streams import FramedStream

NO_MODEL_HELP = (
    "No model API is configured. Set OPENAI_API_KEY to use api.openai.com, "
    "or OPENAI_BASE_URL (for example http://127.0.0.1:11434/v1 for Ollama) "
    "to use a local OpenAI-compatible server."
)


class LineReader:
    """One thread reads stdin for the prompt and for approvals alike, so no line is lost."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._loop = loop
        threading.Thread(target=self._pump, daemon=True, name="agentls-stdin").start()

    def _pump(self) -> None:
        for line in sys.stdin:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, line.rstrip("\n"))
        self._loop.call_soon_threadsafe(self._queue.put_nowait, None)

    async def read(self, prompt: str) -> str | None:
        sys.stderr.write(prompt)
        sys.stderr.flush()
        return await self._queue.get()


class ChatClient:
    """The client side of the same JSON-RPC endpoint the server uses."""

    def __init__(self, renderer: TerminalRenderer, interactive: bool) -> None:
        self.renderer = renderer
        self.interactive = interactive
        self.reader: LineReader | None = None
        self.current_request: str | None = None
        self.endpoint: Endpoint | None = None
        self.process: asyncio.subprocess.Process | None = None
        self._serving: asyncio.Task[None] | None = None
        self._counter = 0

    def _on_event(self, params: Any) -> None:
        self.renderer.event(params if isinstance(params, dict) else {})

    def _on_message(self, params: Any) -> None:
        message = params.get("message") if isinstance(params, dict) else None
        if message:
            self.renderer.notice(str(message))

    async def _on_approval(self, params: Any) -> dict[str, str]:
        command = params.get("command") or []
        shown = describe_command([str(c) for c in command]) if command else "a change"
        if self.reader is None:
            self.renderer.notice(f"(denied `{shown}`: no terminal to ask in)")
            return {"decision": "deny"}
        try:
            answer = await self.reader.read(
                f"Run `{shown}` in {params.get('cwd')}? [y]es / [a]lways / [n]o / [s]top: "
            )
        except asyncio.CancelledError:
            self.renderer.notice("(approval withdrawn)")
            raise
        choice = (answer or "n").strip().lower()[:1]
        return {
            "decision": {"y": "approve", "a": "approveForSession", "s": "abort"}.get(choice, "deny")
        }

    async def start(self, workspace: Path, approval: str | None) -> dict[str, Any]:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "agentls",
            "serve",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # Ctrl-C is for the turn, not for the server
        )
        assert self.process.stdout is not None
        assert self.process.stdin is not None
        assert self.process.stderr is not None
        asyncio.get_running_loop().create_task(_drain(self.process.stderr))
        endpoint = Endpoint(FramedStream(self.process.stdout, self.process.stdin), id_prefix="c")
        endpoint.notifications["agent/event"] = self._on_event
        endpoint.notifications["window/showMessage"] = self._on_message
        endpoint.requests["agent/requestApproval"] = self._on_approval
        self.endpoint = endpoint
        self._serving = asyncio.get_running_loop().create_task(endpoint.serve())
        options: dict[str, Any] = {"approvals": True}
        if approval:
            options["approval"] = approval
        result = await endpoint.request(
            "initialize",
            {
                "processId": os.getpid(),
                "capabilities": {},
                "rootUri": workspace.as_uri(),
                "workspaceFolders": [{"uri": workspace.as_uri(), "name": workspace.name}],
                "initializationOptions": options,
            },
        )
        endpoint.notify("initialized", {})
        agent = (result.get("capabilities") or {}).get("experimental", {}).get("agent") or {}
        return dict(agent.get("model") or {})

    async def request(self, method: str, params: dict[str, Any]) -> Any:
        assert self.endpoint is not None
        self._counter += 1
        msg_id = f"chat-{self._counter}"
        if method == "agent/send":
            self.current_request = msg_id
        try:
            return await self.endpoint.request(method, params, msg_id=msg_id)
        finally:
            if method == "agent/send":
                self.current_request = None

    def stop_turn(self) -> bool:
        if self.current_request is None or self.endpoint is None:
            return False
        self.endpoint.cancel(self.current_request)
        return True

    async def close(self) -> None:
        if self.endpoint is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.endpoint.request("shutdown"), timeout=10)
                self.endpoint.notify("exit")
        if self.process is not None:
            try:
                await asyncio.wait_for(self.process.wait(), timeout=5)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        if self._serving is not None:
            self._serving.cancel()


async def _drain(stream: asyncio.StreamReader) -> None:
    show = bool(os.environ.get("AGENTLS_LOG"))
    while line := await stream.readline():
        if show:
            sys.stderr.write(line.decode(errors="replace"))


def _banner(model: dict[str, Any], workspace: Path, renderer: TerminalRenderer) -> None:
    name = model.get("name", "?")
    renderer.notice(
        f"agentls {__version__} · model {name} at {model.get('baseUrl', '?')} "
        f"({model.get('wireApi', '?')}) · workspace {workspace}"
    )


async def _chat(prompt: str | None, resume: bool, workspace: Path, approval: str | None) -> int:
    renderer = TerminalRenderer()
    interactive = prompt is None
    chat = ChatClient(renderer, interactive)
    loop = asyncio.get_running_loop()
    model = await chat.start(workspace, approval)
    configured = bool(model.get("configured"))
    if interactive:
        _banner(model, workspace, renderer)
        if not configured:
            renderer.error(NO_MODEL_HELP)
    elif not configured:
        renderer.error(NO_MODEL_HELP)
        await chat.close()
        return 2

    def on_sigint() -> None:
        if not chat.stop_turn():
            renderer.notice("(type /quit or press Ctrl-D to leave)")

    loop.add_signal_handler(signal.SIGINT, on_sigint)
    code = 0
    try:
        session_id: str | None = None
        if resume:
            try:
                resumed = await chat.request("agent/resume", {})
                session_id = resumed["sessionId"]
                if interactive:
                    renderer.history(resumed.get("history", []))
                for warning in resumed.get("warnings", []):
                    renderer.notice(f"(repaired: {warning})")
            except Exception as exc:  # no session yet: start fresh, say so
                renderer.notice(f"(nothing to resume: {exc})")
        if not interactive:
            return await _one_shot(chat, prompt or "", session_id)
        chat.reader = LineReader(loop)
        while True:
            line = await chat.reader.read("> " if sys.stdin.isatty() else "")
            if line is None or line.strip() in ("/quit", "/exit"):
                break
            if not line.strip():
                continue
            if line.strip() == "/new":
                session_id = (await chat.request("agent/newSession", {}))["sessionId"]
                renderer.notice(f"(new session {session_id})")
                continue
            params: dict[str, Any] = {"text": line}
            if session_id:
                params["sessionId"] = session_id
            try:
                result = await chat.request("agent/send", params)
                session_id = result.get("sessionId", session_id)
            except Exception as exc:
                renderer.error(f"error: {exc}")
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        await chat.close()
    return code


async def _one_shot(chat: ChatClient, prompt: str, session_id: str | None) -> int:
    params: dict[str, Any] = {"text": prompt}
    if session_id:
        params["sessionId"] = session_id
    try:
        result = await chat.request("agent/send", params)
    except Exception as exc:
        chat.renderer.error(f"error: {exc}")
        return 1
    status = result.get("status")
    return {"completed": 0, "interrupted": 130}.get(str(status), 1)


def run_chat(*, prompt: str | None, resume: bool, workspace: str, approval: str | None) -> int:
    folder = Path(workspace).resolve()
    if not folder.is_dir():
        print(f"agentls chat: workspace folder {folder} does not exist", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_chat(prompt, resume, folder, approval))
    except KeyboardInterrupt:
        return 130

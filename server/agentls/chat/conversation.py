"""One conversation in the terminal: keys, turns and the chat box's own commands.

What a key means depends on the moment: at the idle prompt Enter sends and Ctrl-C clears the
line; during a turn Enter steers the turn (or queues the line) and Ctrl-C cancels the
`agent/send` request; while an approval is asked, y/a/n/s answer and anything else asks again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from agentls.chat.commands import BY_NAME, help_text, unsupported
from agentls.chat.connection import ServerConnection
from agentls.chat.input import TerminalKeys
from agentls.chat.keys import Key, one_line
from agentls.chat.mcp_servers import format_mcp_servers, mcp_label
from agentls.chat.sessions import format_sessions, list_sessions, pick_session
from agentls.history.view import describe_command
from agentls.protocol.events import EventType

PROMPT = "> "
RESUME_HISTORY_LIMIT = 60  # entries redrawn on resume; the model still sees everything
APPROVAL_KEYS = {"y": "approve", "a": "approveForSession", "n": "deny", "s": "abort"}
DECISION_WORDS = {
    "approve": "approved",
    "approveForSession": "approved for this session",
    "deny": "denied",
    "abort": "stopping the turn",
}


class Renderer(Protocol):
    def begin_turn(self) -> None: ...
    def end_turn(self) -> None: ...
    def set_input(self, label: str, text: str) -> None: ...
    def ask(self, question: str | None) -> None: ...
    def notice(self, text: str) -> None: ...
    def error(self, text: str) -> None: ...
    def event(self, event: dict[str, Any]) -> None: ...
    def history(self, entries: list[dict[str, Any]]) -> None: ...
    def show_changes(self, changes: list[dict[str, Any]]) -> None: ...
    def stopping(self) -> None: ...


class Keys(Protocol):
    def running(self, sink: Callable[[Key], None]) -> contextlib.AbstractContextManager[None]: ...


@dataclass(frozen=True)
class Waiting:
    """A line waiting for the prompt loop; `text` None marks the end of the input."""

    text: str | None
    shown: bool = False  # already drawn as typed at the prompt


def approval_question(params: dict[str, Any]) -> str:
    if params.get("kind") == "patch":
        what = "Apply these changes?"
        always = "[a]lways: every patch, for this session"
    elif params.get("kind") == "mcp":
        given = params.get("tool")
        tool: dict[str, Any] = given if isinstance(given, dict) else {}
        label = mcp_label(tool) or "this MCP tool"
        arguments = str(tool.get("arguments") or "").strip()
        shown = f"{label} {arguments[:200]}" if arguments and arguments != "{}" else label
        what = f"Call `{shown}`?"
        always = "[a]lways: this tool, for this session"
    else:
        command = [str(c) for c in params.get("command") or []]
        shown = describe_command(command) if command else "this command"
        what = f"Run `{shown}`?"
        always = "[a]lways: this exact command, for this session"
    return f"{what} [y]es · {always} · [n]o · [s]top the turn"


class Chat:
    """One interactive (or one-shot) conversation with a server child."""

    def __init__(self, renderer: Renderer, keys: Keys | None, terminal: bool) -> None:
        self.ui = renderer
        self.keys = keys
        self.terminal = terminal
        self.conn = ServerConnection(self._on_event, self._on_approval, self._on_server_message)
        self.session_id: str | None = None
        self.mode = "steer"
        # Every line for the prompt loop, typed at the prompt or during a turn, in the order
        # it came: one queue, so a line read before a turn started cannot be overtaken by
        # one read during it (a script's `/compact` must run before its `/fork`).
        self.waiting: deque[Waiting] = deque()
        self._line_came = asyncio.Event()
        self.turn_id: str | None = None  # the JSON-RPC id of the running request
        self.approval: asyncio.Future[str] | None = None
        self.approval_question = ""
        self.quitting = False
        self.last_status: str | None = None
        self.changes_shown: set[str] = set()

    # -- server callbacks ----------------------------------------------------------------------
    def _on_event(self, event: dict[str, Any]) -> None:
        if event.get("sessionId"):
            self.session_id = str(event["sessionId"])
        if event.get("type") == EventType.TURN_COMPLETED:
            self.last_status = str(event.get("status"))
        elif event.get("type") == EventType.TOOL_CALL_STARTED and event.get("changes"):
            self.changes_shown.add(str(event.get("callId")))
        self.ui.event(event)

    async def _on_approval(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.keys is None:
            command = [str(c) for c in params.get("command") or []]
            shown = f"`{describe_command(command)}`" if command else "the change"
            if params.get("kind") == "mcp":
                shown = f"`{mcp_label(params.get('tool')) or 'the MCP tool call'}`"
            self.ui.notice(
                f"(denied {shown}: there is no terminal to ask in; --approval never-ask lets "
                "commands run unasked)"
            )
            return {"decision": "deny"}
        if params.get("changes") and str(params.get("callId")) not in self.changes_shown:
            self.ui.show_changes(list(params["changes"]))
        self.approval_question = approval_question(params)
        self.approval = asyncio.get_running_loop().create_future()
        self.ui.ask(self.approval_question)
        try:
            decision = await self.approval
        except asyncio.CancelledError:
            self.ui.notice("(approval withdrawn: the turn stopped)")
            raise
        finally:
            self.approval = None
            self.ui.ask(None)
        self.ui.notice(f"({DECISION_WORDS[decision]})")
        return {"decision": decision}

    # -- keys ------------------------------------------------------------------------------------
    def on_key(self, key: Key) -> None:
        if key.kind == "terminate":
            self.quitting = True
            self.stop_turn()
            if self.approval is not None and not self.approval.done():
                self.approval.set_result("abort")
            self._line_came.set()
        elif self.approval is not None and not self.approval.done():
            self._approval_key(key)
        elif self.turn_id is not None:
            self._turn_key(key)
        else:
            self._idle_key(key)

    def _editor_buffer(self) -> str:
        return self.keys.editor.buffer if isinstance(self.keys, TerminalKeys) else ""

    def _set_editor_buffer(self, text: str) -> None:
        if isinstance(self.keys, TerminalKeys):
            self.keys.editor.buffer = text

    def _approval_key(self, key: Key) -> None:
        assert self.approval is not None
        choice = ""
        if key.kind == "char":
            choice = key.text.lower()
            self._set_editor_buffer(self._editor_buffer()[:-1])
        elif key.kind == "line" and not self.terminal:
            choice = key.text.strip().lower()[:1]
        if key.kind == "interrupt":
            self.stop_turn()
            self.approval.set_result("abort")
        elif key.kind == "eof":
            self._wait_line(None)  # leave after the turn
            self.approval.set_result("abort")
        elif choice in APPROVAL_KEYS:
            self.approval.set_result(APPROVAL_KEYS[choice])
        elif key.kind in ("line", "char"):
            # Enter (or any other key) asks again: nothing is decided silently
            self.ui.notice("(press y, a, n or s)")
            self.ui.ask(self.approval_question)

    def _turn_key(self, key: Key) -> None:
        if key.kind == "interrupt":
            self.stop_turn()
        elif key.kind == "eof" and not self.terminal:
            self._wait_line(None)  # leave after the turn and the lines before the end
        elif key.kind == "line":
            self._typed_during_turn(key.text)
        elif key.kind in ("char", "edit"):
            label = "steer › " if self._steers() else "next › "
            buffer = one_line(self._editor_buffer())
            self.ui.set_input(label if buffer else "", buffer)

    def _steers(self) -> bool:
        """Pipes never steer: a script's next line is its next turn, as written."""
        return self.terminal and self.mode == "steer" and self.conn.supports("agent/steer")

    def _typed_during_turn(self, text: str) -> None:
        self.ui.set_input("", "")
        text = text.strip()
        if not text:
            return
        if text in ("/steer", "/queue"):
            self._set_mode(text[1:])
        elif text in ("/quit", "/exit") and self.terminal:
            self.quitting = True
            self.stop_turn()
        elif self._steers() and not text.startswith(("/", "!")):
            asyncio.get_running_loop().create_task(self._steer(text))
        else:
            self._wait_line(text)
            self.ui.notice(f"(queued for the next turn: {text})")

    async def _steer(self, text: str) -> None:
        params: dict[str, Any] = {"text": text}
        if self.session_id:
            params["sessionId"] = self.session_id
        try:
            result = await self.conn.request("agent/steer", params)
        except Exception as exc:
            self.ui.error(f"(could not steer: {exc})")
            result = {}
        if isinstance(result, dict) and result.get("accepted"):
            self.ui.notice(f"(steering: {text})")
        else:
            self._wait_line(text)
            self.ui.notice(f"(the turn was ending: queued for the next turn: {text})")

    def _wait_line(self, text: str | None, shown: bool = False) -> None:
        self.waiting.append(Waiting(text, shown))
        self._line_came.set()

    def _idle_key(self, key: Key) -> None:
        if key.kind == "line":
            if self.terminal:
                sys.stdout.write("\r\x1b[2K" + PROMPT + key.text.replace("\n", "\n  ") + "\n")
                sys.stdout.flush()
            self._wait_line(key.text, shown=True)
        elif key.kind == "eof":
            if self.terminal:
                sys.stdout.write("\n")
            self._wait_line(None)
        elif key.kind == "interrupt":
            if self.terminal:
                sys.stdout.write("^C\n")
                self._set_editor_buffer("")
            self.ui.notice("(type /quit or press Ctrl-D to leave)")
            self.draw_prompt()
        else:
            self.draw_prompt()

    def _on_server_message(self, text: str) -> None:
        """A message of the server's own (a setting ignored, an MCP server that failed): at
        the idle prompt it goes above the prompt, which is drawn again with what was typed,
        instead of being written into the prompt's line."""
        at_prompt = self.terminal and self.turn_id is None
        if at_prompt:
            sys.stdout.write("\r\x1b[2K")
        self.ui.notice(text)
        if at_prompt:
            self.draw_prompt()

    def draw_prompt(self) -> None:
        if not self.terminal:
            return
        width = max(10, os.get_terminal_size(sys.stdout.fileno()).columns - len(PROMPT) - 1)
        shown = one_line(self._editor_buffer())[-width:]
        sys.stdout.write("\r\x1b[2K" + PROMPT + shown)
        sys.stdout.flush()

    def stop_turn(self) -> bool:
        if self.turn_id is None:
            return False
        self.conn.cancel(self.turn_id)
        self.ui.stopping()
        return True

    def _set_mode(self, mode: str) -> None:
        self.mode = mode
        if mode == "steer" and not self.conn.supports("agent/steer"):
            self.ui.notice(
                "(this server does not support steering yet: what you type during a turn "
                "waits for the next turn)"
            )
        elif mode == "steer":
            self.ui.notice("(what you type during a turn now joins that turn)")
        else:
            self.ui.notice("(what you type during a turn now waits for the next turn)")

    # -- requests --------------------------------------------------------------------------------
    def _with_session(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.session_id:
            params["sessionId"] = self.session_id
        return params

    async def run_turn(self, method: str, params: dict[str, Any]) -> dict[str, Any] | None:
        """`agent/send` or `agent/runCommand`: streamed, stoppable with Ctrl-C."""
        self.ui.begin_turn()
        self.last_status = None
        msg_id, future = self.conn.start_request(method, self._with_session(params))
        self.turn_id = msg_id
        try:
            result = await future
        except Exception as exc:
            self.ui.error(f"error: {exc}")
            return None
        finally:
            self.turn_id = None
            self.ui.end_turn()
        if isinstance(result, dict) and result.get("sessionId"):
            self.session_id = str(result["sessionId"])
        return result if isinstance(result, dict) else None

    async def send(self, text: str) -> dict[str, Any] | None:
        return await self.run_turn("agent/send", {"text": text})

    async def resume(self, wanted: str, show: bool) -> None:
        """`--resume [ID]`: a session by id (or unique prefix), else the last conversation."""
        try:
            sessions = await list_sessions(self.conn)
            chosen = pick_session(sessions, wanted)
        except LookupError as exc:
            self.ui.notice(f"(nothing to resume: {exc})")
            return
        except Exception as exc:
            self.ui.notice(f"(could not list sessions: {exc})")
            chosen = None
        params: dict[str, Any] = {"historyLimit": RESUME_HISTORY_LIMIT}
        if chosen:
            params["sessionId"] = chosen
        try:
            resumed = await self.conn.request("agent/resume", params)
        except Exception as exc:
            self.ui.notice(f"(nothing to resume: {exc})")
            return
        self.session_id = resumed["sessionId"]
        if show:
            if resumed.get("historyCursor"):
                self.ui.notice("(earlier messages not shown)")
            self.ui.history(resumed.get("history", []))
            self.ui.notice(f"(resumed {resumed.get('title') or self.session_id})")
        for warning in resumed.get("warnings", []):
            self.ui.notice(f"(repaired: {warning})")

    # -- commands ----------------------------------------------------------------------------------
    def _can(self, usage: str, method: str) -> bool:
        if self.conn.supports(method):
            return True
        self.ui.notice(f"({unsupported(usage, method)})")
        return False

    async def command(self, line: str) -> None:
        """A line typed at the idle prompt."""
        text = line.strip()
        if text.startswith("!"):
            if self._can("!COMMAND", "agent/runCommand") and text[1:].strip():
                await self.run_turn("agent/runCommand", {"command": text[1:].strip()})
            return
        if not text.startswith("/"):
            await self.send(line)
            return
        name, _sep, arg = text.partition(" ")
        arg = arg.strip()
        known = BY_NAME.get(name)
        if known is None:
            self.ui.notice(f"(unknown command {name}; /help lists them)")
            return
        if known.method and not self._can(known.usage, known.method):
            return
        try:
            await self._command(name, arg)
        except Exception as exc:
            self.ui.error(f"{name}: {exc}")

    async def _command(self, name: str, arg: str) -> None:
        ui = self.ui
        if name == "/help":
            ui.notice(help_text())
        elif name in ("/steer", "/queue"):
            self._set_mode(name[1:])
        elif name == "/new":
            self.session_id = (await self.conn.request("agent/newSession", {}))["sessionId"]
            ui.notice(f"(new session {self.session_id})")
        elif name == "/sessions":
            ui.notice(format_sessions(await list_sessions(self.conn), self.session_id))
        elif name == "/resume":
            await self.resume(arg, show=True)
        elif name == "/undo":
            restore = arg if arg in ("files", "conversation") else "all"
            result = await self.conn.request("agent/undo", self._with_session({"restore": restore}))
            self._undone(result)
        elif name == "/fork":
            result = await self.conn.request("agent/fork", self._with_session({}))
            self.session_id = result["sessionId"]
            ui.notice(f"(forked: now in session {self.session_id}; the original is unchanged)")
        elif name == "/mcp":
            listed = await self.conn.request("agent/mcpServers", {})
            servers = listed.get("servers") if isinstance(listed, dict) else None
            ui.notice(format_mcp_servers(servers if isinstance(servers, list) else []))
        elif name == "/compact":
            result = await self.conn.request("agent/compact", self._with_session({}))
            ui.notice(
                f"(compacted: {result.get('tokensBefore', '?')} → "
                f"{result.get('tokensAfter', '?')} tokens)"
            )

    def _undone(self, result: dict[str, Any]) -> None:
        restored = result.get("restoredFiles") or []
        skipped = result.get("skippedFiles") or []
        self.ui.notice(f"(undone: {len(restored)} file(s) restored)")
        for path in restored:
            self.ui.notice(f"  restored {path}")
        for entry in skipped:
            self.ui.notice(f"  skipped {entry.get('path')}: {entry.get('reason')}")

    # -- the prompt loop ---------------------------------------------------------------------------
    async def next_line(self) -> str | None:
        """The next line in the order it came; None at the end of the input or when quitting."""
        if not self.waiting and not self.quitting:
            self.draw_prompt()
        while not self.waiting and not self.quitting:
            self._line_came.clear()
            await self._line_came.wait()
        if self.quitting:
            return None
        line = self.waiting.popleft()
        if line.text is not None and not line.shown and self.terminal:
            # typed during a turn: shown as if typed at the prompt now
            sys.stdout.write("\r\x1b[2K" + PROMPT + line.text + "\n")
            sys.stdout.flush()
        return line.text

    async def loop(self) -> int:
        while not self.quitting:
            line = await self.next_line()
            if line is None or line.strip() in ("/quit", "/exit"):
                return 0
            if not line.strip():
                continue
            await self.command(line)
            if self.conn.returncode is not None:
                said = "".join(self.conn.stderr_lines[-10:]).strip()
                self.ui.error(f"the agentls server stopped (exit status {self.conn.returncode})")
                if said:
                    self.ui.error(said)
                return 1
            typed = [line.text for line in self.waiting if line.text is not None]
            if self.last_status == "interrupted" and typed and self.terminal:
                # after a stop, nothing is sent on its own: the text waits in the prompt
                self._set_editor_buffer(" ".join(typed))
                self.waiting = deque(line for line in self.waiting if line.text is None)
                self.ui.notice("(what you typed is back in the prompt: Enter sends it)")
        return 0

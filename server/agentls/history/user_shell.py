"""The user's own command (`!cmd`) as the model and the panel see it.

The Codex CLI records a command the user ran as a *user* message wrapping the command and
its result in tags; so does agentls. A user message is valid input on every wire and needs
no call to pair with, so the strict APIs accept it wherever it lands, and compaction keeps it
as one of the user's recent messages. The panel shows it as a tool entry named `user_shell`.
"""

from __future__ import annotations

import re
from typing import Any

USER_SHELL = "user_shell"
_OPEN = "<user_shell_command>\n<command>\n"
_MIDDLE = "\n</command>\n<result>\n"
_CLOSE = "\n</result>\n</user_shell_command>"
_EXIT = re.compile(r"Exit code: (-?\d+)")
_OUTPUT_MARK = "\nOutput:\n"
STOPPED_NOTE = "stopped"


def user_shell_text(command: str, result: str) -> str:
    return f"{_OPEN}{command}{_MIDDLE}{result}{_CLOSE}"


def user_shell_message(command: str, result: str) -> dict[str, Any]:
    text = user_shell_text(command, result)
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def parse_user_shell(text: str) -> tuple[str, str] | None:
    """(command, result) of a user-command message, or None for any other text."""
    if not text.startswith(_OPEN) or not text.endswith(_CLOSE):
        return None
    body = text[len(_OPEN) : -len(_CLOSE)]
    command, found, result = body.rpartition(_MIDDLE)
    return (command, result) if found else None


def user_shell_entry(text: str) -> dict[str, Any] | None:
    """The panel entry of a user-command message: a tool entry, like a `shell` call."""
    parsed = parse_user_shell(text)
    if parsed is None:
        return None
    command, result = parsed
    match = _EXIT.match(result)
    exit_code = int(match.group(1)) if match else None
    if exit_code is None:
        status = "aborted" if STOPPED_NOTE in result.split("\n", 1)[0] else "failed"
    else:
        status = "completed" if exit_code == 0 else "failed"
    _, marked, output = result.partition(_OUTPUT_MARK)
    entry: dict[str, Any] = {
        "role": "tool",
        "text": command,
        "toolName": USER_SHELL,
        "status": status,
        "output": output if marked else result,
    }
    if exit_code is not None:
        entry["exitCode"] = exit_code
    return entry


def title_text(text: str) -> str:
    """A session's title from its first user message: a user command shows as `!command`."""
    parsed = parse_user_shell(text)
    return f"!{parsed[0]}" if parsed is not None else text

"""The chat box's own commands: what they are called, what they need from the server."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    help: str
    method: str | None = None  # the server method it needs, checked against `initialize`


COMMANDS = (
    Command("/help", "/help", "list these commands"),
    Command("/new", "/new", "start a new session", "agent/newSession"),
    Command("/sessions", "/sessions", "list this workspace's sessions", "agent/listSessions"),
    Command("/resume", "/resume ID", "switch to another session of this workspace", "agent/resume"),
    Command(
        "/undo",
        "/undo [files|conversation]",
        "take back the last turn: its file changes and the conversation (default both)",
        "agent/undo",
    ),
    Command("/fork", "/fork", "go on in a copy of this conversation", "agent/fork"),
    Command("/compact", "/compact", "summarize the conversation to free context", "agent/compact"),
    Command(
        "/mcp",
        "/mcp",
        "list the MCP servers: state, error, how many tools",
        "agent/mcpServers",
    ),
    Command("/steer", "/steer", "what you type during a turn joins that turn (default)"),
    Command("/queue", "/queue", "what you type during a turn waits for the next turn"),
    Command("/quit", "/quit", "leave (also /exit or Ctrl-D)"),
    Command(
        "!",
        "!COMMAND",
        "run a command yourself in the workspace; the model sees it next turn",
        "agent/runCommand",
    ),
)

BY_NAME = {command.name: command for command in COMMANDS}


def help_text() -> str:
    width = max(len(command.usage) for command in COMMANDS)
    lines = [f"  {c.usage.ljust(width)}  {c.help}" for c in COMMANDS]
    keys = (
        "  Ctrl-C stops the running turn (at the prompt it clears the line); "
        "Ctrl-D on an empty line leaves."
    )
    return "\n".join([*lines, keys])


def unsupported(usage: str, method: str) -> str:
    return f"this server does not support {usage} yet (it does not offer {method})"

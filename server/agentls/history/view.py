"""What a chat panel needs to redraw a conversation, derived from the rollout."""

from __future__ import annotations

import shlex
from typing import Any

import orjson

from agentls.history.repair import ABORTED_OUTPUT
from agentls.history.user_shell import user_shell_entry
from agentls.rollout.records import TOOL_CALL_COMPLETED
from agentls.rollout.store import user_text

Item = dict[str, Any]


def assistant_text(item: Item) -> str | None:
    if item.get("type") != "message" or item.get("role") != "assistant":
        return None
    content = item.get("content")
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return None
    return "".join(
        str(part.get("text", ""))
        for part in content
        if isinstance(part, dict) and part.get("type") in ("output_text", "text", "refusal")
    )


def describe_command(argv: list[str]) -> str:
    """The command as a person would type it: the script of `bash -lc "..."`, else argv."""
    if len(argv) == 3 and argv[0] in ("bash", "sh", "zsh") and argv[1] in ("-lc", "-c"):
        return argv[2]
    return shlex.join(argv)


def describe_call(name: str, arguments: str) -> str:
    """A shell call's command as a person would type it; other calls as sent."""
    try:
        args = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return arguments
    if isinstance(args, dict) and isinstance(args.get("command"), list):
        return describe_command([str(a) for a in args["command"]])
    return arguments


def render_history(items: list[Item], events: list[Item]) -> list[dict[str, Any]]:
    statuses: dict[str, Item] = {
        str(e.get("call_id")): e for e in events if e.get("type") == TOOL_CALL_COMPLETED
    }
    entries: list[dict[str, Any]] = []
    tool_entries: dict[str, dict[str, Any]] = {}
    for item in items:
        kind = item.get("type")
        if kind == "message":
            text = user_text(item)
            if text is not None:
                entries.append(user_shell_entry(text) or {"role": "user", "text": text})
                continue
            text = assistant_text(item)
            if text is not None:
                entries.append({"role": "assistant", "text": text})
        elif kind == "function_call":
            call_id = str(item.get("call_id"))
            name = str(item.get("name", ""))
            entry: dict[str, Any] = {
                "role": "tool",
                "text": describe_call(name, str(item.get("arguments", ""))),
                "callId": call_id,
                "toolName": name,
                "status": "aborted",
                "output": "",
            }
            tool_entries[call_id] = entry
            entries.append(entry)
        elif kind == "function_call_output":
            call_id = str(item.get("call_id"))
            found = tool_entries.get(call_id)
            if found is None:
                continue
            output = item.get("output")
            found["output"] = output if isinstance(output, str) else str(output)
            event = statuses.get(call_id)
            if event is not None:
                found["status"] = event.get("status", "completed")
                if event.get("exit_code") is not None:
                    found["exitCode"] = event["exit_code"]
            else:
                found["status"] = "aborted" if output == ABORTED_OUTPUT else "completed"
    return entries

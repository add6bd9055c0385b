"""What a chat panel needs to redraw a conversation, derived from the rollout."""

from __future__ import annotations

import shlex
from typing import Any

import orjson

from agentls.history.items import (
    TOOL_CALL_COMPLETED,
    TURN_ABORTED,
    TURN_COMPLETED,
    TURN_STARTED,
    Item,
    assistant_text,
    user_text,
)
from agentls.history.repair import ABORTED_OUTPUT
from agentls.history.user_shell import user_shell_entry


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


def turn_outcome(event: Item) -> dict[str, Any] | None:
    """A turn's end record as the panel shows it: `{status, usage?, error?, reason?}`."""
    kind = event.get("type")
    if kind == TURN_ABORTED:
        outcome: dict[str, Any] = {"status": "interrupted"}
        reason = event.get("reason")
        if isinstance(reason, str) and reason != "interrupted":
            outcome["reason"] = reason
    elif kind == TURN_COMPLETED:
        status = event.get("status")
        outcome = {"status": status if isinstance(status, str) else "completed"}
        if isinstance(event.get("error"), dict):
            outcome["error"] = event["error"]
    else:
        return None
    if isinstance(event.get("usage"), dict) and event["usage"]:
        outcome["usage"] = event["usage"]
    return outcome


def _turn_marks(events: list[Item]) -> dict[int, list[Item]]:
    """Turn starts and ends by the number of items before them (`_item_index`)."""
    marks: dict[int, list[Item]] = {}
    for event in events:
        index = event.get("_item_index")
        if isinstance(index, int) and event.get("type") in (
            TURN_STARTED,
            TURN_COMPLETED,
            TURN_ABORTED,
        ):
            marks.setdefault(index, []).append(event)
    return marks


def render_history(
    items: list[Item], events: list[Item], turn_id: str | None = None
) -> list[dict[str, Any]]:
    """Panel entries of `items`; each carries its `turnId`, a turn's last one its `outcome`.

    Turns are placed by the `_item_index` of their start and end events (events without it
    give tool statuses only); `turn_id` is the turn already open before the first item.
    """
    statuses: dict[str, Item] = {
        str(e.get("call_id")): e for e in events if e.get("type") == TOOL_CALL_COMPLETED
    }
    marks = _turn_marks(events)
    entries: list[dict[str, Any]] = []
    tool_entries: dict[str, dict[str, Any]] = {}
    current = turn_id

    def at_mark(index: int) -> None:
        nonlocal current
        for event in marks.get(index, ()):
            if event.get("type") == TURN_STARTED:
                current = str(event.get("turn_id"))
                continue
            ended = str(event.get("turn_id"))
            outcome = turn_outcome(event)
            if entries and entries[-1].get("turnId") == ended and outcome is not None:
                entries[-1]["outcome"] = outcome
            current = None

    for index, item in enumerate(items):
        at_mark(index)
        kind = item.get("type")
        before = len(entries)
        if kind == "message":
            text = user_text(item)
            if text is not None:
                entries.append(user_shell_entry(text) or {"role": "user", "text": text})
            elif (text := assistant_text(item)) is not None:
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
        if current is not None and len(entries) > before:
            entries[-1]["turnId"] = current
    at_mark(len(items))
    return entries

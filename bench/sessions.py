"""Rollout files written directly, in the layout of docs/protocol.md, for resume benchmarks."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from agentls.rollout.paths import WorkspaceLayout
from agentls.rollout.records import (
    EVENT_MSG,
    RESPONSE_ITEM,
    SESSION_META,
    TOOL_CALL_COMPLETED,
    TURN_COMPLETED,
    TURN_CONTEXT,
    TURN_STARTED,
    encode_line,
    timestamp,
)

ITEMS_PER_TURN = 4  # user message, function call, its output, assistant answer
OUTPUT_BYTES = 1024


def _output_text(turn: int) -> str:
    line = f"{turn:06d} the quick brown fox jumps over the lazy dog 0123456789\n"
    body = (line * (OUTPUT_BYTES // len(line) + 1))[:OUTPUT_BYTES]
    return f"Exit code: 0\nWall time: 0.01 seconds\nOutput:\n{body}"


def write_session(home: Path, workspace: Path, items: int, *, model: str = "gpt-5-mini") -> str:
    """Write a session of about `items` response items; returns its id.

    Each turn: turn_context, turn_started, a user message, a shell function call with a
    ~1 KB output, tool_call_completed, an assistant answer, turn_completed.
    """
    layout = WorkspaceLayout.for_path(home, workspace)
    layout.ensure()
    session_id = str(uuid.uuid4())
    created = datetime.now(UTC) - timedelta(hours=1)
    path = layout.session_path(session_id, created)
    turns = max(1, items // ITEMS_PER_TURN)
    lines = [
        encode_line(
            SESSION_META,
            {
                "id": session_id,
                "timestamp": timestamp(created),
                "cwd": str(layout.path),
                "workspace_uri": layout.uri,
                "originator": "agentls",
                "cli_version": "0.1.0",
                "model_provider": "127.0.0.1",
                "model": model,
            },
            created,
        )
    ]
    for turn in range(turns):
        moment = created + timedelta(milliseconds=turn)
        turn_id = f"turn-{turn:012x}"
        call_id = f"call_{uuid.uuid4().hex[:24]}"
        command = ["bash", "-lc", f"cat notes/part-{turn}.txt"]
        records = [
            (
                TURN_CONTEXT,
                {
                    "turn_id": turn_id,
                    "model": model,
                    "approval_policy": "ask-unsafe",
                    "cwd": str(layout.path),
                },
            ),
            (EVENT_MSG, {"type": TURN_STARTED, "turn_id": turn_id}),
            (
                RESPONSE_ITEM,
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": f"show part {turn}"}],
                },
            ),
            (
                RESPONSE_ITEM,
                {
                    "type": "function_call",
                    "id": f"fc_{uuid.uuid4().hex[:24]}",
                    "call_id": call_id,
                    "name": "shell",
                    "status": "completed",
                    "arguments": orjson.dumps({"command": command}).decode(),
                },
            ),
            (
                RESPONSE_ITEM,
                {"type": "function_call_output", "call_id": call_id, "output": _output_text(turn)},
            ),
            (
                EVENT_MSG,
                {
                    "type": TOOL_CALL_COMPLETED,
                    "call_id": call_id,
                    "status": "completed",
                    "exit_code": 0,
                },
            ),
            (
                RESPONSE_ITEM,
                {
                    "type": "message",
                    "role": "assistant",
                    "status": "completed",
                    "id": f"msg_{uuid.uuid4().hex[:24]}",
                    "content": [
                        {
                            "type": "output_text",
                            "annotations": [],
                            "text": f"Part {turn} says the fox jumped.",
                        }
                    ],
                },
            ),
            (
                EVENT_MSG,
                {
                    "type": TURN_COMPLETED,
                    "turn_id": turn_id,
                    "status": "completed",
                    "last_agent_message": f"Part {turn} says the fox jumped.",
                },
            ),
        ]
        lines.extend(encode_line(kind, payload, moment) for kind, payload in records)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, b"".join(lines))
    finally:
        os.close(fd)
    return session_id

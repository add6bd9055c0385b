"""The model-facing side of the ``shell`` tool: its definition, arguments and result text.

The arguments follow the Codex CLI's ``shell`` tool, which current OpenAI models are trained
on; keeping that shape means the model needs no instructions to use it well.
"""

from __future__ import annotations

import json
import math
import os
import signal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agentls.tools.process import CommandResult

__all__ = [
    "SHELL_TOOL",
    "ShellArgs",
    "ToolArgumentError",
    "format_result_for_model",
    "parse_shell_arguments",
    "resolve_workdir",
]

SHELL_TOOL: dict[str, Any] = {
    "type": "function",
    "name": "shell",
    "description": (
        "Runs a shell command in the workspace and returns its exit code and output "
        "(stdout and stderr merged; long output is shortened in the middle). "
        'Pass the command as an argument vector, usually ["bash", "-lc", "<script>"]. '
        "The command has no stdin, so it must not wait for input."
    ),
    "strict": False,
    "parameters": {
        "type": "object",
        "properties": {
            "command": {
                "type": "array",
                "items": {"type": "string"},
                "description": "The command to execute, as an argument vector.",
            },
            "workdir": {
                "type": "string",
                "description": (
                    "The working directory to run the command in; relative paths are "
                    "resolved against the workspace root. Defaults to the workspace root."
                ),
            },
            "timeout_ms": {
                "type": "number",
                "description": "The timeout for the command in milliseconds.",
            },
        },
        "required": ["command"],
        "additionalProperties": False,
    },
}

_EXAMPLE = '{"command": ["bash", "-lc", "ls -la"]}'


class ToolArgumentError(Exception):
    """Arguments the model got wrong; the message is sent back to it as the call's output."""


class ShellArgs(BaseModel):
    # Unknown keys (e.g. Codex's `justification`) are ignored rather than rejected: they
    # carry nothing we need, and refusing the call would only cost the model a retry.
    model_config = ConfigDict(extra="ignore", frozen=True)

    command: list[str] = Field(min_length=1)
    workdir: str | None = None
    timeout_ms: int | None = Field(default=None, gt=0)

    @field_validator("command")
    @classmethod
    def _program_named(cls, command: list[str]) -> list[str]:
        if not command[0].strip():
            raise ValueError("the first element (the program to run) must not be empty")
        return command

    @field_validator("timeout_ms", mode="before")
    @classmethod
    def _whole_milliseconds(cls, value: object) -> object:
        # The schema says "number", so 1500.5 is a legitimate answer; round it up rather
        # than reject it.
        if isinstance(value, float) and math.isfinite(value):
            return math.ceil(value)
        return value


def _describe(error: ValidationError) -> str:
    problems = []
    for detail in error.errors(include_url=False):
        location = ".".join(str(part) for part in detail["loc"]) or "arguments"
        message = str(detail["msg"])
        if message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        problems.append(f"{location}: {message}")
    return "; ".join(problems)


def parse_shell_arguments(arguments: str) -> ShellArgs:
    """Validate the JSON arguments string of a ``shell`` call.

    Error messages name the offending field and show a correct call, because the model
    reads them and is expected to fix the call itself.
    """
    try:
        data = json.loads(arguments) if arguments.strip() else None
    except json.JSONDecodeError as exc:
        raise ToolArgumentError(
            f"Invalid arguments for shell: not valid JSON ({exc.msg} at position {exc.pos}). "
            f"Expected an object such as {_EXAMPLE}."
        ) from None
    if not isinstance(data, dict):
        raise ToolArgumentError(
            f"Invalid arguments for shell: expected a JSON object such as {_EXAMPLE}."
        )
    if isinstance(data.get("command"), str):
        raise ToolArgumentError(
            "Invalid arguments for shell: command must be an array of strings, not a string; "
            f"wrap a script as {_EXAMPLE}."
        )
    try:
        return ShellArgs.model_validate(data)
    except ValidationError as exc:
        raise ToolArgumentError(
            f"Invalid arguments for shell: {_describe(exc)}. Expected e.g. {_EXAMPLE}."
        ) from None


def resolve_workdir(workspace: Path, workdir: str | None) -> Path:
    """The directory a command runs in: the workspace, or ``workdir`` relative to it.

    ``..`` is collapsed lexically (without following symlinks) only so that paths shown to
    the user and the model read naturally; no confinement to the workspace is implied.
    """
    if not workdir:
        return workspace
    path = Path(workdir).expanduser()
    if not path.is_absolute():
        path = workspace / path
    return Path(os.path.normpath(path))


def _seconds(value: float) -> str:
    return f"{value:.1f}" if value >= 0.1 else f"{value:.2f}"


def _signal_note(number: int) -> str:
    # Shells report death by signal N as 128+N; a program may also just exit with such a
    # code, hence "probably".
    try:
        name = signal.Signals(number).name
    except ValueError:
        return ""
    return f" (probably killed by {name})"


def format_result_for_model(result: CommandResult) -> str:
    """The text the model receives as the call's output."""
    if result.error is not None:
        code = "none" if result.exit_code is None else str(result.exit_code)
        return f"Exit code: {code}\nError: {result.error}\n"
    wall = f"Wall time: {_seconds(result.duration_s)} seconds"
    if result.timed_out:
        header = (
            f"Exit code: none (timed out; the command was killed after "
            f"{_seconds(result.duration_s)} seconds)\n{wall}"
        )
    elif result.exit_code is None:
        header = f"Exit code: none (the command was stopped)\n{wall}"
    else:
        note = _signal_note(result.exit_code - 128) if result.exit_code > 128 else ""
        header = f"Exit code: {result.exit_code}{note}\n{wall}"
    output = result.output if result.output else "(no output)"
    return f"{header}\nOutput:\n{output}"

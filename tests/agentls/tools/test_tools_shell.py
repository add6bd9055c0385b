from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentls.tools.process import CommandResult
from agentls.tools.shell import (
    SHELL_TOOL,
    ShellArgs,
    ToolArgumentError,
    format_result_for_model,
    parse_shell_arguments,
    resolve_workdir,
)


def test_tool_definition_shape() -> None:
    assert SHELL_TOOL["type"] == "function"
    assert SHELL_TOOL["name"] == "shell"
    assert SHELL_TOOL["strict"] is False
    assert isinstance(SHELL_TOOL["description"], str)
    params = SHELL_TOOL["parameters"]
    assert params["type"] == "object"
    assert params["required"] == ["command"]
    assert params["additionalProperties"] is False
    assert params["properties"]["command"] == {
        "type": "array",
        "items": {"type": "string"},
        "description": params["properties"]["command"]["description"],
    }
    assert params["properties"]["workdir"]["type"] == "string"
    assert params["properties"]["timeout_ms"]["type"] == "number"
    json.dumps(SHELL_TOOL)  # must be sendable as is


def test_parse_full_arguments() -> None:
    args = parse_shell_arguments(
        '{"command": ["bash", "-lc", "ls"], "workdir": "src", "timeout_ms": 1000}'
    )
    assert args == ShellArgs(command=["bash", "-lc", "ls"], workdir="src", timeout_ms=1000)


def test_parse_minimal_arguments() -> None:
    args = parse_shell_arguments('{"command": ["ls"]}')
    assert args.command == ["ls"]
    assert args.workdir is None
    assert args.timeout_ms is None


def test_fractional_timeout_is_rounded_up() -> None:
    assert parse_shell_arguments('{"command": ["ls"], "timeout_ms": 1500.2}').timeout_ms == 1501
    assert parse_shell_arguments('{"command": ["ls"], "timeout_ms": 2000.0}').timeout_ms == 2000


def test_unknown_fields_are_ignored() -> None:
    args = parse_shell_arguments('{"command": ["ls"], "justification": "look around"}')
    assert args.command == ["ls"]


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ("", "expected a JSON object"),
        ("not json", "not valid JSON"),
        ('{"command": ["ls"]', "not valid JSON"),
        ("[]", "expected a JSON object"),
        ('"ls"', "expected a JSON object"),
        ("{}", "command: Field required"),
        ('{"command": []}', "command: List should have at least 1 item"),
        ('{"command": [""]}', "the first element (the program to run) must not be empty"),
        ('{"command": ["  "]}', "must not be empty"),
        ('{"command": "ls -la"}', "command must be an array of strings, not a string"),
        ('{"command": ["ls", 3]}', "command.1: Input should be a valid string"),
        ('{"command": ["ls"], "timeout_ms": 0}', "timeout_ms: Input should be greater than 0"),
        ('{"command": ["ls"], "timeout_ms": -5}', "timeout_ms: Input should be greater than 0"),
        ('{"command": ["ls"], "timeout_ms": "soon"}', "timeout_ms: Input should be a valid"),
        ('{"command": ["ls"], "workdir": 7}', "workdir: Input should be a valid string"),
    ],
)
def test_parse_errors_tell_the_model_what_to_fix(arguments: str, expected: str) -> None:
    with pytest.raises(ToolArgumentError) as info:
        parse_shell_arguments(arguments)
    message = str(info.value)
    assert message.startswith("Invalid arguments for shell: ")
    assert expected in message
    assert '["bash", "-lc", "ls -la"]' in message  # always shows a correct call


def test_resolve_workdir(tmp_path: Path) -> None:
    assert resolve_workdir(tmp_path, None) == tmp_path
    assert resolve_workdir(tmp_path, "") == tmp_path
    assert resolve_workdir(tmp_path, "src") == tmp_path / "src"
    assert resolve_workdir(tmp_path, "src/../lib") == tmp_path / "lib"
    assert resolve_workdir(tmp_path, "/etc") == Path("/etc")
    assert resolve_workdir(tmp_path, "~").is_absolute()


def test_format_success() -> None:
    result = CommandResult(
        exit_code=0, output="a\nb\n", duration_s=0.123, timed_out=False, error=None
    )
    assert (
        format_result_for_model(result) == "Exit code: 0\nWall time: 0.1 seconds\nOutput:\na\nb\n"
    )


def test_format_failure_and_signal() -> None:
    text = format_result_for_model(CommandResult(2, "boom\n", 1.5, False, None))
    assert text.startswith("Exit code: 2\nWall time: 1.5 seconds\nOutput:\nboom")
    text = format_result_for_model(CommandResult(137, "", 0.01, False, None))
    assert text.startswith("Exit code: 137 (probably killed by SIGKILL)\n")
    assert "Wall time: 0.01 seconds" in text
    assert text.endswith("Output:\n(no output)")


def test_format_timeout() -> None:
    text = format_result_for_model(CommandResult(None, "partial\n", 10.02, True, None))
    assert "timed out" in text
    assert "killed after 10.0 seconds" in text
    assert text.endswith("Output:\npartial\n")


def test_format_error() -> None:
    text = format_result_for_model(CommandResult(127, "", 0.0, False, "command not found: foo"))
    assert text == "Exit code: 127\nError: command not found: foo\n"
    text = format_result_for_model(
        CommandResult(None, "", 0.0, False, "working directory does not exist: /x")
    )
    assert text == "Exit code: none\nError: working directory does not exist: /x\n"


def test_format_stopped() -> None:
    text = format_result_for_model(CommandResult(None, "x", 1.0, False, None))
    assert "stopped" in text

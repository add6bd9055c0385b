"""The tool definition, argument handling and the failure text the model reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentls.tools.patch import (
    APPLY_PATCH_TOOL,
    PatchError,
    format_patch_failure,
    parse_apply_patch_arguments,
    parse_patch,
    patch_from_shell_command,
    plan_from_arguments,
    plan_patch,
)
from agentls.tools.shell import SHELL_TOOL, ToolArgumentError

_PATCH = "*** Begin Patch\n*** Add File: a.txt\n+hi\n*** End Patch\n"


def test_tool_definition_has_the_shell_tool_shape() -> None:
    assert set(APPLY_PATCH_TOOL) == set(SHELL_TOOL)
    assert APPLY_PATCH_TOOL["name"] == "apply_patch"
    assert APPLY_PATCH_TOOL["parameters"]["required"] == ["input"]
    json.dumps(APPLY_PATCH_TOOL)
    description = APPLY_PATCH_TOOL["description"]
    for term in (
        "*** Begin Patch",
        "*** End Patch",
        "*** Add File:",
        "*** Delete File:",
        "*** Update File:",
        "*** Move to:",
        "@@ def",
        "*** End of File",
        "relative",
    ):
        assert term in description


def test_the_example_in_the_description_parses() -> None:
    description = APPLY_PATCH_TOOL["description"]
    example = description[description.index("Example:\n") + len("Example:\n") :]
    ops = parse_patch(example).ops
    assert [type(op).__name__ for op in ops] == ["AddFile", "UpdateFile", "DeleteFile"]


def test_arguments() -> None:
    assert parse_apply_patch_arguments(json.dumps({"input": _PATCH})) == _PATCH
    assert parse_apply_patch_arguments({"patch": _PATCH}) == _PATCH
    assert parse_apply_patch_arguments(_PATCH) == _PATCH
    with pytest.raises(ToolArgumentError, match="not valid JSON"):
        parse_apply_patch_arguments("{broken")
    with pytest.raises(ToolArgumentError, match="`input`"):
        parse_apply_patch_arguments(json.dumps({"input": ""}))


def test_shell_invocations_of_apply_patch_are_recognised() -> None:
    assert patch_from_shell_command(["apply_patch", _PATCH]) == _PATCH
    heredoc = f"apply_patch <<'EOF'\n{_PATCH}EOF\n"
    found = patch_from_shell_command(["bash", "-lc", heredoc])
    assert found is not None
    assert [op.path for op in parse_patch(found).ops] == ["a.txt"]
    assert patch_from_shell_command(["bash", "-lc", "ls -la"]) is None
    assert patch_from_shell_command(["apply_patch"]) is None


def test_failure_text_says_nothing_changed(tmp_path: Path) -> None:
    with pytest.raises(PatchError) as caught:
        parse_patch("*** Begin Patch\n*** Frobnicate: x\n*** End Patch")
    text = format_patch_failure(caught.value)
    assert text.startswith("apply_patch failed: line 2:")
    assert text.endswith("Nothing was changed.")
    (tmp_path / "a.txt").write_text("real\n")
    with pytest.raises(PatchError) as mismatch:
        plan_patch(
            parse_patch(
                "*** Begin Patch\n*** Update File: a.txt\n@@\n-imagined\n+x\n*** End Patch"
            ),
            tmp_path,
        )
    text = format_patch_failure(mismatch.value)
    assert text.startswith("apply_patch failed: hunk 1 of 1 for a.txt")
    assert text.count("Nothing was changed") == 1


def test_plan_from_arguments_and_unsaved_summary(tmp_path: Path) -> None:
    (tmp_path / "open.py").write_text("x = 1\n")
    plan = plan_from_arguments(
        json.dumps(
            {
                "input": "*** Begin Patch\n*** Update File: open.py\n"
                "@@\n-x = 1\n+x = 2\n*** End Patch"
            }
        ),
        tmp_path,
    )
    assert plan.summary(unsaved={tmp_path / "open.py"}) == (
        "Success. Updated the following files:\n"
        "M open.py (+1 -1) [applied in the editor, which has unsaved changes to it; not saved]"
    )
    with pytest.raises(ToolArgumentError):
        plan_from_arguments("{}", tmp_path)

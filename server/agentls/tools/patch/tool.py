"""The model-facing side of ``apply_patch``: its definition, arguments and failure text.

The language is the Codex CLI's, which OpenAI's coding models are trained on; the description
still spells it out, because other models see it for the first time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from pathlib import Path
from typing import Any

from agentls.tools.patch.grammar import PatchError, parse_patch
from agentls.tools.patch.plan import PatchPlan, ReadText, plan_patch
from agentls.tools.shell import ToolArgumentError

__all__ = [
    "APPLY_PATCH_TOOL",
    "format_patch_failure",
    "parse_apply_patch_arguments",
    "patch_from_shell_command",
    "plan_from_arguments",
]

_DESCRIPTION = """\
Edits files with a patch. Use it for every file change (create, edit, delete, rename) instead \
of shell commands. Pass the whole patch as `input`.

The patch language is a stripped-down, file-oriented diff:

*** Begin Patch
[one or more file sections]
*** End Patch

Each file section starts with one of these headers:
*** Add File: <path>      create a file; every following line is its content prefixed with +
*** Delete File: <path>   delete a file; nothing follows
*** Update File: <path>   change a file in place; may be followed by
*** Move to: <new path>   to rename it as well

An Update File section holds one or more hunks. Each hunk starts with a line `@@`, optionally \
followed by a line of the file that comes before the change, such as the enclosing function or \
class (`@@ def handle(self):`, `@@ class Parser`), to tell repeated code apart. Several `@@ ...` \
lines in a row narrow it down further. Then each line of the hunk starts with one character:
  ' ' (a space) a context line, unchanged; keep the space even when the line is empty
  '-'           a line removed
  '+'           a line added
Show about 3 context lines before and after each change, copied exactly from the file; if a \
change is within 3 lines of the previous one, do not repeat those lines. Hunks must come in \
the order they appear in the file. A hunk that must match the end of the file ends with the \
line `*** End of File`.

Paths are relative to the workspace root (never absolute). The patch is applied all or \
nothing: if any hunk does not match, no file changes and the output shows what the file has.

Example:
*** Begin Patch
*** Add File: docs/hello.txt
+Hello, world!
*** Update File: src/app.py
*** Move to: src/main.py
@@ def greet():
-    print("Hi")
+    print("Hello, world!")
*** Delete File: old_notes.txt
*** End Patch"""

APPLY_PATCH_TOOL: dict[str, Any] = {
    "type": "function",
    "name": "apply_patch",
    "description": _DESCRIPTION,
    "strict": False,
    "parameters": {
        "type": "object",
        "properties": {
            "input": {
                "type": "string",
                "description": "The entire patch, from '*** Begin Patch' to '*** End Patch'.",
            }
        },
        "required": ["input"],
        "additionalProperties": False,
    },
}

_EXAMPLE = '{"input": "*** Begin Patch\\n*** Add File: hello.txt\\n+Hello\\n*** End Patch\\n"}'


def parse_apply_patch_arguments(arguments: str | dict[str, Any]) -> str:
    """The patch text from the call's arguments; raises ``ToolArgumentError`` for the model.

    ``patch`` is taken for ``input``, and a bare patch string for a JSON object: both are
    mistakes models make, and refusing them would only cost a retry.
    """
    if isinstance(arguments, str):
        stripped = arguments.strip()
        if stripped.startswith("*** Begin Patch") or stripped.startswith("<<"):
            return arguments
        try:
            value: Any = json.loads(arguments)
        except json.JSONDecodeError as error:
            raise ToolArgumentError(
                f"apply_patch arguments are not valid JSON ({error.msg}); expected {_EXAMPLE}"
            ) from None
    else:
        value = arguments
    if isinstance(value, dict):
        for key in ("input", "patch"):
            text = value.get(key)
            if isinstance(text, str) and text.strip():
                return text
    raise ToolArgumentError(f"apply_patch needs the patch text as `input`, e.g. {_EXAMPLE}")


_SHELL_INVOCATION = re.compile(
    r"^\s*(?:cd\s+\S+\s*&&\s*)?(?:apply_patch|applypatch)\s+(<<-?\s*(['\"]?)(\w+)\2\s*\n.*)$",
    re.DOTALL,
)


def patch_from_shell_command(command: list[str]) -> str | None:
    """The patch, when a ``shell`` call is really ``apply_patch`` (as the Codex CLI invokes it).

    Models trained on the Codex CLI sometimes run ``["apply_patch", "<patch>"]`` or
    ``bash -lc "apply_patch <<'EOF' ... EOF"`` through the shell; routing those through the
    patch tool keeps approvals, diffs and the editor's buffers in the loop.
    """
    if len(command) == 2 and command[0] in ("apply_patch", "applypatch"):
        return command[1]
    if len(command) == 3 and command[0] in ("bash", "sh", "zsh") and command[1] in ("-lc", "-c"):
        match = _SHELL_INVOCATION.match(command[2])
        if match:
            return match.group(1)
    return None


def format_patch_failure(error: Exception) -> str:
    """The call's output when the patch was not applied: what went wrong, and that no file
    changed."""
    if isinstance(error, PatchError):
        text = str(error)
        if "Nothing was changed" in text:
            return text if text.startswith("apply_patch") else f"apply_patch failed: {text}"
        return f"apply_patch failed: {text}\nNothing was changed."
    return f"apply_patch failed: {error}"


def plan_from_arguments(
    arguments: str | dict[str, Any],
    workspace: Path,
    read_text: ReadText | None = None,
    *,
    defer_outside: bool = False,
    protected: Collection[Path] = (),
) -> PatchPlan:
    """Arguments to plan in one step; raises ``ToolArgumentError`` or ``PatchError``, both
    with a message meant as the call's output (through :func:`format_patch_failure`)."""
    return plan_patch(
        parse_patch(parse_apply_patch_arguments(arguments)),
        workspace,
        read_text,
        defer_outside=defer_outside,
        protected=protected,
    )

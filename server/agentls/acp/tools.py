"""How one agentls tool call looks in ACP: its title, kind, content and final status.

Shared by the live events (`updates`), the replayed history (`history`) and the permission
requests (`permissions`), so a call looks the same however the client first hears of it:
`shell` is `execute` (or `read`/`search` when it only reads), `apply_patch` is `edit` with
one `diff` per file, MCP tools are `fetch` or `other`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from acp.schema import (
    AgentPlanUpdate,
    ContentToolCallContent,
    FileEditToolCallContent,
    PlanEntry,
    PlanEntryStatus,
    TerminalToolCallContent,
    TextContentBlock,
    ToolCallLocation,
    ToolCallStatus,
    ToolKind,
)

from agentls.history.view import describe_command

__all__ = [
    "APPLY_PATCH",
    "OUTPUT_LIMIT",
    "SHELL",
    "UPDATE_PLAN",
    "USER_SHELL",
    "ReadOnlyCheck",
    "ToolContent",
    "ToolView",
    "call_view",
    "clip_output",
    "core_read_only",
    "diff_contents",
    "fenced",
    "final_status",
    "patch_changes",
    "plan_update",
    "result_content",
    "shell_kind",
    "text_content",
]

logger = logging.getLogger(__name__)

SHELL = "shell"
APPLY_PATCH = "apply_patch"
USER_SHELL = "user_shell"
UPDATE_PLAN = "update_plan"
MCP_PREFIX = "mcp__"

# What a client is sent of one call's output: the tail, since the end of a build or a test
# run is what a person reads first. The model and the rollout keep the whole output.
OUTPUT_LIMIT = 64_000
TITLE_LIMIT = 200

# The SDK's union of tool call content (this adapter makes no `terminal` content itself).
ToolContent = ContentToolCallContent | FileEditToolCallContent | TerminalToolCallContent
# Whether a command only reads, judged where it runs (the core's own classifier by default).
ReadOnlyCheck = Callable[[list[str], Path], bool]

# Programs whose read-only runs are searches or listings rather than reading one file.
_SEARCH_PROGRAMS = frozenset(
    {"rg", "grep", "egrep", "fgrep", "ag", "ack", "find", "fd", "fdfind", "locate", "ls", "tree"}
)
_SHELLS = frozenset({"bash", "sh", "zsh"})
_OPERATORS = frozenset({"|", "||", "&&", ";", "&", "(", ")", "|&", ";;"})
_FETCH_WORDS = ("fetch", "http", "url", "web", "browse", "download", "scrape")
_SEARCH_WORDS = ("search", "grep", "find", "query", "lookup")


@dataclass
class ToolView:
    """The parts of a `tool_call` that describe the call (not its progress)."""

    title: str
    kind: ToolKind
    content: list[ToolContent] = field(default_factory=list)
    locations: list[ToolCallLocation] = field(default_factory=list)
    raw_input: Any = None


# -- content helpers ---------------------------------------------------------------------
def text_content(text: str) -> ContentToolCallContent:
    return ContentToolCallContent(type="content", content=TextContentBlock(type="text", text=text))


_BACKTICK_RUNS = re.compile(r"`+")


def fenced(text: str, language: str = "") -> str:
    """`text` in a Markdown code fence longer than any backtick run inside it, so command
    output is shown as it is (clients render tool content as Markdown)."""
    longest = max((len(run) for run in _BACKTICK_RUNS.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    body = text if text.endswith("\n") else text + "\n"
    return f"{fence}{language}\n{body}{fence}"


def clip_output(text: str, limit: int = OUTPUT_LIMIT) -> str:
    """The last `limit` characters of `text`, saying how much was left out in front."""
    if len(text) <= limit:
        return text
    cut = len(text) - limit
    newline = text.find("\n", cut)
    if newline != -1 and newline - cut < 200:  # start on a whole line when one is near
        cut = newline + 1
    return f"[... {cut} earlier characters not shown ...]\n{text[cut:]}"


def final_status(status: str) -> ToolCallStatus:
    """agentls's `completed`/`failed`/`denied`/`aborted` in ACP's two end states."""
    return "completed" if status == "completed" else "failed"


def result_content(
    kind: ToolKind, status: str, output: str, exit_code: int | None = None
) -> list[ToolContent]:
    """What a finished call shows under its title (an edit's diffs are kept by the caller)."""
    if status == "denied":
        return [text_content("Denied by the user.")]
    if status == "aborted":
        shown = "" if output.strip() in ("", "aborted") else output
        parts: list[ToolContent] = [text_content("Stopped.")]
        if shown:
            parts.append(text_content(fenced(clip_output(shown))))
        return parts
    if kind == "edit":
        return [text_content(output)] if status != "completed" and output else []
    if kind in ("execute", "read", "search"):
        parts = [text_content(fenced(clip_output(output)))] if output else []
        if exit_code not in (None, 0):
            parts.append(text_content(f"Exit code: {exit_code}"))
        return parts
    return [text_content(clip_output(output))] if output else []


# -- shell -------------------------------------------------------------------------------
def _programs(argv: Sequence[str]) -> list[tuple[str, str | None]]:
    """(program, first argument) of each simple command of `argv`, as far as a quick look
    can tell; empty when the script cannot be split. Only for choosing an icon."""
    if len(argv) == 3 and argv[0] in _SHELLS and argv[1] in ("-c", "-lc"):
        try:
            lexer = shlex.shlex(argv[2], posix=True, punctuation_chars=True)
            lexer.whitespace_split = True
            words = list(lexer)
        except ValueError:
            return []
    else:
        words = list(argv)
    found: list[tuple[str, str | None]] = []
    expecting = True
    for index, word in enumerate(words):
        if word in _OPERATORS:
            expecting = True
            continue
        if expecting and "=" in word and not word.startswith("="):
            continue  # FOO=bar before the program
        if expecting:
            following = words[index + 1] if index + 1 < len(words) else None
            found.append((os.path.basename(word), following))
            expecting = False
    return found


def shell_kind(argv: Sequence[str], read_only: bool) -> ToolKind:
    """`execute`, or for a command that only reads, `search` (grep, find, ls...) or `read`."""
    if not read_only:
        return "execute"
    programs = [(p, a) for p, a in _programs(argv) if p != "cd"]
    if programs and all(
        p in _SEARCH_PROGRAMS or (p == "git" and a in ("grep", "ls-files")) for p, a in programs
    ):
        return "search"
    return "read"


def _title(text: str) -> str:
    first = text.strip().split("\n", 1)[0]
    if len(first) > TITLE_LIMIT:
        return first[: TITLE_LIMIT - 1] + "…"
    return first + (" …" if "\n" in text.strip() else "")


def _shell_view(
    name: str, args: Any, cwd: Path, read_only: bool | None, check: ReadOnlyCheck | None
) -> ToolView:
    argv = _argv(args)
    if argv is None:
        return ToolView(title=name, kind="execute", raw_input=args)
    if name == USER_SHELL:
        read_only = False  # the user's own command: shown as what it is, a run
    elif read_only is None:
        workdir = args.get("workdir") if isinstance(args, dict) else None
        where = cwd / workdir if isinstance(workdir, str) else cwd
        read_only = _judged(check, argv, where)
    command = describe_command(argv)
    return ToolView(title=_title(command), kind=shell_kind(argv, read_only), raw_input=args)


def _judged(check: ReadOnlyCheck | None, argv: list[str], cwd: Path) -> bool:
    """The check's answer; a check that fails counts as "may write" (an icon is not worth
    losing the update over)."""
    if check is None:
        return False
    try:
        return check(argv, cwd)
    except Exception:
        logger.debug("could not judge %r", argv, exc_info=True)
        return False


def _argv(args: Any) -> list[str] | None:
    command = args.get("command") if isinstance(args, dict) else None
    if isinstance(command, list) and command and all(isinstance(a, str) for a in command):
        return list(command)
    if isinstance(command, str) and command:
        return ["bash", "-lc", command]
    return None


# -- apply_patch -------------------------------------------------------------------------
def _absolute(path: str, cwd: Path) -> str:
    """ACP wants absolute paths; agentls's changes name them relative to the workspace."""
    return os.path.normpath(path if os.path.isabs(path) else os.path.join(cwd, path))


def _sides_of_diff(diff: str) -> tuple[str, str]:
    """Old and new text of a unified diff's hunks (context kept on both sides).

    Hunks are joined with a `⋯` line on both sides, so a client shows the gap between them
    as unchanged text rather than as one block.
    """
    old_hunks: list[list[str]] = []
    new_hunks: list[list[str]] = []
    for line in diff.splitlines():
        if line.startswith("@@"):
            old_hunks.append([])
            new_hunks.append([])
        elif not old_hunks or line.startswith("\\"):
            continue  # file headers before the first hunk; "\ No newline at end of file"
        elif line.startswith("-"):
            old_hunks[-1].append(line[1:])
        elif line.startswith("+"):
            new_hunks[-1].append(line[1:])
        else:
            text = line[1:] if line.startswith(" ") else line
            old_hunks[-1].append(text)
            new_hunks[-1].append(text)

    def join(hunks: list[list[str]]) -> str:
        text = "\n⋯\n".join("\n".join(lines) for lines in hunks)
        return text + "\n" if text else ""

    return join(old_hunks), join(new_hunks)


def diff_contents(changes: Sequence[Mapping[str, Any]], cwd: Path) -> list[FileEditToolCallContent]:
    """One ACP `diff` per changed file.

    A change with `oldText`/`newText` (whole files, when the core has them) is shown as it
    is; one with only agentls's unified `diff` shows its hunks (context and changed lines).
    A moved file is shown at its new path.
    """
    contents: list[FileEditToolCallContent] = []
    for change in changes:
        path = change.get("movePath") or change.get("path")
        if not isinstance(path, str) or not path:
            continue
        kind = change.get("kind")
        old = change.get("oldText")
        new = change.get("newText")
        if not isinstance(new, str):
            diff = change.get("diff")
            old, new = _sides_of_diff(diff) if isinstance(diff, str) else ("", "")
        if kind == "add":
            old = None
        elif kind == "delete":
            new = ""
        contents.append(
            FileEditToolCallContent(
                type="diff",
                path=_absolute(path, cwd),
                old_text=old if isinstance(old, str) else None,
                new_text=new,
            )
        )
    return contents


def _patch_title(changes: Sequence[Mapping[str, Any]]) -> tuple[str, ToolKind]:
    if not changes:
        return "Apply a patch", "edit"
    names = []
    for change in changes[:3]:
        path = str(change.get("path", ""))
        move = change.get("movePath")
        names.append(f"{path} → {move}" if isinstance(move, str) else path)
    more = f" and {len(changes) - 3} more" if len(changes) > 3 else ""
    kinds = {change.get("kind") for change in changes}
    if kinds == {"delete"}:
        return f"Delete {', '.join(names)}{more}", "delete"
    if kinds == {"add"}:
        return f"Create {', '.join(names)}{more}", "edit"
    return f"Edit {', '.join(names)}{more}", "edit"


def _patch_view(args: Any, changes: Sequence[Mapping[str, Any]] | None, cwd: Path) -> ToolView:
    if changes is None:
        changes = patch_changes(_patch_text(args) or "")
    title, kind = _patch_title(changes)
    locations = [
        ToolCallLocation(path=_absolute(str(change.get("movePath") or change["path"]), cwd))
        for change in changes
        if isinstance(change.get("path"), str)
    ]
    return ToolView(
        title=title,
        kind=kind,
        content=list(diff_contents(changes, cwd)),
        locations=locations,
        raw_input=args,
    )


def _patch_text(args: Any) -> str | None:
    if isinstance(args, str):
        return args
    if isinstance(args, dict):
        for key in ("input", "patch"):
            if isinstance(args.get(key), str):
                return str(args[key])
    return None


def patch_changes(patch_text: str) -> list[dict[str, Any]]:
    """The files a patch text touches, in the form of `toolCallStarted.changes` but with
    `oldText`/`newText` of its hunks: how a saved `apply_patch` call is replayed, when the
    files as they were are long gone. An unreadable patch gives no changes."""
    from agentls.tools.patch import PatchError, parse_patch
    from agentls.tools.patch.grammar import AddFile, DeleteFile

    try:
        patch = parse_patch(patch_text)
    except PatchError:
        return []
    changes: list[dict[str, Any]] = []
    for op in patch.ops:
        if isinstance(op, AddFile):
            changes.append(
                {"path": op.path, "kind": "add", "oldText": None, "newText": op.contents}
            )
        elif isinstance(op, DeleteFile):
            changes.append({"path": op.path, "kind": "delete", "oldText": "", "newText": ""})
        else:
            old = "\n⋯\n".join("\n".join(chunk.old_lines) for chunk in op.chunks)
            new = "\n⋯\n".join("\n".join(chunk.new_lines) for chunk in op.chunks)
            change: dict[str, Any] = {
                "path": op.path,
                "kind": "update",
                "oldText": old + "\n" if old else "",
                "newText": new + "\n" if new else "",
            }
            if op.move_path is not None:
                change["movePath"] = op.move_path
            changes.append(change)
    return changes


# -- MCP and the rest --------------------------------------------------------------------
def _mcp_kind(tool: str) -> ToolKind:
    lowered = tool.lower()
    if any(word in lowered for word in _FETCH_WORDS):
        return "fetch"
    if any(word in lowered for word in _SEARCH_WORDS):
        return "search"
    return "other"


def _mcp_view(name: str, args: Any, mcp: Mapping[str, Any] | None) -> ToolView:
    if mcp is not None and isinstance(mcp.get("server"), str) and isinstance(mcp.get("tool"), str):
        server, tool = str(mcp["server"]), str(mcp["tool"])
    else:  # mcp__<server>__<tool>, as the model names it
        server, _, tool = name[len(MCP_PREFIX) :].partition("__")
    return ToolView(title=f"{server}: {tool}", kind=_mcp_kind(tool), raw_input=args)


def _parse_arguments(arguments: str) -> Any:
    try:
        return json.loads(arguments)
    except (ValueError, TypeError):
        return arguments


def call_view(
    name: str,
    arguments: str,
    cwd: Path,
    *,
    changes: Sequence[Mapping[str, Any]] | None = None,
    mcp: Mapping[str, Any] | None = None,
    read_only: bool | None = None,
    check: ReadOnlyCheck | None = None,
) -> ToolView:
    """How the call `name(arguments)` is shown.

    `changes` (from `toolCallStarted`) makes it an edit, whatever the tool: a `shell` call
    that is really `apply_patch <<EOF` goes through the patch tool. `read_only` is the
    core's judgement of a shell command when the event carries it; otherwise `check` is
    asked, and without either a command counts as `execute`.
    """
    args = _parse_arguments(arguments)
    if changes is not None or name == APPLY_PATCH:
        return _patch_view(args, changes, cwd)
    if name in (SHELL, USER_SHELL):
        return _shell_view(name, args, cwd, read_only, check)
    if mcp is not None or name.startswith(MCP_PREFIX):
        return _mcp_view(name, args, mcp)
    if name == UPDATE_PLAN:
        return ToolView(title="Update the plan", kind="think", raw_input=args)
    return ToolView(title=name or "tool", kind="other", raw_input=args)


def plan_update(arguments: str | Mapping[str, Any]) -> AgentPlanUpdate | None:
    """The ACP `plan` of an `update_plan` call's arguments or a `plan` event
    (`{explanation?, plan: [{step, status}]}`); None when it holds no plan."""
    args = _parse_arguments(arguments) if isinstance(arguments, str) else arguments
    steps = args.get("plan") if isinstance(args, Mapping) else None
    if not isinstance(steps, list):
        return None
    entries: list[PlanEntry] = []
    for step in steps:
        if not isinstance(step, Mapping) or not isinstance(step.get("step"), str):
            continue
        raw = step.get("status")
        status: PlanEntryStatus = (
            raw if raw in ("pending", "in_progress", "completed") else "pending"
        )
        entries.append(PlanEntry(content=step["step"], priority="medium", status=status))
    return AgentPlanUpdate(session_update="plan", entries=entries)


def core_read_only(argv: list[str], cwd: Path | None) -> bool:
    """The core's own judgement (bash's grammar) of whether a command only reads: the one
    the `ask-unsafe` policy runs commands unasked by, so the icon and the policy agree."""
    from agentls.tools.safety import is_read_only

    return is_read_only(argv, cwd)

"""`apply_patch` in a turn, without LSP: what is asked whatever was approved, what is never
read before the user's yes, and bad targets as tool errors planned off the loop."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from agentls.agent.approvals import ApprovalRequest, Decision
from agentls.agent.calls import patch as patch_call
from agentls.agent.calls.patch import PatchCall, PatchTool
from agentls.agent.context import AgentContext
from agentls.agent.tools import ToolOutcome
from agentls.config.settings import ApprovalPolicy, Settings


class Scope:
    """One call's scope: records the questions, answers them with ``decision``."""

    call_id = "call_1"
    turn_id = "turn_1"
    session_id = "session_1"

    def __init__(self, decision: Decision = "approve") -> None:
        self.decision = decision
        self.asked: list[ApprovalRequest] = []

    def emit(self, event_type: str, **fields: Any) -> None:
        return None

    async def approve(self, request: ApprovalRequest) -> Decision:
        self.asked.append(request)
        return self.decision


async def _no_model(_request: Any) -> Any:
    raise AssertionError("no model in these tests")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    folder = tmp_path / "ws"
    folder.mkdir()
    return folder


def _tool(
    tmp_path: Path, workspace: Path, policy: ApprovalPolicy = ApprovalPolicy.ASK_UNSAFE
) -> PatchTool:
    settings = Settings(home=tmp_path / "home", approval=policy)
    context = AgentContext(settings=settings, workspace=workspace, model_stream=_no_model)
    return PatchTool(context, set())


def _args(body: str) -> str:
    return json.dumps({"input": f"*** Begin Patch\n{body}*** End Patch\n"})


async def _run(tool: PatchTool, body: str, scope: Scope) -> ToolOutcome:
    prepared = await tool.prepare(_args(body))
    if isinstance(prepared, ToolOutcome):
        return prepared
    return await prepared.run(scope)


async def test_git_directories_are_asked_even_after_approve_for_session(
    tmp_path: Path, workspace: Path
) -> None:
    (workspace / ".git" / "hooks").mkdir(parents=True)
    (workspace / ".git" / "config").write_text("[core]\n")
    (workspace / "pkg" / ".git").mkdir(parents=True)
    (workspace / "pkg" / ".git" / "config").write_text("[core]\n")
    tool = _tool(tmp_path, workspace)
    first = Scope("approveForSession")
    assert (await _run(tool, "*** Add File: a.txt\n+harmless\n", first)).status == "completed"
    assert len(first.asked) == 1 and tool.session_approval == {"patch"}
    quiet = Scope()
    assert (await _run(tool, "*** Add File: b.txt\n+still fine\n", quiet)).status == "completed"
    assert quiet.asked == []  # the session's approval holds for ordinary files
    for body in (
        "*** Update File: .git/config\n@@\n [core]\n+\tfsmonitor = /tmp/evil\n",
        "*** Update File: pkg/.git/config\n@@\n [core]\n+\tfsmonitor = /tmp/evil\n",
        "*** Add File: .git/hooks/pre-commit\n+#!/bin/sh\n+touch /tmp/owned\n",
    ):
        scope = Scope("deny")
        outcome = await _run(tool, body, scope)
        assert outcome.status == "denied", body
        (asked,) = scope.asked
        assert "inside a git directory" in (asked.reason or "")
    assert "fsmonitor" not in (workspace / ".git" / "config").read_text()
    assert not (workspace / ".git" / "hooks" / "pre-commit").exists()


async def test_git_directories_are_asked_under_never_ask_and_never_approved_for_the_session(
    tmp_path: Path, workspace: Path
) -> None:
    tool = _tool(tmp_path, workspace, ApprovalPolicy.NEVER_ASK)
    scope = Scope("approveForSession")
    outcome = await _run(tool, "*** Add File: .git/hooks/post-checkout\n+x\n", scope)
    assert outcome.status == "completed" and len(scope.asked) == 1
    assert tool.session_approval == set()


async def test_the_question_names_where_a_link_really_writes(
    tmp_path: Path, workspace: Path
) -> None:
    (workspace / "real.txt").write_text("old\n")
    (workspace / "alias.txt").symlink_to("real.txt")
    tool = _tool(tmp_path, workspace, ApprovalPolicy.ALWAYS_ASK)
    scope = Scope("deny")
    await _run(tool, "*** Update File: alias.txt\n@@\n-old\n+new\n", scope)
    (asked,) = scope.asked
    assert f"alias.txt (a link to {workspace / 'real.txt'})" in (asked.reason or "")
    assert asked.changes is not None
    assert asked.changes[0]["realPath"] == str(workspace / "real.txt")


async def test_nothing_outside_is_read_before_the_yes(
    tmp_path: Path, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("password = hunter2\n")
    (workspace / "config.txt").symlink_to(secret)
    read: list[tuple[Path, bool]] = []
    real_read = patch_call.read_disk_text

    def spy(path: Path) -> str | None:
        read.append((path, bool(asked)))
        return real_read(path)

    monkeypatch.setattr(patch_call, "read_disk_text", spy)
    asked: list[ApprovalRequest] = []

    class Watching(Scope):
        async def approve(self, request: ApprovalRequest) -> Decision:
            asked.append(request)
            return "approve"

    tool = _tool(tmp_path, workspace, ApprovalPolicy.NEVER_ASK)
    body = "*** Update File: config.txt\n@@\n-password = hunter2\n+password = changed\n"
    prepared = await tool.prepare(_args(body))
    assert isinstance(prepared, PatchCall)
    assert "hunter2" in json.dumps(prepared.started_fields)  # the patch's own lines only
    assert read == []
    outcome = await prepared.run(Watching())
    assert outcome.status == "completed", outcome.output
    (question,) = asked
    assert f"a link to {secret}" in (question.reason or "")
    assert "read only after you approve" in (question.reason or "")
    assert read == [(workspace / "config.txt", True)]
    assert secret.read_text() == "password = changed\n"


async def test_a_denied_outside_patch_reads_nothing(
    tmp_path: Path, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    read: list[Path] = []
    monkeypatch.setattr(patch_call, "read_disk_text", lambda path: read.append(path))
    tool = _tool(tmp_path, workspace, ApprovalPolicy.NEVER_ASK)
    outside = tmp_path / "outside.txt"
    outside.write_text("private\n")
    body = f"*** Update File: {outside}\n@@\n-x\n+y\n*** Delete File: ../outside.txt\n"
    outcome = await _run(tool, body, Scope("deny"))
    assert outcome.status == "denied" and read == []


async def test_a_failed_hunk_outside_after_the_yes_shows_no_lines(
    tmp_path: Path, workspace: Path
) -> None:
    (tmp_path / "outside.txt").write_text("private line\n")
    tool = _tool(tmp_path, workspace)
    outcome = await _run(tool, "*** Update File: ../outside.txt\n@@\n-nope\n+x\n", Scope())
    assert outcome.status == "failed"
    assert "private line" not in outcome.output and "Nothing was changed" in outcome.output


async def test_a_link_that_changes_while_asked_is_not_followed(
    tmp_path: Path, workspace: Path
) -> None:
    (tmp_path / "a.txt").write_text("x\n")
    (tmp_path / "b.txt").write_text("x\n")
    link = workspace / "l.txt"
    link.symlink_to(tmp_path / "a.txt")

    class Swapping(Scope):
        async def approve(self, request: ApprovalRequest) -> Decision:
            link.unlink()
            link.symlink_to(tmp_path / "b.txt")
            return "approve"

    outcome = await _run(
        _tool(tmp_path, workspace), "*** Update File: l.txt\n@@\n-x\n+y\n", Swapping()
    )
    assert outcome.status == "failed" and "link" in outcome.output
    assert (tmp_path / "a.txt").read_text() == (tmp_path / "b.txt").read_text() == "x\n"


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("*** Update File: pipe\n@@\n-x\n+y\n", "FIFO"),
        ("*** Update File: /dev/zero\n@@\n-x\n+y\n", "/proc, /sys or /dev"),
        ("*** Update File: /dev/stdin\n@@\n-x\n+y\n", "/proc, /sys or /dev"),
        ("*** Update File: environ-link\n@@\n-x\n+y\n", "/proc, /sys or /dev"),
        ("*** Update File: null-link\n@@\n-x\n+y\n", "character device"),
        ("*** Add File: a\0b\n+x\n", "NUL"),
        ("*** Add File: " + "n" * 300 + "\n+x\n", "over 255 bytes"),
    ],
)
async def test_bad_targets_are_tool_errors(
    tmp_path: Path, workspace: Path, body: str, why: str
) -> None:
    os.mkfifo(workspace / "pipe")
    (workspace / "environ-link").symlink_to("/proc/self/environ")
    (workspace / "null-link").symlink_to("/dev/null")
    outcome = await asyncio.wait_for(_run(_tool(tmp_path, workspace), body, Scope()), 10)
    assert outcome.status == "failed" and why in outcome.output, outcome.output
    assert "Nothing was changed" in outcome.output


async def test_the_state_folder_is_refused_with_a_clear_error(
    tmp_path: Path, workspace: Path
) -> None:
    tool = _tool(tmp_path, workspace, ApprovalPolicy.NEVER_ASK)
    home = tool.context.settings.home
    scope = Scope()
    outcome = await _run(
        tool, f"*** Add File: {home}/config.toml\n+approval = 'never-ask'\n", scope
    )
    assert outcome.status == "failed" and "agentls's own state folder" in outcome.output
    assert scope.asked == [] and not (home / "config.toml").exists()


async def test_planning_runs_off_the_loop(
    tmp_path: Path, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (workspace / "a.txt").write_text("x\n")
    threads: list[int] = []
    real_read = patch_call.read_disk_text

    def spy(path: Path) -> str | None:
        threads.append(threading.get_ident())
        return real_read(path)

    monkeypatch.setattr(patch_call, "read_disk_text", spy)
    tool = _tool(tmp_path, workspace, ApprovalPolicy.NEVER_ASK)
    outcome = await _run(tool, "*** Update File: a.txt\n@@\n-x\n+y\n", Scope())
    assert outcome.status == "completed"
    assert threads and threading.get_ident() not in threads


async def test_a_hung_read_ends_the_call_not_the_server(
    tmp_path: Path, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    monkeypatch.setattr(patch_call, "read_disk_text", lambda _path: release.wait(10) and None)
    monkeypatch.setattr(patch_call, "PLAN_TIMEOUT_S", 0.2)
    tool = _tool(tmp_path, workspace, ApprovalPolicy.NEVER_ASK)
    try:
        outcome = await _run(tool, "*** Update File: a.txt\n@@\n-x\n+y\n", Scope())
    finally:
        release.set()
    assert outcome.status == "failed" and "took longer than 0.2 s" in outcome.output


async def test_the_editor_is_asked_only_about_plain_workspace_files(
    tmp_path: Path, workspace: Path
) -> None:
    from agentls.agent.editor import Buffer, NoEditor

    os.mkfifo(workspace / "pipe")
    (workspace / "a.txt").write_text("x\n")
    (workspace / "out.txt").symlink_to(tmp_path / "outside.txt")
    (tmp_path / "outside.txt").write_text("x\n")
    asked: list[Path] = []
    fetched: list[list[Path]] = []

    class Watching(NoEditor):
        reads_ahead = True

        def buffer(self, path: Path) -> Buffer | None:
            asked.append(path)
            return None

        async def read_ahead(self, paths: list[Path]) -> None:
            fetched.append(list(paths))

    tool = _tool(tmp_path, workspace, ApprovalPolicy.NEVER_ASK)
    tool.context.editor = Watching()
    body = "*** Update File: a.txt\n@@\n-x\n+y\n*** Update File: pipe\n@@\n-x\n+y\n"
    await tool.read_ahead(_args(body))
    outcome = await _run(tool, body, Scope())
    assert outcome.status == "failed" and "FIFO" in outcome.output
    assert fetched == [[workspace / "a.txt"]] and workspace / "pipe" not in asked
    asked.clear()
    fetched.clear()
    body = "*** Update File: a.txt\n@@\n-x\n+y\n*** Update File: out.txt\n@@\n-x\n+y\n"
    await tool.read_ahead(_args(body))
    prepared = await tool.prepare(_args(body))
    assert isinstance(prepared, PatchCall)
    assert fetched == [[workspace / "a.txt"]] and asked == [workspace / "a.txt"]
    outcome = await prepared.run(Scope())  # approved: now the outside file is fetched too
    assert outcome.status == "completed", outcome.output
    assert fetched[-1] == [workspace / "a.txt", workspace / "out.txt"]

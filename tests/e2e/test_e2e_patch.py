"""`apply_patch` through the real server: diffs before and after, approvals, stops, failed
hunks, paths outside the workspace, unsaved buffers, and changes made by commands."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fixtures.fake_api import FakeModelAPI, Reply, TextItem, patch_call
from fixtures.patches import load_scenario, snapshot
from lsprotocol import types
from tests.e2e.conftest import Starter
from tests.e2e.harness import Agent

NEVER = {"approval": "never-ask"}


def patch_turn(patch: str) -> str:
    return "patch:\n" + patch


@pytest.mark.parametrize("wire", ["responses", "chat"])
async def test_a_patch_applies_with_its_diff_shown_before_and_after(
    start: Starter, api: FakeModelAPI, workspace: Path, wire: str
) -> None:
    scenario = load_scenario("update_two_hunks")
    scenario.copy_input(workspace)
    agent = await start(init_options={**NEVER, "wireApi": wire})
    result = await agent.send(patch_turn(scenario.patch))
    assert result["status"] == "completed", result
    assert snapshot(workspace) == scenario.expected()
    started = await agent.wait_event("toolCallStarted")
    assert started["name"] == "apply_patch"
    assert started["changes"] and started["changes"][0]["kind"] == "update"
    assert started["changes"][0]["diff"].startswith("--- a/")
    completed = await agent.wait_event("toolCallCompleted")
    assert completed["status"] == "completed"
    assert "Success" in completed["output"]
    diff = await agent.wait_event("turnDiff")
    assert diff["files"] and diff["files"][0]["added"] > 0
    assert api.rejected == []


async def test_denied_patch_leaves_the_disk_alone(
    start: Starter, api: FakeModelAPI, workspace: Path
) -> None:
    scenario = load_scenario("update_two_hunks")
    scenario.copy_input(workspace)
    before = snapshot(workspace)
    agent = await start(init_options={"approval": "always-ask"})
    agent.decide = lambda _p: {"decision": "deny"}
    result = await agent.send(patch_turn(scenario.patch))
    assert result["status"] == "completed"
    assert snapshot(workspace) == before
    asked = agent.approval_requests[0]
    assert asked["kind"] == "patch" and asked["changes"][0]["diff"]
    completed = await agent.wait_event("toolCallCompleted")
    assert completed["status"] == "denied"


async def test_stop_while_a_patch_approval_waits(
    start: Starter, api: FakeModelAPI, workspace: Path
) -> None:
    scenario = load_scenario("update_two_hunks")
    scenario.copy_input(workspace)
    before = snapshot(workspace)
    agent = await start(init_options={"approval": "always-ask"})
    asked = asyncio.Event()

    async def wait_forever(_params: dict[str, Any]) -> Any:
        asked.set()
        await asyncio.sleep(60)

    agent.decide = wait_forever
    msg_id, pending = agent.start("agent/send", {"text": patch_turn(scenario.patch)})
    await asyncio.wait_for(asked.wait(), 15)
    agent.cancel(msg_id)
    result = await asyncio.wait_for(pending, 15)
    assert result["status"] == "interrupted"
    assert snapshot(workspace) == before
    assert (await agent.send("next"))["status"] == "completed"
    assert api.rejected == []


async def test_a_failed_second_hunk_changes_nothing_and_the_turn_goes_on(
    start: Starter, api: FakeModelAPI, workspace: Path
) -> None:
    scenario = load_scenario("failing_second_hunk")
    scenario.copy_input(workspace)
    before = snapshot(workspace)
    agent = await start(init_options=NEVER)
    api.enqueue(Reply([patch_call(scenario.patch)]), Reply([TextItem("I will look again")]))
    result = await agent.send("change both files")
    assert result["status"] == "completed"
    assert snapshot(workspace) == before
    completed = await agent.wait_event("toolCallCompleted")
    assert completed["status"] == "failed"
    assert scenario.error and scenario.error.strip() in completed["output"]
    output = api.requests[1]["input"][-1]["output"]
    assert "Nothing was changed" in output


async def test_a_path_outside_the_workspace_is_asked_whatever_the_policy(
    start: Starter, api: FakeModelAPI, workspace: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.txt"
    agent = await start(init_options=NEVER)
    agent.decide = lambda _p: {"decision": "deny"}
    patch = "*** Begin Patch\n*** Add File: ../outside.txt\n+escaped\n*** End Patch\n"
    result = await agent.send(patch_turn(patch))
    assert result["status"] == "completed"
    assert len(agent.approval_requests) == 1
    assert not outside.exists()


async def test_changes_made_by_commands_are_in_the_turn_diff(
    start: Starter, api: FakeModelAPI, workspace: Path
) -> None:
    (workspace / "kept.txt").write_text("one\n")
    agent = await start(init_options={**NEVER, "sandbox": "off"})
    result = await agent.send("run: echo two >> kept.txt && echo new > made.txt")
    assert result["status"] == "completed"
    diff = await agent.wait_event("turnDiff")
    paths = {f["path"] for f in diff["files"]}
    assert paths == {"kept.txt", "made.txt"}
    assert "+two" in diff["diff"]


async def test_unsaved_buffer_is_edited_in_the_editor(
    start: Starter, api: FakeModelAPI, workspace: Path
) -> None:
    target = workspace / "notes.txt"
    target.write_text("alpha\nbeta\n")
    capabilities = types.ClientCapabilities(
        workspace=types.WorkspaceClientCapabilities(apply_edit=True)
    )
    agent = await start(init_options=NEVER, capabilities=capabilities)
    edits: list[types.ApplyWorkspaceEditParams] = []

    @agent.client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        edits.append(params)
        return types.ApplyWorkspaceEditResult(applied=True)

    uri = target.as_uri()
    agent.client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="plaintext", version=1, text="alpha\nbeta\n"
            )
        )
    )
    agent.client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(
                        start=types.Position(line=1, character=0),
                        end=types.Position(line=1, character=4),
                    ),
                    text="BETA typed but not saved",
                )
            ],
        )
    )
    patch = (
        "*** Begin Patch\n*** Update File: notes.txt\n@@\n alpha\n"
        "-BETA typed but not saved\n+beta from the model\n*** End Patch\n"
    )
    result = await agent.send(patch_turn(patch))
    assert result["status"] == "completed", result
    assert target.read_text() == "alpha\nbeta\n"  # the disk is the user's to save
    assert len(edits) == 1
    change = edits[0].edit.document_changes[0]  # type: ignore[index]
    (edit,) = change.edits  # type: ignore[union-attr]
    # one line replaced: the untouched line (and the cursor on it) stays where it was
    assert edit.range.start.line == 1 and edit.range.end.line == 2
    assert edit.new_text == "beta from the model\n"
    completed = await agent.wait_event("toolCallCompleted")
    assert "unsaved" in completed["output"]
    assert "unsaved" in api.requests[-1]["input"][-1]["output"]


async def test_an_editor_without_apply_edit_gets_a_clear_failure(
    agent: Agent, api: FakeModelAPI, workspace: Path
) -> None:
    target = workspace / "notes.txt"
    target.write_text("alpha\n")
    agent.client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=target.as_uri(), language_id="plaintext", version=1, text="ALPHA unsaved\n"
            )
        )
    )
    patch = "*** Begin Patch\n*** Update File: notes.txt\n@@\n-ALPHA unsaved\n+x\n*** End Patch\n"
    agent.decide = lambda _p: {"decision": "approve"}
    result = await agent.send(patch_turn(patch))
    assert result["status"] == "completed"
    completed = await agent.wait_event("toolCallCompleted")
    assert completed["status"] == "failed"
    assert "workspace/applyEdit" in completed["output"]
    assert target.read_text() == "alpha\n"


async def test_apply_patch_through_the_shell_goes_through_the_patch_tool(
    start: Starter, api: FakeModelAPI, workspace: Path
) -> None:
    agent = await start(init_options={"approval": "always-ask"})
    agent.decide = lambda _p: {"decision": "approve"}
    script = (
        "apply_patch <<'EOF'\n*** Begin Patch\n*** Add File: via-shell.txt\n+hi\n*** End Patch\nEOF"
    )
    result = await agent.send(f"run: {script}")
    assert result["status"] == "completed"
    assert (workspace / "via-shell.txt").read_text() == "hi\n"
    assert agent.approval_requests[0]["kind"] == "patch"
    started = await agent.wait_event("toolCallStarted")
    assert started["changes"][0]["path"].endswith("via-shell.txt")


def last_output(api: FakeModelAPI) -> str:
    """What the model was told the last call did."""
    output: str = api.requests[-1]["input"][-1]["output"]
    return output


async def answers_again(agent: Agent) -> None:
    """The server still serves: another request is answered at once."""
    listed = await asyncio.wait_for(agent.request("agent/listSessions", {}), 5)
    assert "sessions" in listed


async def test_git_files_are_asked_even_after_approve_for_session(
    start: Starter, api: FakeModelAPI, workspace: Path
) -> None:
    subprocess.run(["git", "init", "-q", str(workspace)], check=True)  # noqa: ASYNC221
    subprocess.run(["git", "init", "-q", str(workspace / "pkg")], check=True)  # noqa: ASYNC221
    config = (workspace / ".git" / "config").read_text()
    agent = await start()
    agent.decide = lambda _p: {"decision": "approveForSession"}
    harmless = "*** Begin Patch\n*** Add File: notes.txt\n+hello\n*** End Patch\n"
    assert (await agent.send(patch_turn(harmless)))["status"] == "completed"
    assert (workspace / "notes.txt").exists() and len(agent.approval_requests) == 1
    agent.decide = lambda _p: {"decision": "deny"}
    fsmonitor = "@@\n [core]\n+\tfsmonitor = touch /tmp/agentls-owned\n"
    for target in (".git/config", "pkg/.git/config"):
        patch = f"*** Begin Patch\n*** Update File: {target}\n{fsmonitor}*** End Patch\n"
        await agent.send(patch_turn(patch))
    hook = "*** Begin Patch\n*** Add File: .git/hooks/pre-commit\n+#!/bin/sh\n+id\n*** End Patch\n"
    await agent.send(patch_turn(hook))
    asked = agent.approval_requests[1:]
    assert len(asked) == 3
    assert all("inside a git directory" in request["reason"] for request in asked)
    assert (workspace / ".git" / "config").read_text() == config
    assert "fsmonitor" not in (workspace / "pkg" / ".git" / "config").read_text()
    assert not (workspace / ".git" / "hooks" / "pre-commit").exists()
    # the session's approval still covers ordinary files
    other = "*** Begin Patch\n*** Add File: more.txt\n+x\n*** End Patch\n"
    assert (await agent.send(patch_turn(other)))["status"] == "completed"
    assert len(agent.approval_requests) == 4 and (workspace / "more.txt").exists()


async def test_special_and_bad_targets_are_tool_errors_and_the_server_goes_on(
    start: Starter, api: FakeModelAPI, workspace: Path
) -> None:
    os.mkfifo(workspace / "pipe")
    listening = socket.socket(socket.AF_UNIX)
    listening.bind(str(workspace / "sock"))
    (workspace / "input").symlink_to("/proc/self/fd/0")  # the LSP's own input pipe
    (workspace / "env").symlink_to("/proc/self/environ")
    with (workspace / "huge.txt").open("wb") as out:
        out.truncate(1 << 30)  # sparse: 1 GiB on no disk
    agent = await start(init_options=NEVER)
    cases = {
        "pipe": "FIFO",
        "sock": "socket",
        "/dev/zero": "/proc, /sys or /dev",
        "/dev/stdin": "/proc, /sys or /dev",
        "input": "FIFO",
        "env": "/proc, /sys or /dev",
        "a\0b.txt": "NUL",
        "n" * 300: "over 255 bytes",
        "huge.txt": "larger than 16 MiB",
    }
    try:
        for target, why in cases.items():
            patch = f"*** Begin Patch\n*** Update File: {target}\n@@\n-x\n+y\n*** End Patch\n"
            result = await agent.send(patch_turn(patch))
            assert result["status"] == "completed", (target, result)
            output = last_output(api)
            assert why in output and "Nothing was changed" in output, (target, output)
            await answers_again(agent)
    finally:
        listening.close()
    failed = [e for e in agent.events if e["type"] == "toolCallCompleted"]
    assert [e["status"] for e in failed] == ["failed"] * len(cases)


async def test_a_patch_into_the_state_folder_is_refused(
    start: Starter, api: FakeModelAPI, workspace: Path, home: Path
) -> None:
    agent = await start(init_options=NEVER)
    patch = f"*** Begin Patch\n*** Add File: {home}/config.toml\n+x = 1\n*** End Patch\n"
    result = await agent.send(patch_turn(patch))
    assert result["status"] == "completed"
    assert "agentls's own state folder" in last_output(api)
    assert agent.approval_requests == [] and not (home / "config.toml").exists()


async def test_an_outside_file_is_not_shown_before_the_yes(
    start: Starter, api: FakeModelAPI, workspace: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "settings.ini"
    secret.write_text("token = PRIVATE-VALUE\nlevel = 1\n")
    (workspace / "settings.ini").symlink_to(secret)
    agent = await start(init_options=NEVER)
    shown: list[dict[str, Any]] = []

    def decide(params: dict[str, Any]) -> dict[str, Any]:
        shown.append(params)
        return {"decision": "approve"}

    agent.decide = decide
    hunk = "@@\n-level = 1\n+level = 2\n"
    patch = f"*** Begin Patch\n*** Update File: settings.ini\n{hunk}*** End Patch\n"
    result = await agent.send(patch_turn(patch))
    assert result["status"] == "completed"
    (question,) = shown
    assert f"a link to {secret}" in question["reason"]
    assert question["changes"][0]["realPath"] == str(secret)
    started = await agent.wait_event("toolCallStarted")
    assert "PRIVATE-VALUE" not in str(question) and "PRIVATE-VALUE" not in str(started)
    assert secret.read_text() == "token = PRIVATE-VALUE\nlevel = 2\n"

"""Undo through the real server: files changed by patches and by commands come back, the
conversation rolls back (the next request to the model no longer carries the undone turn,
after a restart too), the user's own later edits are skipped unless forced, a user's git
repository is left byte for byte alone, a stopped turn can be undone, and turn outcomes
survive a reload."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
from pathlib import Path
from typing import Any

import orjson
import pytest
from fixtures.fake_api import (
    CallItem,
    FakeModelAPI,
    HttpError,
    Reply,
    TextItem,
    last_user_text_contains,
    patch_call,
)
from pygls.exceptions import JsonRpcException
from tests.e2e.conftest import Starter
from tests.e2e.harness import Agent
from tests.helpers import wait_for_file

from agentls.history.compact import COMPACTION_PROMPT

WRITE = {"approval": "never-ask", "sandbox": "off"}
PATCH = """*** Begin Patch
*** Update File: notes.txt
@@
-the first line
+the first line, patched by the agent
*** End Patch
"""
COMMAND = "echo made by a command > created.txt; echo appended by a command >> data.txt"


def tree(folder: Path, *, skip_git: bool = True) -> dict[str, bytes]:
    """Every file under `folder` with its bytes (the user's `.git` apart)."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not (skip_git and ".git" in p.relative_to(folder).parts)
    }


def git_hashes(folder: Path) -> dict[str, str]:
    git = folder / ".git"
    return {
        str(p.relative_to(git)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(git.rglob("*"))
        if p.is_file()
    }


def git_repo(workspace: Path) -> None:
    """A repository with one commit, made before any server runs."""
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t"}
    env |= {"GIT_COMMITTER_EMAIL": "t@e", "HOME": str(workspace.parent), "PATH": "/usr/bin:/bin"}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "start"]):
        subprocess.run(["git", *args], cwd=workspace, env=env, check=True)


def fill(workspace: Path) -> None:
    (workspace / "notes.txt").write_text("the first line\nthe second line\n")
    (workspace / "data.txt").write_text("data\n")
    (workspace / "sub").mkdir()
    (workspace / "sub" / "blob.bin").write_bytes(bytes(range(256)) * 4)


async def changing_turn(agent: Agent, api: FakeModelAPI, **extra: Any) -> dict[str, Any]:
    """A turn that patches notes.txt, then runs a command that creates and edits a file."""
    api.enqueue(
        Reply([patch_call(PATCH), CallItem("shell", {"command": ["bash", "-lc", COMMAND]})])
    )
    result = await agent.send("change the files", **extra)
    assert result["status"] == "completed", result
    return result


def said(request: dict[str, Any]) -> str:
    return orjson.dumps(request["input"]).decode()


async def test_undo_restores_patched_created_and_edited_files_and_the_conversation(
    start: Starter, api: FakeModelAPI, workspace: Path
) -> None:
    fill(workspace)
    agent = await start(init_options=WRITE)
    first = await agent.send("hello before the change")
    before = tree(workspace)
    turn = await changing_turn(agent, api)
    assert (workspace / "created.txt").exists()
    assert "patched by the agent" in (workspace / "notes.txt").read_text()
    assert (workspace / "data.txt").read_text().endswith("appended by a command\n")

    undone = await agent.request("agent/undo", {})
    assert tree(workspace) == before
    assert not (workspace / "created.txt").exists()
    assert sorted(undone["restoredFiles"]) == ["created.txt", "data.txt", "notes.txt"]
    assert undone["skippedFiles"] == []
    assert undone["sessionId"] == turn["sessionId"]
    assert undone["undoneTurns"] == [turn["turnId"]]
    assert {h.get("turnId") for h in undone["history"]} == {first["turnId"]}
    assert [h["role"] for h in undone["history"]] == ["user", "assistant"]

    after = await agent.send("what now")
    assert after["status"] == "completed"
    request = said(api.requests[-1])
    assert "hello before the change" in request
    assert "change the files" not in request and "apply_patch" not in request
    assert api.rejected == []
    # nothing left to undo twice; the undone turn cannot be named again
    with pytest.raises(JsonRpcException) as again:
        await agent.request("agent/undo", {"turnId": turn["turnId"]})
    assert again.value.code == -33004


async def test_undo_in_a_git_repository_leaves_its_git_folder_alone(
    start: Starter, api: FakeModelAPI, workspace: Path
) -> None:
    fill(workspace)
    (workspace / ".gitignore").write_text("ignored/\n")
    (workspace / "ignored").mkdir()
    (workspace / "ignored" / "cache.txt").write_text("not in checkpoints\n")
    git_repo(workspace)
    (workspace / "data.txt").write_text("data\nan uncommitted change\n")
    git_before = git_hashes(workspace)
    files_before = tree(workspace)
    agent = await start(init_options=WRITE)
    await changing_turn(agent, api)
    undone = await agent.request("agent/undo", {"restore": "files"})
    assert sorted(undone["restoredFiles"]) == ["created.txt", "data.txt", "notes.txt"]
    assert tree(workspace) == files_before
    assert git_hashes(workspace) == git_before
    assert undone["undoneTurns"] == []  # files only: the conversation stays


async def test_a_file_edited_by_hand_is_skipped_then_restored_with_force(
    start: Starter, api: FakeModelAPI, workspace: Path
) -> None:
    fill(workspace)
    before = tree(workspace)
    agent = await start(init_options=WRITE)
    turn = await changing_turn(agent, api)
    (workspace / "data.txt").write_text("the user's own edit\n")

    partly = await agent.request("agent/undo", {"restore": "files"})
    assert partly["skippedFiles"] == [{"path": "data.txt", "reason": "changed since the turn"}]
    assert sorted(partly["restoredFiles"]) == ["created.txt", "notes.txt"]
    assert (workspace / "data.txt").read_text() == "the user's own edit\n"

    forced = await agent.request("agent/undo", {"turnId": turn["turnId"], "force": True})
    assert forced["skippedFiles"] == []
    assert "data.txt" in forced["restoredFiles"]
    assert tree(workspace) == before
    assert forced["undoneTurns"] == [turn["turnId"]]

    # skipped by an undo of everything: the files of that (now undone) turn, forced
    again = await changing_turn(agent, api)
    (workspace / "notes.txt").write_text("mine now\n")
    undone = await agent.request("agent/undo", {})
    assert undone["skippedFiles"] == [{"path": "notes.txt", "reason": "changed since the turn"}]
    assert undone["undoneTurns"] == [again["turnId"]]
    files = {"turnId": again["turnId"], "restore": "files", "force": True}
    assert "notes.txt" in (await agent.request("agent/undo", files))["restoredFiles"]
    assert tree(workspace) == before


async def test_undo_of_a_stopped_turn(start: Starter, api: FakeModelAPI, workspace: Path) -> None:
    fill(workspace)
    before = tree(workspace)
    agent = await start(init_options=WRITE)
    command = "echo partial > made.txt; echo half >> data.txt; sleep 30"
    _msg, pending = agent.start("agent/send", {"text": f"run: {command}"})
    await agent.wait_event("toolCallStarted")
    await wait_for_file(workspace / "made.txt", timeout=10)
    await wait_for_file(workspace / "data.txt", "half", 10)
    # refused while the turn runs, with words saying what to do
    with pytest.raises(JsonRpcException) as busy:
        await agent.request("agent/undo", {})
    assert busy.value.code == -33002 and "agent/interrupt" in busy.value.message
    assert (await agent.request("agent/interrupt", {}))["interrupted"] is True
    stopped = await asyncio.wait_for(pending, 15)
    assert stopped["status"] == "interrupted"
    # what the stopped command changed was checkpointed, and shown, when the turn stopped
    diffs = [e for e in agent.turn_events(stopped["turnId"]) if e["type"] == "turnDiff"]
    assert {f["path"] for f in diffs[-1]["files"]} == {"data.txt", "made.txt"}

    undone = await agent.request("agent/undo", {"turnId": stopped["turnId"]})
    assert tree(workspace) == before
    assert sorted(undone["restoredFiles"]) == ["data.txt", "made.txt"]
    assert undone["history"] == []
    await agent.send("start over")
    assert "sleep 30" not in said(api.requests[-1])


async def test_resume_after_a_rollback_in_a_new_server(
    start: Starter, api: FakeModelAPI, workspace: Path
) -> None:
    fill(workspace)
    first = await start(init_options=WRITE)
    kept = await first.send("keep this turn")
    await changing_turn(first, api)
    third = await first.send("and this one goes too")
    undone = await first.request("agent/undo", {"turnId": third["turnId"], "restore": "all"})
    assert undone["undoneTurns"] == [third["turnId"]]
    undone = await first.request("agent/undo", {"historyLimit": 1})  # the changing turn
    assert undone["history"] == [{**undone["history"][0], "role": "assistant"}]
    assert undone["history"][0]["turnId"] == kept["turnId"] and "historyCursor" in undone
    older = await first.request(
        "agent/history", {"sessionId": kept["sessionId"], "cursor": undone["historyCursor"]}
    )
    assert [h["text"] for h in older["history"]] == ["keep this turn"]
    assert (workspace / "notes.txt").read_text().startswith("the first line\n")
    await first.request("shutdown", None)

    second = await start(init_options=WRITE)
    resumed = await second.request("agent/resume", {"sessionId": kept["sessionId"]})
    assert [h["text"] for h in resumed["history"] if h["role"] == "user"] == ["keep this turn"]
    assert {h["turnId"] for h in resumed["history"]} == {kept["turnId"]}
    paged = await second.request(
        "agent/resume", {"sessionId": kept["sessionId"], "historyLimit": 1}
    )
    assert paged["history"] == resumed["history"][-1:]
    result = await second.send("go on", sessionId=kept["sessionId"])
    assert result["status"] == "completed"
    request = said(api.requests[-1])
    assert "keep this turn" in request
    assert "change the files" not in request and "goes too" not in request
    assert api.rejected == []


async def test_outcomes_of_stopped_and_failed_turns_survive_a_reload(
    start: Starter, api: FakeModelAPI
) -> None:
    first = await start()
    done = await first.send("a normal turn")
    _msg, pending = first.start("agent/send", {"text": "slow: 0.05"})
    await first.wait_event("textDelta", lambda e: e["turnId"] != done["turnId"])
    await first.request("agent/interrupt", {})
    stopped = await asyncio.wait_for(pending, 15)
    assert stopped["status"] == "interrupted"
    api.enqueue(HttpError(400, "this request is not acceptable"))
    failed = await first.send("this one fails")
    assert failed["status"] == "failed"
    await first.request("shutdown", None)

    second = await start()
    history = (await second.request("agent/resume", {}))["history"]
    outcomes = {h["turnId"]: h["outcome"] for h in history if "outcome" in h}
    assert outcomes[done["turnId"]]["status"] == "completed"
    assert outcomes[done["turnId"]]["usage"]
    assert outcomes[stopped["turnId"]]["status"] == "interrupted"
    assert outcomes[failed["turnId"]]["status"] == "failed"
    assert "not acceptable" in outcomes[failed["turnId"]]["error"]["message"]
    # each outcome sits on the last entry of its turn
    last_of_turn = {h["turnId"]: i for i, h in enumerate(history)}
    for turn_id in outcomes:
        assert "outcome" in history[last_of_turn[turn_id]]


async def test_undo_without_turns_and_with_checkpoints_off(
    start: Starter, api: FakeModelAPI, workspace: Path
) -> None:
    fill(workspace)
    agent = await start(init_options={**WRITE, "checkpoints": False})
    with pytest.raises(JsonRpcException) as nothing:
        await agent.request("agent/undo", {})
    assert nothing.value.code in (-33001, -33004)
    await changing_turn(agent, api)
    with pytest.raises(JsonRpcException) as off:
        await agent.request("agent/undo", {"restore": "files"})
    assert "checkpoints are off" in off.value.message
    undone = await agent.request("agent/undo", {})
    assert undone["restoredFiles"] == [] and undone["history"] == []
    assert any("checkpoints are off" in w for w in undone["warnings"])


async def test_the_conversation_cannot_go_back_past_a_compaction(
    start: Starter, api: FakeModelAPI, workspace: Path
) -> None:
    fill(workspace)
    before = tree(workspace)
    api.when(last_user_text_contains(COMPACTION_PROMPT[:60]), Reply([TextItem("SUMMARY 1")]))
    agent = await start(init_options=WRITE)
    await agent.send("an early turn")
    changed = await changing_turn(agent, api)
    await agent.request("agent/compact", {})
    late = await agent.send("a late turn")
    with pytest.raises(JsonRpcException) as compacted:
        await agent.request("agent/undo", {"turnId": changed["turnId"]})
    assert compacted.value.code == -33004 and "restore: 'files'" in compacted.value.message
    assert "patched" in (workspace / "notes.txt").read_text()  # refused: nothing was done
    files = await agent.request("agent/undo", {"turnId": changed["turnId"], "restore": "files"})
    assert sorted(files["restoredFiles"]) == ["created.txt", "data.txt", "notes.txt"]
    assert tree(workspace) == before
    undone = await agent.request("agent/undo", {"restore": "conversation"})
    assert undone["undoneTurns"] == [late["turnId"]] and undone["restoredFiles"] == []
    await agent.send("after the undo")
    request = said(api.requests[-1])
    assert "SUMMARY 1" in request and "a late turn" not in request


async def test_files_wait_while_another_session_changes_the_workspace(
    start: Starter, api: FakeModelAPI, workspace: Path
) -> None:
    fill(workspace)
    before = tree(workspace)
    agent = await start(init_options=WRITE)
    changed = await changing_turn(agent, api)
    mine = changed["sessionId"]
    other = (await agent.request("agent/newSession", {}))["sessionId"]
    msg_id, pending = agent.start("agent/send", {"text": "run: sleep 30", "sessionId": other})
    await agent.wait_event("toolCallStarted", lambda e: e["sessionId"] == other)
    with pytest.raises(JsonRpcException) as busy:
        await agent.request("agent/undo", {"sessionId": mine})
    assert busy.value.code == -33002 and other in busy.value.message
    assert "patched" in (workspace / "notes.txt").read_text()
    alone = await agent.request("agent/undo", {"sessionId": mine, "restore": "conversation"})
    assert alone["undoneTurns"] == [changed["turnId"]] and alone["restoredFiles"] == []
    agent.cancel(msg_id)
    assert (await asyncio.wait_for(pending, 15))["status"] == "interrupted"
    files = {"sessionId": mine, "turnId": changed["turnId"], "restore": "files"}
    await agent.request("agent/undo", files)
    assert tree(workspace) == before


@pytest.mark.parametrize("options", [{"history": "server"}, {"wireApi": "chat"}])
async def test_the_next_request_after_an_undo_on_other_wires(
    start: Starter, api: FakeModelAPI, options: dict[str, str]
) -> None:
    agent = await start(init_options=options)
    await agent.send("a kept question")
    await agent.send("an undone question")
    chained = api.requests[-1].get("previous_response_id")
    assert (chained is not None) == (options.get("history") == "server")
    await agent.request("agent/undo", {})
    assert (await agent.send("a new question"))["status"] == "completed"
    last = api.requests[-1]
    assert "an undone question" not in orjson.dumps(last).decode()
    assert "a kept question" in orjson.dumps(last).decode()
    # the service's stored chain held the undone turn: it is not continued
    assert last.get("previous_response_id") is None
    assert api.rejected == []


async def test_the_users_own_commands_are_undone_with_the_turns(
    start: Starter, api: FakeModelAPI, workspace: Path
) -> None:
    fill(workspace)
    before = tree(workspace)
    agent = await start(init_options=WRITE)
    changed = await changing_turn(agent, api)
    own = await agent.request(
        "agent/runCommand", {"sessionId": changed["sessionId"], "command": "echo mine >> data.txt"}
    )
    assert own["status"] == "completed"
    undone = await agent.request("agent/undo", {"turnId": changed["turnId"]})
    assert undone["undoneTurns"] == [changed["turnId"], own["turnId"]]
    assert undone["skippedFiles"] == []
    assert tree(workspace) == before

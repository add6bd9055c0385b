"""Fork, rename, delete and search sessions through the real server."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from fixtures.fake_api import FakeModelAPI
from pygls.exceptions import JsonRpcException
from tests.e2e.conftest import Starter
from tests.e2e.harness import Agent

from agentls.rollout.paths import WorkspaceLayout


def said(api: FakeModelAPI) -> str:
    return orjson.dumps(api.requests[-1]["input"]).decode()


def session_file(home: Path, workspace: Path, session_id: str) -> Path:
    found = WorkspaceLayout.for_path(home, workspace).find_session(session_id)
    assert found is not None
    return found


async def test_fork_then_both_sessions_go_on_independently(
    agent: Agent, api: FakeModelAPI, home: Path, workspace: Path
) -> None:
    first = await agent.send("the shared beginning")
    second = await agent.send("only in the original")
    original = first["sessionId"]
    original_file = session_file(home, workspace, original)
    original_bytes = original_file.read_bytes()

    forked = await agent.request("agent/fork", {"turnId": first["turnId"]})
    fork_id = forked["sessionId"]
    assert fork_id != original
    assert original_file.read_bytes() == original_bytes  # the original is untouched
    meta = orjson.loads(session_file(home, workspace, fork_id).read_bytes().split(b"\n")[0])
    assert meta["type"] == "session_meta"
    assert meta["payload"]["id"] == fork_id
    assert meta["payload"]["forked_from"] == {"session_id": original, "turn_id": first["turnId"]}

    resumed = await agent.request("agent/resume", {"sessionId": fork_id})
    assert [h["text"] for h in resumed["history"] if h["role"] == "user"] == [
        "the shared beginning"
    ]
    assert resumed["history"][0]["turnId"] == first["turnId"]
    assert resumed["forkedFrom"] == {"sessionId": original, "turnId": first["turnId"]}

    in_fork = await agent.send("said in the fork", sessionId=fork_id)
    assert in_fork["sessionId"] == fork_id and in_fork["status"] == "completed"
    request = said(api)
    assert "the shared beginning" in request and "only in the original" not in request

    in_original = await agent.send("said in the original", sessionId=original)
    request = said(api)
    assert "only in the original" in request and "said in the fork" not in request
    assert in_original["sessionId"] == original

    listed = await agent.request("agent/listSessions", {})
    assert {s["sessionId"] for s in listed["sessions"]} == {original, fork_id}
    # forking the default (last) turn of the active session works too
    again = await agent.request("agent/fork", {"sessionId": original})
    history = (await agent.request("agent/resume", {"sessionId": again["sessionId"]}))["history"]
    assert [h["text"] for h in history if h["role"] == "user"] == [
        "the shared beginning",
        "only in the original",
        "said in the original",
    ]
    assert second["turnId"] in {h["turnId"] for h in history}
    with pytest.raises(JsonRpcException) as unknown:
        await agent.request("agent/fork", {"sessionId": original, "turnId": "turn-nope"})
    assert unknown.value.code == -33004


async def test_rename_delete_and_search(
    start: Starter, api: FakeModelAPI, home: Path, workspace: Path
) -> None:
    agent = await start()
    alpha = await agent.send("Refactor the PARSER module")
    await agent.request("agent/newSession", {})
    beta = await agent.send("write the release notes")
    assert alpha["sessionId"] != beta["sessionId"]

    changed = agent.sessions_changed
    await agent.request("agent/renameSession", {"sessionId": alpha["sessionId"], "title": "P1"})
    assert agent.sessions_changed > changed
    listed = await agent.request("agent/listSessions", {})
    titles = {s["sessionId"]: s["title"] for s in listed["sessions"]}
    assert titles[alpha["sessionId"]] == "P1"
    assert titles[beta["sessionId"]] == "write the release notes"

    # search: titles and the text of messages, any case
    found = await agent.request("agent/listSessions", {"query": "parser"})
    assert [s["sessionId"] for s in found["sessions"]] == [alpha["sessionId"]]
    found = await agent.request("agent/listSessions", {"query": "you said: WRITE"})
    assert [s["sessionId"] for s in found["sessions"]] == [beta["sessionId"]]
    found = await agent.request("agent/listSessions", {"query": "p1"})
    assert [s["sessionId"] for s in found["sessions"]] == [alpha["sessionId"]]
    assert (await agent.request("agent/listSessions", {"query": "nowhere"}))["sessions"] == []

    path = session_file(home, workspace, beta["sessionId"])
    changed = agent.sessions_changed
    assert await agent.request("agent/deleteSession", {"sessionId": beta["sessionId"]}) == {}
    assert agent.sessions_changed > changed
    assert not path.exists()
    trashed = WorkspaceLayout.for_path(home, workspace).root / "trash" / path.name
    assert trashed.is_file()
    listed = await agent.request("agent/listSessions", {})
    assert [s["sessionId"] for s in listed["sessions"]] == [alpha["sessionId"]]
    with pytest.raises(JsonRpcException) as gone:
        await agent.request("agent/resume", {"sessionId": beta["sessionId"]})
    assert gone.value.code == -33001
    # the session that was deleted while active: the next send starts a new one
    fresh = await agent.send("after the delete")
    assert fresh["sessionId"] not in (alpha["sessionId"], beta["sessionId"])

    # a rename survives a new server, in the listing and in resume
    await agent.request("shutdown", None)
    other = await start()
    listed = await other.request("agent/listSessions", {"query": "P1"})
    assert [(s["sessionId"], s["title"]) for s in listed["sessions"]] == [
        (alpha["sessionId"], "P1")
    ]
    resumed = await other.request("agent/resume", {"sessionId": alpha["sessionId"]})
    assert resumed["title"] == "P1"


async def test_delete_is_refused_while_the_session_runs_a_turn(agent: Agent) -> None:
    msg_id, pending = agent.start("agent/send", {"text": "run: sleep 30"})
    started = await agent.wait_event("toolCallStarted")
    with pytest.raises(JsonRpcException) as busy:
        await agent.request("agent/deleteSession", {"sessionId": started["sessionId"]})
    assert busy.value.code == -33002
    agent.cancel(msg_id)
    assert (await pending)["status"] == "interrupted"
    assert await agent.request("agent/deleteSession", {"sessionId": started["sessionId"]}) == {}


async def test_bad_params_are_named(agent: Agent) -> None:
    for method, params, field in (
        ("agent/renameSession", {"sessionId": "x"}, "title"),
        ("agent/renameSession", {"sessionId": "x", "title": "   "}, "title"),
        ("agent/deleteSession", {}, "sessionId"),
        ("agent/undo", {"restore": "everything"}, "restore"),
        ("agent/undo", {"force": "yes"}, "force"),
        ("agent/fork", {"turnId": 3}, "turnId"),
    ):
        with pytest.raises(JsonRpcException) as error:
            await agent.request(method, params)
        assert error.value.code == -32602
        assert f"'{field}'" in error.value.message

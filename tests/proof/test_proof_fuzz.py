"""Fuzzing with hypothesis: the agent methods' params, request ids, and rollout files.

One real server (and one strict fake API) serves the whole module: they live on an event
loop in a background thread, so the hypothesis tests are plain synchronous functions.

- Every request gets exactly one answer, a result or a JSON-RPC error that is not -32603;
  the server never dies and never writes outside AGENTLS_HOME and the workspace (the rest
  of the temporary tree, including the server's cwd, HOME and TMPDIR, is snapshotted).
- `parse_rollout` (the reference reader) never raises on a real rollout cut at every byte
  or corrupted at random, and gives back every line that was left intact; on the corrupted
  files the server's own readers (resume, the model history, the turn scan, the session
  list) never raise either, and the panel and the model history match the reference's.
- A server resumes a corrupted file (a few examples: each needs its own server) with what
  was intact, and the next send is accepted by the strict fake.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from bench.agent import Agent, start_agent
from bench.background import BackgroundLoop
from bench.rpc import LspClient, RpcError, ServerGone
from fixtures.fake_api import FakeModelAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.agentls.rollout.reference_reader import parse_rollout
from tests.agentls.rollout.walkers import (
    by_paging,
    by_reference,
    by_session_list,
    by_turn_scan,
    session_file,
)
from tests.e2e.harness import API_KEY, server_env
from tests.helpers import wait_for

from agentls.lsp.methods import AGENT_METHODS as REGISTERED
from agentls.rollout.paths import WorkspaceLayout

# hundreds of hypothesis examples against one server, with time limits per request: alone
# (`make pytest` runs `serial` tests after the parallel pass)
pytestmark = pytest.mark.serial

# every method the server registers: the fuzzer follows the server, never a copy of its list
AGENT_METHODS = list(REGISTERED)
INTERNAL_ERROR = -32603
EXISTING = "@existing-session"
VALID_MISSING_ID = "0b6f3c1e-2d4a-4b8e-9f10-3a2b1c0d9e8f"
FUZZ_SETTINGS = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}


# --------------------------------------------------------------------------- the rig


@dataclass
class Rig:
    loop: BackgroundLoop
    api: FakeModelAPI
    agent: Agent
    root: Path
    home: Path
    workspace: Path
    log: Path
    session_id: str

    def stderr_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-3000:]
        except OSError:
            return ""


def snapshot(root: Path, allowed: list[Path]) -> dict[str, tuple[int, int]]:
    """Every file and folder under `root` outside the allowed folders: (size, mtime)."""
    seen: dict[str, tuple[int, int]] = {}
    allowed_set = {str(p) for p in allowed}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if os.path.join(folder, d) not in allowed_set]
        for name in dirs:
            seen[os.path.relpath(os.path.join(folder, name), root) + "/"] = (0, 0)
        for name in files:
            path = os.path.join(folder, name)
            if path in allowed_set:
                continue
            info = os.lstat(path)
            seen[os.path.relpath(path, root)] = (info.st_size, info.st_mtime_ns)
    return seen


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    root = tmp_path_factory.mktemp("fuzz")
    home, workspace, cwd, tmpdir = (root / n for n in ("state", "project", "cwd", "tmp"))
    for folder in (workspace, cwd, tmpdir):
        folder.mkdir()
    log = tmp_path_factory.mktemp("fuzz-log") / "server.stderr"
    loop = BackgroundLoop()
    api = FakeModelAPI(api_key=API_KEY)
    loop.run(api.start())
    env = server_env(home, api.base_url, TMPDIR=str(tmpdir))

    async def launch() -> tuple[Agent, str]:
        agent = await start_agent(
            workspace, env, {"approval": "always-ask"}, cwd=cwd, stderr_path=log
        )
        # whatever the fuzzer makes the fake ask for, no command runs
        agent.decide = lambda _p: {"decision": "deny"}
        session = await agent.request("agent/newSession", {})
        return agent, session["sessionId"]

    agent, session_id = loop.run(launch())
    try:
        yield Rig(loop, api, agent, root, home, workspace, log, session_id)
    finally:
        loop.run(agent.close())
        loop.run(api.stop())
        loop.close()


# --------------------------------------------------------------------------- strategies

UUID_UPPER = VALID_MISSING_ID.upper()
TRICKY = [
    "",
    " ",
    ".",
    "..",
    "../../etc",
    "../../etc/passwd",
    "/etc/passwd",
    "/",
    "~",
    "~root/.ssh",
    "$HOME",
    "%2e%2e%2f%2e%2e%2fetc",
    "..%2f..%2f",
    "\x00",
    "a\x00b",
    "file:///etc/passwd",
    "..\\..\\windows",
    "CON",
    "\u202egnp.exe",
    "\U0001f600" * 3,
    UUID_UPPER,
    VALID_MISSING_ID,
    f"{VALID_MISSING_ID}/../../x",
    f"{VALID_MISSING_ID}\x00",
    f" {VALID_MISSING_ID}",
    f"../{VALID_MISSING_ID}",
    "*",
    "*.jsonl",
    EXISTING,
]
texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200)
huge = st.builds(
    lambda piece, n: piece * n,
    st.sampled_from(["x", "\u00e9", "\U0001f600", "\x00", " "]),
    st.sampled_from([1_000, 50_000, 1_000_001]),
)
strings = st.one_of(texts, st.sampled_from(TRICKY), huge)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    strings,
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=6,
)
field = st.one_of(strings, json_values)
# a real session or none half the time, so that valid calls get far enough to run turns
session_field = st.one_of(st.just(EXISTING), st.none(), st.sampled_from(TRICKY), field)
PARAMS = {
    "agent/send": st.fixed_dictionaries(
        {"text": strings},
        optional={"sessionId": session_field, "workDoneToken": field, "extra": json_values},
    )
    | st.fixed_dictionaries({}, optional={"text": field, "sessionId": field}),
    "agent/interrupt": st.fixed_dictionaries({}, optional={"sessionId": session_field}),
    "agent/resume": st.fixed_dictionaries({}, optional={"sessionId": session_field}),
    "agent/newSession": st.fixed_dictionaries({}, optional={"sessionId": field, "x": json_values}),
    "agent/listSessions": st.fixed_dictionaries(
        {},
        optional={
            "limit": st.one_of(st.integers(min_value=-5, max_value=600), json_values),
            "cursor": field,
        },
    ),
}


@st.composite
def calls(draw: st.DrawFn) -> tuple[str, Any]:
    method = draw(st.sampled_from(["agent/send", *AGENT_METHODS, "agent/noSuchMethod"]))
    strategy = PARAMS.get(method, json_values)
    # params that are not an object at all: lists, strings, numbers, null
    params = draw(st.one_of(strategy, json_values) if draw(st.integers(0, 4)) == 0 else strategy)
    return method, params


def _fill_in(value: Any, session_id: str) -> Any:
    if value == EXISTING:
        return session_id
    if isinstance(value, dict):
        return {k: _fill_in(v, session_id) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill_in(v, session_id) for v in value]
    return value


def exchange(rig: Rig, method: str, params: Any) -> Any:
    """One request; fails the test unless it gets a result or an acceptable error."""
    params = _fill_in(params, rig.session_id)
    text = params.get("text") if isinstance(params, dict) else None
    if isinstance(text, str) and text.startswith(("slow:", "stream:")):
        # the fake's scripted rules would stream for up to a minute
        params = {**params, "text": "_" + text}
    shown = repr(params)[:300]
    error: RpcError | None = None
    try:
        result = rig.loop.run(rig.agent.client.request(method, params, timeout=20), timeout=40)
    except RpcError as exc:
        error = exc
    except TimeoutError:
        pytest.fail(f"{method} {shown}: no answer within 20 s\n{rig.stderr_tail()}")
    except ServerGone:
        pytest.fail(f"{method} {shown}: the server died\n{rig.stderr_tail()}")
    if error is not None:
        # any error the protocol names (bad params, no session, ...), never an internal one
        assert error.code != INTERNAL_ERROR, f"{method} {shown} -> {error.code} {error.message}"
        assert isinstance(error.code, int), (shown, error)
        assert error.message, (shown, error)
        return error
    if method == "agent/send":
        assert result["status"] in ("completed", "failed"), (shown, result)
        message = (result.get("error") or {}).get("message", "")
        assert "internal error" not in message, (shown, result)
        assert rig.api.rejected == [], (shown, rig.api.rejected)
    return result


def assert_server_sound(rig: Rig) -> None:
    client = rig.agent.client
    assert client.alive, rig.stderr_tail()
    assert client.unanswered() == []
    assert client.answered_twice() == []
    assert client.unknown_responses == []
    assert client.protocol_errors == []
    assert rig.api.rejected == []


# --------------------------------------------------------------------------- agent methods


def test_agent_methods_answer_every_request(rig: Rig) -> None:
    allowed = [rig.home, rig.workspace, rig.log]
    before = snapshot(rig.root, allowed)

    outcomes: Counter[str] = Counter()

    @settings(max_examples=200, **FUZZ_SETTINGS)
    @given(calls())
    def one(call: tuple[str, Any]) -> None:
        answer = exchange(rig, *call)
        kind = f"error {answer.code}" if isinstance(answer, RpcError) else "result"
        if call[0] == "agent/send" and not isinstance(answer, RpcError):
            kind = f"turn {answer['status']}"
        outcomes[f"{call[0]}: {kind}"] += 1

    one()
    print(dict(outcomes))
    assert sum(outcomes.values()) >= 100, outcomes
    assert outcomes["agent/send: turn completed"] > 0, outcomes
    assert_server_sound(rig)
    assert snapshot(rig.root, allowed) == before, "the server wrote outside its folders"
    # still a working server: a plain send completes (in a new session: the fuzzed one may
    # have grown past the fake API's 1 MiB request limit with huge texts)
    fresh = exchange(rig, "agent/newSession", {})["sessionId"]
    result = exchange(rig, "agent/send", {"text": "still there?", "sessionId": fresh})
    assert result["status"] == "completed"


def test_request_ids_of_any_shape_are_answered_once(rig: Rig) -> None:
    sent: set[Any] = set()

    @settings(max_examples=25, **FUZZ_SETTINGS)
    @given(st.one_of(st.integers(min_value=-(2**53), max_value=2**53), texts))
    def one(msg_id: Any) -> None:
        if msg_id in sent or str(msg_id).startswith("r"):
            return  # ids must be unique, and the client's own are r1, r2, ...
        sent.add(msg_id)
        result = rig.loop.run(
            rig.agent.client.request("agent/listSessions", {"limit": 1}, msg_id=msg_id)
        )
        assert isinstance(result["sessions"], list)

    one()
    assert_server_sound(rig)


MALFORMED_FRAMES = [
    b"{not json",
    b'{"jsonrpc":"2.0","id":"m1","method":"agent/listSessions","params":{"limit":\xff}}',
    b"[]",
    b'[{"jsonrpc":"2.0","id":"m2","method":"agent/listSessions"}]',
    b'"just a string"',
    b'{"jsonrpc":"2.0","id":{"an":"object"},"method":"agent/listSessions"}',
    b'{"jsonrpc":"2.0","id":[1],"method":"agent/listSessions"}',
    b'{"jsonrpc":"2.0","id":true,"method":"agent/listSessions"}',
    b'{"jsonrpc":"2.0","method":5,"id":"m3"}',
    b'{"jsonrpc":"2.0","result":{},"id":"never-asked"}',
    b'{"jsonrpc":"2.0"}',
    b'{"jsonrpc":"2.0","method":"agent/send"}',
    b'{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":"nothing"}}',
    b'{"jsonrpc":"2.0","method":"$/cancelRequest","params":7}',
    b"\xef\xbb\xbf{}",
]


def test_malformed_frames_leave_the_server_working(rig: Rig) -> None:
    """Bodies that are not requests get an error with id null (or nothing, for notifications
    and stray responses); the server goes on, and well-formed requests still get one answer."""
    client = rig.agent.client

    async def probe() -> list[Any]:
        for body in MALFORMED_FRAMES:
            client.raw_write(b"Content-Length: %d\r\n\r\n%b" % (len(body), body))
        # a request whose id is in use by another, still running, one
        slow = client.raw_request(
            orjson.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": "dup",
                    "method": "agent/send",
                    "params": {"text": "stream: 3000", "sessionId": rig.session_id},
                }
            ),
            "dup",
        )
        again = {"jsonrpc": "2.0", "id": "dup", "method": "agent/listSessions"}
        client.raw_write(
            b"Content-Length: %d\r\n\r\n%b" % (len(orjson.dumps(again)), orjson.dumps(again))
        )
        after = await client.request("agent/listSessions", {"limit": 1}, timeout=20)
        # the refusal of the second "dup" comes first; the turn's own answer follows
        try:
            first: Any = await asyncio.wait_for(slow, 30)
        except RpcError as error:
            first = error
        await wait_for(lambda: client.response_counts["dup"] >= 2, 30)
        return [after, first]

    after, first = rig.loop.run(probe())
    assert isinstance(after["sessions"], list)
    assert isinstance(first, RpcError), first
    assert first.code == -32600, first
    assert client.alive, rig.stderr_tail()
    stray = client.unknown_responses
    assert all(m.get("id") is None and m.get("error") for m in stray), stray
    assert all(m["error"]["code"] in (-32700, -32600) for m in stray), stray
    client.unknown_responses.clear()
    assert client.response_counts["dup"] == 2  # the refusal and the turn's result
    client.response_counts["dup"] = 1
    assert_server_sound(rig)


def test_lone_surrogates_get_an_answer(rig: Rig) -> None:
    cases = [
        ("agent/send", {"text": "cut emoji \ud83d", "sessionId": rig.session_id}),
        ("agent/resume", {"sessionId": "\udfff"}),
        ("agent/listSessions", {"cursor": "\ud800"}),
        ("agent/listSessions", {"\udc00": 1}),
    ]
    client = rig.agent.client

    async def ask(method: str, params: Any) -> str:
        try:
            await client.request(method, params, timeout=5)
        except RpcError as error:
            return "internal error" if error.code == INTERNAL_ERROR else "answered"
        except TimeoutError:
            return "no answer"
        return "answered"

    async def ask_all() -> list[str]:
        return list(await asyncio.gather(*(ask(m, p) for m, p in cases)))

    outcomes = list(zip([m for m, _ in cases], rig.loop.run(ask_all()), strict=True))
    unanswered = [(method, outcome) for method, outcome in outcomes if outcome != "answered"]
    # leave the books clean for the tests that follow
    client.unknown_responses.clear()
    client.sent_ids -= {i for i in client.sent_ids if client.response_counts[i] == 0}
    assert unanswered == []


ODD_WORKSPACES = [
    "{root}/does-not-exist/deeper",
    "{root}/a-file.txt",
    "{root}/project/../project/./",
    "{root}/%2e%2e/%2e%2e/escape",
    "relative/path",
    "",
    "file:///{root}/x/../../../../../../tmp",
]


def test_initialize_with_odd_workspaces(rig: Rig, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Odd rootUri/workspaceFolders: initialize and a listing are answered, and the server
    creates nothing outside AGENTLS_HOME (not even the missing workspace folder)."""
    root = tmp_path_factory.mktemp("odd-workspaces")
    (root / "a-file.txt").write_text("not a folder")
    cwd = root / "cwd"
    cwd.mkdir()
    home = root / "state"
    env = server_env(home, rig.api.base_url)  # makes the user's HOME beside it, once

    @settings(max_examples=6, **FUZZ_SETTINGS)
    @given(st.sampled_from(ODD_WORKSPACES), st.booleans())
    def one(template: str, as_uri: bool) -> None:
        before = snapshot(root, [home])
        where = template.format(root=root)
        uri = where if "://" in where or not as_uri else "file://" + where

        async def talk() -> tuple[Any, Any]:
            client = LspClient()
            await client.start(env, cwd=cwd)
            try:
                try:
                    init = await client.request(
                        "initialize",
                        {
                            "processId": None,
                            "rootUri": uri,
                            "workspaceFolders": [{"uri": uri, "name": "odd"}],
                            "capabilities": {},
                        },
                        timeout=30,
                    )
                except RpcError as error:
                    init = error
                client.notify("initialized", {})
                try:
                    listed = await client.request("agent/listSessions", {}, timeout=20)
                except RpcError as error:
                    listed = error
                return init, listed
            finally:
                await client.close()

        init, listed = rig.loop.run(talk())
        for answer in (init, listed):
            if isinstance(answer, RpcError):
                assert answer.code != INTERNAL_ERROR, (uri, answer.code, answer.message)
        assert snapshot(root, [home]) == before, uri

    one()


def test_initialize_with_a_non_file_uri(rig: Rig, tmp_path: Path) -> None:
    env = server_env(tmp_path / "state", rig.api.base_url)

    async def talk(uri: str) -> Any:
        client = LspClient()
        await client.start(env, cwd=tmp_path)
        try:
            return await client.request(
                "initialize",
                {
                    "processId": None,
                    "rootUri": uri,
                    "capabilities": {},
                    "workspaceFolders": [{"uri": uri, "name": "odd"}],
                },
                timeout=30,
            )
        except RpcError as error:
            return error
        finally:
            await client.close()

    internal = []
    for uri in ("http://example.invalid/project", f"file://{tmp_path}/with%00nul"):
        answer = rig.loop.run(talk(uri))
        if isinstance(answer, RpcError) and answer.code == INTERNAL_ERROR:
            internal.append((uri, answer.message))
    assert internal == []


# --------------------------------------------------------------------------- rollout files


@dataclass
class RealRollout:
    data: bytes
    name: str
    workspace: Path


@pytest.fixture(scope="module")
def real_rollout(rig: Rig, tmp_path_factory: pytest.TempPathFactory) -> RealRollout:
    """A rollout written by a real server: messages, a tool call with output, answers."""
    root = tmp_path_factory.mktemp("rollout")
    workspace = root / "project"
    workspace.mkdir()
    home = root / "state"
    env = server_env(home, rig.api.base_url)

    async def session() -> str:
        agent = await start_agent(workspace, env, {"approval": "never-ask"})
        try:
            first = await agent.send("hello rollout")
            await agent.send("run: echo proof-output; printf 'two\\nlines\\n'")
            await agent.send("thanks \u00e9\U0001f600")
            return str(first["sessionId"])
        finally:
            await agent.close()

    session_id = rig.loop.run(session())
    path = WorkspaceLayout.for_path(home, workspace).find_session(session_id)
    assert path is not None
    data = path.read_bytes()
    assert b'"function_call_output"' in data and b"proof-output" in data
    return RealRollout(data, path.name, workspace)


def _response_items(lines: list[bytes]) -> list[Any]:
    items = []
    for line in lines:
        record = orjson.loads(line)
        if record["type"] == "response_item":
            items.append(record["payload"])
    return items


def test_truncated_at_every_byte(real_rollout: RealRollout) -> None:
    data = real_rollout.data
    full = parse_rollout(data)
    assert full.warnings == [] and not full.torn_tail
    for cut in range(len(data) + 1):
        part = parse_rollout(data[:cut])
        assert part.items == full.items[: len(part.items)], cut
        whole_lines = data[:cut].count(b"\n")
        expected = _response_items(data.split(b"\n")[:whole_lines])
        # every whole line is back; the cut line is either whole JSON or reported torn
        assert part.items[: len(expected)] == expected, cut
        if cut == 0 or data[cut - 1 : cut] == b"\n":
            assert not part.torn_tail and part.warnings == [], cut
    assert parse_rollout(b"\xef\xbb\xbf" + data).items == full.items
    assert parse_rollout(data.replace(b"\n", b"\r\n")).items == full.items


GARBAGE_LINES = [
    b"{}",
    b"[]",
    b"null",
    b"42",
    b'"a string"',
    b'{"type":"response_item"}',
    b'{"type":"response_item","payload":5}',
    b'{"type":"response_item","payload":{}}',
    b'{"type":"response_item","payload":{"type":7}}',
    b'{"type":"no_such_type","payload":{"type":"message"}}',
    b'{"type":"event_msg","payload":{"type":"turn_completed"}}',
    b'{"type":"event_msg","payload":{"type":"turn_started","turn_id":null}}',
    b'{"type":"session_meta","payload":{"id":5}}',
    b"\xef\xbb\xbf{",
    b"\x00\x00\x00",
    b"\xff\xfe\xfd",
    b'{"timestamp":"x","type":"response_item","payload":{"type":"message"',
]
garbage = st.one_of(st.sampled_from(GARBAGE_LINES), st.binary(max_size=60))


@st.composite
def corruptions(draw: st.DrawFn, n_lines: int, *, semantic: bool = True) -> list[tuple[Any, ...]]:
    ops: list[tuple[Any, ...]] = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "break", "garbage", "delete", "dup", "blank"]))
        index = draw(st.integers(0, n_lines - 1))
        if kind == "flip" and not semantic:
            kind = "break"
        if kind == "flip":
            ops.append((kind, index, draw(st.floats(0, 1)), draw(st.integers(0, 255))))
        elif kind == "break":
            ops.append((kind, index, draw(st.floats(0, 1))))
        elif kind == "garbage":
            line = draw(garbage if semantic else st.sampled_from(GARBAGE_LINES[:8]))
            ops.append((kind, index, line.replace(b"\n", b" ")))
        else:
            ops.append((kind, index))
    if draw(st.booleans()):
        ops.append(("truncate", draw(st.floats(0.3, 1))))
    return ops


@dataclass
class Line:
    data: bytes
    origin: int | None  # index in the original file; None for inserted lines
    intact: bool


def corrupt(data: bytes, ops: list[tuple[Any, ...]]) -> tuple[bytes, list[Line]]:
    lines = [Line(raw, i, True) for i, raw in enumerate(data.split(b"\n")[:-1])]
    for op in ops:
        kind = op[0]
        if kind == "truncate":
            blob = b"\n".join(line.data for line in lines) + b"\n"
            cut = int(len(blob) * op[1])
            kept, pos = [], 0
            for line in lines:
                end = pos + len(line.data) + 1
                if end <= cut:
                    kept.append(line)
                elif pos < cut:  # the torn last line (whole when only its newline is cut)
                    part = line.data[: cut - pos]
                    kept.append(Line(part, line.origin, line.intact and part == line.data))
                pos = end
            torn = cut < len(blob) and kept and not kept[-1].intact
            body = b"\n".join(line.data for line in kept)
            return (body if torn else body + (b"\n" if kept else b"")), kept
        index = min(op[1], len(lines) - 1) if lines else 0
        if not lines and kind != "garbage":
            continue
        if kind == "flip":
            target = lines[index]
            at = min(int(len(target.data) * op[2]), max(len(target.data) - 1, 0))
            flipped = bytearray(target.data or b" ")
            flipped[at] = op[3] if op[3] != 0x0A else 0x20
            lines[index] = Line(
                bytes(flipped), target.origin, target.intact and bytes(flipped) == target.data
            )
        elif kind == "break":
            target = lines[index]
            at = int(len(target.data) * op[2])
            lines[index] = Line(target.data[:at] + b"\x00\xff" + target.data[at:], None, False)
        elif kind == "garbage":
            lines.insert(index, Line(op[2], None, False))
        elif kind == "delete":
            del lines[index]
        elif kind == "dup":
            lines.insert(index, Line(lines[index].data, lines[index].origin, lines[index].intact))
        elif kind == "blank":
            lines.insert(index, Line(b"   ", None, False))
    return b"\n".join(line.data for line in lines) + b"\n", lines


def is_subsequence(needle: list[Any], haystack: list[Any]) -> bool:
    it = iter(haystack)
    return all(any(x == y for y in it) for x in needle)


def intact_items(lines: list[Line]) -> list[Any]:
    return _response_items([line.data for line in lines if line.intact and line.origin is not None])


def test_random_corruptions_never_raise(real_rollout: RealRollout) -> None:
    data = real_rollout.data
    n_lines = data.count(b"\n")

    @settings(max_examples=120, **FUZZ_SETTINGS)
    @given(corruptions(n_lines))
    def one(ops: list[tuple[Any, ...]]) -> None:
        corrupted, lines = corrupt(data, ops)
        rollout = parse_rollout(corrupted)
        # whatever was left intact comes back, in order (flips that still parse may add)
        assert is_subsequence(intact_items(lines), rollout.items)
        # the server's readers take the same file without raising, and agree on what the
        # panel shows (one page: a duplicated line may pair calls across pages otherwise)
        # and on what the model sees
        with tempfile.TemporaryDirectory() as folder:
            path = session_file(Path(folder), corrupted)
            reference = by_reference(corrupted)
            paged = by_paging(path, 1 << 30)
            assert paged.entries == reference.entries
            assert paged.model == reference.model
            assert paged.torn == reference.torn
            by_turn_scan(corrupted)
            by_session_list(path)

    one()


def _user_texts(items: list[Any]) -> list[str]:
    return [
        part["text"]
        for item in items
        if item.get("type") == "message" and item.get("role") == "user"
        for part in item["content"]
    ]


async def _resume_and_send(
    api: FakeModelAPI, root: Path, workspace: Path, name: str, content: bytes
) -> tuple[dict[str, Any], dict[str, Any], list[Any]]:
    home = root / f"state-{uuid.uuid4().hex[:8]}"
    layout = WorkspaceLayout.for_path(home, workspace)
    layout.ensure()
    (layout.sessions_dir / name).write_bytes(content)
    session_id = name[-len(".jsonl") - 36 : -len(".jsonl")]
    agent = await start_agent(workspace, server_env(home, api.base_url), {"approval": "never-ask"})
    try:
        before = len(api.rejected)
        resumed = await agent.request("agent/resume", {"sessionId": session_id})
        result = await agent.send("and now?", sessionId=session_id)
        return resumed, result, api.rejected[before:]
    finally:
        await agent.close()


def test_resume_of_a_corrupted_file(
    rig: Rig, real_rollout: RealRollout, tmp_path_factory: pytest.TempPathFactory
) -> None:
    data = real_rollout.data
    n_lines = data.count(b"\n")
    root = tmp_path_factory.mktemp("resume-corrupt")

    @settings(max_examples=6, **FUZZ_SETTINGS)
    @given(corruptions(n_lines, semantic=False))
    def one(ops: list[tuple[Any, ...]]) -> None:
        corrupted, lines = corrupt(data, ops)
        resumed, result, rejected = rig.loop.run(
            _resume_and_send(rig.api, root, real_rollout.workspace, real_rollout.name, corrupted)
        )
        history_users = [h["text"] for h in resumed["history"] if h["role"] == "user"]
        assert history_users == _user_texts(intact_items(lines)), resumed["warnings"]
        if any(line.origin is None and line.data.strip() for line in lines):
            assert resumed["warnings"], "corruption was repaired silently"
        assert rejected == [], rejected
        assert result["status"] == "completed", result

    one()


SEMANTIC_DAMAGE = [
    (b'"role":"assistant"', b'"role":"assistanu"'),
    (b'"type":"output_text"', b'"type":"output_texu"'),
    (b'"type":"function_call",', b'"type":"function_cal",'),
    (b'"content":[{"type":"input_text"', b'"content":[{"type":"input_texu"'),
    (b'"name":"shell"', b'"name":5'),
    (
        b'"type":"function_call_output","call_id":"',
        b'"type":"function_call_output","call_id":7,"x":"',
    ),
]


def test_resume_of_items_damaged_inside_valid_json(
    rig: Rig, real_rollout: RealRollout, tmp_path_factory: pytest.TempPathFactory
) -> None:
    root = tmp_path_factory.mktemp("resume-semantic")
    failures = []
    for old, new in SEMANTIC_DAMAGE:
        assert old in real_rollout.data, old
        damaged = real_rollout.data.replace(old, new, 1)
        _resumed, result, rejected = rig.loop.run(
            _resume_and_send(rig.api, root, real_rollout.workspace, real_rollout.name, damaged)
        )
        rig.api.rejected.clear()
        if rejected or result["status"] != "completed":
            failures.append((new, [r[1]["error"]["message"] for r in rejected]))
    assert failures == []

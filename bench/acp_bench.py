"""The ACP figures of `make bench`: the same rows for any ACP agent, taken with the light
client of bench/acp_client.py.

Both agents are driven by the same code, the same way; what differs (how each is started,
how its fake model is steered into a shell call, how a big session is put on disk) is in an
`AcpPeer`: `AgentlsAcp` below for `agentls acp`, bench/codex_acp.py for
`@zed-industries/codex-acp`.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from tests.e2e.harness import process_tree

from bench.acp_client import AcpClient
from bench.agent import server_env
from bench.fake_proc import FakeAPIProcess
from bench.procs import kill_all, memory, start_time, still_alive, tool_processes
from bench.rpc import wait_for
from bench.run import with_bytecode_cache
from bench.sessions import ITEMS_PER_TURN, write_session

Json = dict[str, Any]
SERVER = Path(__file__).resolve().parent.parent / "server"


# ------------------------------------------------------------------------------ the agents


@dataclass(frozen=True)
class Place:
    """Where one agent process runs: its workspace, environment, stderr file and state."""

    workspace: Path
    env: dict[str, str]
    stderr: Path
    home: Path  # AGENTLS_HOME or CODEX_HOME


class AcpPeer(Protocol):
    """What differs between the agents measured; everything else is the same code."""

    name: str

    def fresh(self, name: str) -> Place: ...

    def command(self, launcher: bool = False) -> list[str]: ...

    async def steer_command(self, tag: str, command: str) -> str:
        """The prompt text that makes the agent's fake model call its shell with `command`."""
        ...

    async def big_session(self, place: Place, items: int) -> tuple[str, int]:
        """A session of about `items` response items on disk in `place`: (id, turns)."""
        ...

    async def rejected(self) -> int: ...


class AgentlsAcp:
    """`agentls acp` as an editor starts it: `python -m agentls acp`, with the bytecode cache
    an installed package has, the model named (as for the LSP rows), the user's defaults
    otherwise (approval `ask-unsafe`: a command that is not read-only is asked about)."""

    name = "agentls"

    def __init__(self, root: Path, api: FakeAPIProcess, bytecode: bool = True) -> None:
        self.root = root
        self.api = api
        self.bytecode = bytecode
        self.count = 0

    def fresh(self, name: str) -> Place:
        self.count += 1
        base = self.root / f"acp-{self.count:03d}-{name}"
        workspace = base / "project"
        workspace.mkdir(parents=True)
        env = with_bytecode_cache(server_env(base / "state", self.api.base_url), self.bytecode)
        env["AGENTLS_MODEL"] = "bench-model"
        # the agentls of this checkout, whatever the interpreter has installed (a worktree
        # run with another checkout's virtualenv would measure that checkout's code)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(SERVER), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
        )
        return Place(workspace, env, base / "agent.stderr", base / "state")

    def command(self, launcher: bool = False) -> list[str]:
        return [sys.executable, "-m", "agentls", "acp"]

    async def steer_command(self, tag: str, command: str) -> str:
        return f"run: {command}"  # the fake's own rule: one `shell` call of bash -lc command

    async def big_session(self, place: Place, items: int) -> tuple[str, int]:
        session_id = write_session(place.home, place.workspace, items)
        return session_id, max(1, items // ITEMS_PER_TURN)

    async def rejected(self) -> int:
        return len((await self.api.stats())["rejected"])


# ------------------------------------------------------------------------------ the figures

STREAM_DELTAS = 20_000  # as the LSP rows
LOAD_SIZES = (1_000, 10_000)
REPLAYED = (
    "user_message_chunk",
    "agent_message_chunk",
    "agent_thought_chunk",
    "tool_call",
    "tool_call_update",
    "plan",
)


def log(message: str) -> None:
    print(f"[bench:acp] {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def _is_sleep(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().startswith(b"sleep\x0030\x00")
    except OSError:
        return False


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000


def _median(values: list[float], digits: int = 1) -> float:
    return round(statistics.median(values), digits)


class AcpBench:
    """The ACP rows for one agent; each method is one step of `make bench`, returning the
    figures of that step (a step that fails raises, and the caller reports it)."""

    def __init__(self, peer: AcpPeer, fake: FakeAPIProcess, quick: bool) -> None:
        self.peer = peer
        self.fake = fake  # the peer's fake model API, for the time it takes itself
        self.quick = quick

    async def agent(self, place: Place, *, launcher: bool = False) -> AcpClient:
        """A started and initialized agent (killed again if `initialize` fails)."""
        client = AcpClient()
        await client.start(self.peer.command(launcher), place.env, place.workspace, place.stderr)
        try:
            await client.initialize()
        except BaseException:
            await client.close()
            raise
        return client

    async def served(self) -> list[float]:
        """The fake's own time for each model request since the last call."""
        stats = await self.fake.stats()
        return [float(ms) for ms in stats.get("served_ms", [])]

    async def startup(self) -> Json:
        """Spawn to the `initialize` answer; then `session/new` at once (what an editor
        waits for next, deferred start-up work included) and a second one (warm)."""
        runs = 3 if self.quick else 8
        startup: list[float] = []
        first_new: list[float] = []
        warm_new: list[float] = []
        for i in range(runs + 1):  # run 0 warms the page and bytecode caches
            place = self.peer.fresh("startup")
            client = await self.agent(place)
            try:
                began = time.perf_counter()
                await client.new_session(place.workspace)
                first = _ms(began)
                began = time.perf_counter()
                await client.new_session(place.workspace)
                again = _ms(began)
            finally:
                await client.close()
            if i:
                startup.append(client.initialize_ms)
                first_new.append(first)
                warm_new.append(again)
        launched: list[float] = []
        if self.peer.command(launcher=True) != self.peer.command():
            for _ in range(2):
                client = await self.agent(self.peer.fresh("launcher"), launcher=True)
                launched.append(client.initialize_ms)
                await client.close()
        log(
            f"{self.peer.name} startup ms {[round(x) for x in startup]} (launcher {launched}); "
            f"session/new ms {[round(x, 1) for x in first_new]} warm {warm_new}"
        )
        return {
            "startup_ms": _median(startup),
            "startup_ms_all": [round(x, 1) for x in startup],
            "startup_ms_npm_launcher": _median(launched) if launched else None,
            "new_session_ms": _median(first_new, 2),
            "new_session_warm_ms": _median(warm_new, 2),
        }

    async def turns(self) -> Json:
        """One-line answers in one session after 3 warm-up prompts: `session/prompt` to its
        `end_turn` answer, less the time the fake took to serve that turn's model request."""
        turns = 12 if self.quick else 30
        place = self.peer.fresh("turns")
        client = await self.agent(place)
        raw: list[float] = []
        net: list[float] = []
        fake: list[float] = []
        try:
            session_id = await client.new_session(place.workspace)
            for _ in range(3):
                await client.prompt(session_id, "warm up")
            await self.served()
            for i in range(turns):
                began = time.perf_counter()
                reason = await client.prompt(session_id, f"hello {i}")
                took = _ms(began)
                if reason != "end_turn":
                    raise RuntimeError(f"a one-line turn ended {reason}")
                served = await self.served()
                if len(served) != 1:
                    raise RuntimeError(f"a one-line turn made {len(served)} model requests")
                raw.append(took)
                fake.append(served[0])
                net.append(took - served[0])
        finally:
            await client.close()
        log(f"{self.peer.name} turn ms {[round(x, 1) for x in raw]}; fake {fake}")
        return {
            "turn_overhead_ms": _median(net, 2),
            "turn_overhead_ms_p99": round(percentile(net, 99), 2),
            "turn_ms": _median(raw, 2),
            "fake_served_ms": _median(fake, 2),
        }

    async def deltas(self) -> Json:
        """A `stream: 20000` answer in a fresh session (one agent process): the deltas the
        model sent, divided by the time from the prompt to `end_turn`; the whole text must
        have arrived in `agent_message_chunk`s, however many the agent sent them in."""
        runs = 1 if self.quick else 3
        rates: list[float] = []
        chunks: list[int] = []
        place = self.peer.fresh("deltas")
        client = await self.agent(place)
        try:
            for i in range(runs + 1):  # the first one warms up
                session_id = await client.new_session(place.workspace)
                await client.prompt(session_id, "warm up")
                chars, count = client.stream_chars, client.stream_chunks
                began = time.perf_counter()
                reason = await client.prompt(session_id, f"stream: {STREAM_DELTAS}", timeout=300)
                elapsed = time.perf_counter() - began
                got = client.stream_chars - chars
                if reason != "end_turn" or got != 2 * STREAM_DELTAS:
                    raise RuntimeError(f"stream turn {reason} with {got} of the characters")
                if i:
                    rates.append(STREAM_DELTAS / elapsed)
                    chunks.append(client.stream_chunks - count)
        finally:
            await client.close()
        log(f"{self.peer.name} deltas/s {[round(x) for x in rates]}; chunks {chunks}")
        return {"deltas_per_s": round(statistics.median(rates)), "chunks_per_answer": chunks[-1]}

    async def _cancel_once(
        self, client: AcpClient, session_id: str, settle_s: float
    ) -> tuple[float, bool, bool, bool]:
        """`session/cancel` of a prompt whose command (`sleep 30`) runs, `settle_s` after its
        `sleep` started: (ms to the `cancelled` answer, asked for permission, command alive at the
        answer, alive one second later)."""
        tag = f"bench-acp-{uuid.uuid4().hex[:10]}"
        text = await self.peer.steer_command(tag, f"sleep 30; echo {tag}")
        asked = len(client.asked)
        pending = client.start_prompt(session_id, text)

        def tree() -> list[int]:
            return process_tree(tool_processes(markers=[tag]))

        # runs once its `sleep` exists: the tagged processes may be sandbox wrappers
        # (bwrap's command line carries the command) set up before the shell starts
        if not await wait_for(lambda: any(_is_sleep(pid) for pid in tree()), 15):
            pending.cancel()
            raise RuntimeError(f"the command never started (asked {len(client.asked) - asked})")
        if settle_s:
            await asyncio.sleep(settle_s)
        snapshot = {pid: start_time(pid) for pid in tree()}
        began = time.perf_counter()
        client.cancel(session_id)
        answer = await asyncio.wait_for(pending, 15)
        took = _ms(began)
        at_answer = bool(still_alive(snapshot))
        if answer.get("stopReason") != "cancelled":
            raise RuntimeError(f"the cancelled prompt answered {answer}")
        await asyncio.sleep(1.0)
        left = still_alive(snapshot)
        kill_all(left)  # ours to clean up: bounded, by pid
        return took, len(client.asked) > asked, at_answer, bool(left)

    async def cancel(self) -> Json:
        """Cancels as soon as the command and its child exist (the latency figures), then a
        few once it has run for a second; permission is granted when asked. The prompt after
        them must end normally (the model's history is whole again)."""
        early_n = 4 if self.quick else 10
        late_n = 2 if self.quick else 3
        place = self.peer.fresh("cancel")
        client = await self.agent(place)
        early: list[tuple[float, bool, bool, bool]] = []
        late: list[tuple[float, bool, bool, bool]] = []
        try:
            session_id = await client.new_session(place.workspace)
            await client.prompt(session_id, "warm up")
            for _ in range(early_n):
                early.append(await self._cancel_once(client, session_id, 0.0))
            for _ in range(late_n):
                late.append(await self._cancel_once(client, session_id, 1.0))
            after = await client.prompt(session_id, "still there?")
            if after != "end_turn":
                raise RuntimeError(f"the prompt after the cancels ended {after}")
        finally:
            await client.close()
        times = [e[0] for e in early]
        log(f"{self.peer.name} cancel ms {[round(x, 1) for x in sorted(times)]}; late {late}")

        def checks(samples: list[tuple[float, bool, bool, bool]]) -> Json:
            return {
                "command_alive_at_answer": sum(s[2] for s in samples),
                "command_alive_1s_later": sum(s[3] for s in samples),
                "samples": len(samples),
                "asked_permission": sum(s[1] for s in samples),
            }

        return {
            "cancel_ms": {
                "p50": round(percentile(times, 50), 2),
                "p99": round(percentile(times, 99), 2),
                "samples": len(times),
            },
            "cancel_late_ms": round(statistics.median(e[0] for e in late), 2),
            "cancel_checks": checks(early),
            "cancel_late_checks": checks(late),
        }

    async def _load_once(self, place: Place, session_id: str, turns: int, send: bool) -> Json:
        client = await self.agent(place)
        try:
            await asyncio.sleep(0.2)  # the first request after start, as the resume rows
            began = time.perf_counter()
            await client.load_session(session_id, place.workspace)
            answered = time.perf_counter()
            # every turn's user message replayed (they may trail the answer)
            if not await wait_for(lambda: client.counts["user_message_chunk"] >= turns, 60):
                raise RuntimeError(
                    f"session/load replayed {client.counts['user_message_chunk']} of "
                    f"{turns} user messages"
                )
            await asyncio.sleep(0.3)  # anything still on its way
            last = max([answered, *(client.last_at.get(k, 0.0) for k in REPLAYED)])
            mem = memory(client.pid)
            figure = {
                "ms": (last - began) * 1000,
                "answer_ms": (answered - began) * 1000,
                "updates": sum(client.counts[k] for k in REPLAYED),
                "hwm_mb": mem.hwm_mb,
            }
            if send:  # the loaded session goes on, and the strict fake takes its history
                before = await self.peer.rejected()
                reason = await client.prompt(session_id, "go on", timeout=120)
                if reason != "end_turn" or await self.peer.rejected() != before:
                    raise RuntimeError(f"the prompt after session/load ended {reason}")
            return figure
        finally:
            await client.close()

    async def load(self) -> Json:
        """`session/load` of sessions of 1,000 and 10,000 items in a freshly started agent:
        from the request to its answer with every replayed update received (the later)."""
        runs = 1 if self.quick else 3
        out: Json = {"load_ms": {}, "load_answer_ms": {}, "load_updates": {}, "load_hwm_mb": {}}
        for size in LOAD_SIZES:
            place = self.peer.fresh(f"load-{size}")
            session_id, turns = await self.peer.big_session(place, size)
            samples = [
                await self._load_once(place, session_id, turns, size == LOAD_SIZES[0] and last)
                for last in [False] * (runs - 1) + [True]
            ]
            key = str(size)
            out["load_ms"][key] = _median([s["ms"] for s in samples])
            out["load_answer_ms"][key] = _median([s["answer_ms"] for s in samples])
            out["load_updates"][key] = samples[0]["updates"]
            out["load_hwm_mb"][key] = _median([s["hwm_mb"] for s in samples])
            log(
                f"{self.peer.name} load {size}: ms {[round(s['ms']) for s in samples]}, "
                f"{samples[0]['updates']} updates"
            )
        return out


STEPS = ("startup", "turns", "deltas", "cancel", "load")


def steps(bench: AcpBench) -> list[tuple[str, Callable[[], Awaitable[Json]]]]:
    return [
        ("startup", bench.startup),
        ("turns", bench.turns),
        ("deltas", bench.deltas),
        ("cancel", bench.cancel),
        ("load", bench.load),
    ]

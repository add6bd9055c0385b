"""Stop storms: many sends stopped at random moments, by every means, in parallel sessions.

    python bench/stop_storm.py [--iterations N] [--sessions S] [--seed X]

Each round sends one of: a slow stream, a long command, a short command, a fast stream, a
plain message; waits 0-50 ms; then stops it by $/cancelRequest, agent/interrupt, both, a
double cancel, or an interrupt immediately followed by the next send (which must be
accepted: the interrupt answers only after the turn has ended). Short turns make the
stop race the turn's own end.

Checked, wire-level: every request id answered exactly once and no answer for an unknown
id; every turn ends completed or interrupted with exactly one turnCompleted, last, with
gapless seq; no tool process alive when an interrupt answers or after the storm; no request
refused by the strict fake API; a final send completes in every session; the server's
threads, file descriptors and RSS stay bounded. Prints JSON; exit status 1 on any failure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.agent import API_KEY, Agent, server_env, start_agent
from bench.fake_proc import FakeAPIProcess
from bench.procs import Memory, fd_kinds, kill_all, memory, tool_processes
from bench.rpc import RpcError, ServerGone, wait_for

MODES = ("cancel", "interrupt", "both", "double_cancel", "interrupt_then_send")
# Growth allowed over the warmed-up baseline before the storm counts as leaking.
MAX_THREAD_GROWTH = 4
MAX_FD_GROWTH = 8
MAX_RSS_GROWTH_MB = 60.0


@dataclass
class StormReport:
    rounds: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    modes: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    stop_ms: list[float] = field(default_factory=list)
    stop_ms_by_text: defaultdict[str, list[float]] = field(
        default_factory=lambda: defaultdict(list)
    )
    memory_before: Memory | None = None
    memory_after: Memory | None = None
    unanswered: list[str] = field(default_factory=list)
    answered_twice: list[str] = field(default_factory=list)
    unknown_answers: int = 0
    leaked: list[int] = field(default_factory=list)
    rejected: int = 0

    @property
    def ok(self) -> bool:
        return not (
            self.problems
            or self.unanswered
            or self.answered_twice
            or self.unknown_answers
            or self.leaked
            or self.rejected
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "rounds": self.rounds,
            "statuses": dict(self.statuses),
            "modes": dict(self.modes),
            "unanswered": self.unanswered,
            "answered_twice": self.answered_twice,
            "unknown_answers": self.unknown_answers,
            "leaked_processes": self.leaked,
            "rejected": self.rejected,
            "stop_ms_median": round(statistics.median(self.stop_ms), 2) if self.stop_ms else None,
            "stop_ms_max": round(max(self.stop_ms), 2) if self.stop_ms else None,
            "stop_ms_max_by_kind": {k: round(max(v), 2) for k, v in self.stop_ms_by_text.items()},
            "memory_before": self.memory_before.to_json() if self.memory_before else None,
            "memory_after": self.memory_after.to_json() if self.memory_after else None,
            "problems": self.problems[:50],
        }


def _texts(tag: str) -> list[str]:
    return [
        "slow: 0.005",
        f"run: sleep 1; : {tag}",
        f"run: echo hi; : {tag}",
        "stream: 2000",
        "hello",
    ]


async def _approve_later(rng: random.Random) -> dict[str, str]:
    await asyncio.sleep(rng.uniform(0, 0.02))
    return {"decision": "approve"}


def check_turn_events(agent: Agent, turn_id: str) -> str | None:
    events = agent.turn_events(turn_id)
    seqs = [e["seq"] for e in events]
    if seqs != list(range(len(seqs))):
        return f"turn {turn_id}: seq {seqs[:5]}... not gapless from 0"
    ends = [e for e in events if e["type"] == "turnCompleted"]
    if len(ends) != 1 or events[-1]["type"] != "turnCompleted":
        return f"turn {turn_id}: {len(ends)} turnCompleted event(s), last is {events[-1]['type']}"
    return None


async def _round(
    agent: Agent, session_id: str, rng: random.Random, report: StormReport, prefix: str
) -> None:
    tag = f"{prefix}-{uuid.uuid4().hex[:10]}"
    text = rng.choice(_texts(tag))
    mode = rng.choice(MODES)
    report.modes[mode] += 1
    report.rounds += 1
    msg_id, pending = agent.start_send(text, sessionId=session_id)
    ended: list[float] = []
    pending.add_done_callback(lambda _f: ended.append(time.perf_counter()))
    await asyncio.sleep(rng.uniform(0, 0.05))
    began = time.perf_counter()
    interrupt_answer: Any = None
    try:
        if mode in ("cancel", "both", "double_cancel"):
            agent.client.cancel(msg_id)
        if mode == "double_cancel":
            agent.client.cancel(msg_id)
        if mode in ("interrupt", "both", "interrupt_then_send"):
            interrupt_answer = await agent.request(
                "agent/interrupt", {"sessionId": session_id}, timeout=15
            )
            if interrupt_answer.get("interrupted"):
                alive = tool_processes(markers=[tag])
                if alive:
                    report.problems.append(f"{tag}: tools {alive} alive when interrupt answered")
        if mode == "interrupt_then_send" and interrupt_answer.get("interrupted"):
            # the turn has ended when the interrupt answers, so this send must be accepted
            try:
                follow = await agent.send("right after the interrupt", sessionId=session_id)
                report.statuses[f"follow-{follow['status']}"] += 1
                if follow["status"] == "failed":
                    report.problems.append(
                        f"{tag}: send after interrupt failed: {follow.get('error')}"
                    )
            except RpcError as exc:
                report.problems.append(f"{tag}: send right after interrupt refused: {exc}")
        result = await asyncio.wait_for(pending, 20)
        # from the stop to the send's answer (a turn that had ended already counts as 0)
        report.stop_ms.append(max(0.0, (ended[0] - began) * 1000))
        report.stop_ms_by_text[text.split(":")[0].split()[0]].append(report.stop_ms[-1])
    except (TimeoutError, ServerGone, RpcError) as exc:
        report.problems.append(f"{tag} ({mode}, {text!r}): {exc!r}")
        return
    status = result.get("status")
    report.statuses[status] += 1
    if status not in ("completed", "interrupted"):
        report.problems.append(f"{tag} ({mode}, {text!r}): status {status} {result.get('error')}")
    problem = check_turn_events(agent, result["turnId"])
    if problem:
        report.problems.append(problem)


async def run_stop_storm(
    iterations: int,
    seed: int,
    *,
    sessions: int = 2,
    root: Path | None = None,
    progress: bool = False,
    time_limit_s: float = 600.0,
) -> StormReport:
    rng = random.Random(seed)
    report = StormReport()
    own_root = root is None
    base = root or Path(tempfile.mkdtemp(prefix="agentls-storm-"))
    prefix = f"agentls-storm-{uuid.uuid4().hex[:6]}"
    workspace = base / "project"
    workspace.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + time_limit_s
    try:
        async with FakeAPIProcess(API_KEY) as api:
            env = server_env(base / "state", api.base_url)
            agent = await start_agent(
                workspace,
                env,
                {"approval": "always-ask", "killGraceS": 0.2},
                stderr_path=base / "server.stderr",
            )
            agent.decide = lambda _p: _approve_later(rng)
            try:
                ids = []
                for _ in range(sessions):
                    ids.append((await agent.request("agent/newSession", {}))["sessionId"])
                for session_id in ids:  # warm up every path once before the baseline
                    await agent.send(f"run: echo warm; : {prefix}", sessionId=session_id)
                    await agent.send("stream: 2000", sessionId=session_id)
                await asyncio.sleep(0.3)
                report.memory_before = memory(agent.pid)
                fds_before = fd_kinds(agent.pid)

                async def worker(session_id: str, rounds: int, number: int) -> None:
                    for i in range(rounds):
                        if time.monotonic() > deadline:
                            report.problems.append("time limit reached")
                            return
                        await _round(agent, session_id, rng, report, prefix)
                        if progress and number == 0 and i % 50 == 49:
                            print(f"[storm] {report.rounds} rounds", file=sys.stderr, flush=True)

                per = [
                    iterations // sessions + (i < iterations % sessions) for i in range(sessions)
                ]
                await asyncio.gather(
                    *(worker(s, n, i) for i, (s, n) in enumerate(zip(ids, per, strict=True)))
                )
                for session_id in ids:
                    final = await agent.send("after the storm", sessionId=session_id)
                    if final.get("status") != "completed":
                        report.problems.append(f"final send ended {final.get('status')}")
                await wait_for(lambda: not tool_processes(agent.pid, [prefix]), 2.0)
                report.leaked = tool_processes(agent.pid, [prefix])
                await asyncio.sleep(0.3)
                report.memory_after = memory(agent.pid)
                before, after = report.memory_before, report.memory_after
                if after.threads > before.threads + MAX_THREAD_GROWTH:
                    report.problems.append(f"threads grew {before.threads} -> {after.threads}")
                if after.fds > before.fds + MAX_FD_GROWTH:
                    report.problems.append(
                        f"open fds grew {before.fds} -> {after.fds}: "
                        f"{fds_before} -> {fd_kinds(agent.pid)}"
                    )
                if after.rss_mb > before.rss_mb + MAX_RSS_GROWTH_MB:
                    report.problems.append(f"RSS grew {before.rss_mb:.0f} -> {after.rss_mb:.0f} MB")
                if not agent.client.alive:
                    report.problems.append("the server died")
            finally:
                await agent.close()
                kill_all(report.leaked)
            report.unanswered = agent.client.unanswered()
            report.answered_twice = agent.client.answered_twice()
            report.unknown_answers = len(agent.client.unknown_responses)
            if agent.client.protocol_errors:
                report.problems += agent.client.protocol_errors[:5]
            report.rejected = len((await api.stats())["rejected"])
    finally:
        if own_root:
            shutil.rmtree(base, ignore_errors=True)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python bench/stop_storm.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--sessions", type=int, default=3)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 32)
    started = time.monotonic()
    report = asyncio.run(
        run_stop_storm(args.iterations, seed, sessions=args.sessions, progress=True)
    )
    import orjson

    out = {"seed": seed, **report.to_json(), "wall_s": round(time.monotonic() - started, 1)}
    print(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode())
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())

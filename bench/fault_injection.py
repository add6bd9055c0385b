"""SIGKILL the server at random moments of scripted sessions, then resume and go on.

    python bench/fault_injection.py [--kills N] [--seed S] [--episode K]

Each kill lands in one of these moments (chosen at random, the delay too):
  stream    while the model streams (`slow:` replies)
  sleep     while a command runs (`sleep 5; echo x`)
  loop      while a command prints (`for i in $(seq 1 50); ...`), or just after it ends
  write     right as a tool output or a turn end is being written
  approval  while an approval is pending (policy always-ask, the client never answers)
  random    at a random delay after a send of any of the above
After each kill a new server on the same AGENTLS_HOME and workspace resumes the session and
sends one more message. Printed as JSON, and the exit status is non-zero unless all are 0:
  resume_failed        agent/resume answered an error, timed out, or lost a reported turn
  rejected             requests the strict fake API refused (400s) after a resume
  leaked_processes     tool processes still alive ~2 s after the kill
  missing_lines        turns whose agent/send answer arrived but whose start or end record
                       is not in the rollout file
  next_send_failed     (extra) the message after a resume did not complete
Every tool command carries a unique marker in its command line; leftovers are also found by
the watchdog's environment mark of the killed server. Each episode (K kills) gets a fresh
state folder and workspace; within one, the same session goes on across kills.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.agentls.rollout.reference_reader import read_rollout
from tests.e2e.harness import process_tree

from agentls.rollout.paths import WorkspaceLayout
from bench.agent import API_KEY, Agent, server_env, start_agent
from bench.fake_proc import FakeAPIProcess
from bench.procs import kill_all, start_time, still_alive, tool_processes
from bench.rpc import RpcError, ServerGone, wait_for

SCENARIOS = ("stream", "sleep", "loop", "write", "approval", "random")
WATCHDOG_S = 2.0
REPAIRS = {
    "calls_aborted": "had no output",
    "turns_cut": "were cut off",
    "torn_last_line": "cut off mid-write",
    "corrupt_line": "not valid JSON",
}
OPTIONS = {"approval": "always-ask", "killGraceS": 0.2}


@dataclass
class Report:
    kills: int = 0
    resume_failed: int = 0
    rejected: int = 0
    leaked_processes: int = 0
    missing_lines: int = 0
    next_send_failed: int = 0
    scenarios: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    turns_reported: int = 0
    turns_checked: int = 0
    kills_with_live_tools: int = 0
    repairs: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not (
            self.resume_failed
            or self.rejected
            or self.leaked_processes
            or self.missing_lines
            or self.next_send_failed
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "kills": self.kills,
            "resume_failed": self.resume_failed,
            "rejected": self.rejected,
            "leaked_processes": self.leaked_processes,
            "missing_lines": self.missing_lines,
            "next_send_failed": self.next_send_failed,
            "turns_reported": self.turns_reported,
            "kills_with_live_tools": self.kills_with_live_tools,
            "repairs_seen_on_resume": dict(self.repairs),
            "scenarios": dict(self.scenarios),
            "failures": self.failures[:50],
        }


@dataclass
class Reported:
    turn_id: str
    status: str
    text: str


class Episode:
    """One state folder, one workspace, one session carried on across kills."""

    def __init__(self, root: Path, api: FakeAPIProcess, rng: random.Random, report: Report):
        self.root = root
        self.api = api
        self.rng = rng
        self.report = report
        self.workspace = root / "project"
        self.workspace.mkdir(parents=True)
        self.env = server_env(root / "state", api.base_url)
        self.home = root / "state"
        self.session_id: str | None = None
        self.reported: list[Reported] = []
        self.servers = 0
        self.agent: Agent | None = None

    def fail(self, what: str) -> None:
        self.report.failures.append(f"{self.root.name}: {what}")

    async def start_server(self) -> Agent:
        self.servers += 1
        agent = await start_agent(
            self.workspace,
            self.env,
            OPTIONS,
            stderr_path=self.root / f"server-{self.servers}.stderr",
        )
        self.agent = agent
        return agent

    def record(self, result: Any, text: str) -> None:
        if isinstance(result, dict) and "turnId" in result:
            self.reported.append(Reported(result["turnId"], result.get("status", ""), text))
            self.report.turns_reported += 1

    async def send(self, agent: Agent, text: str) -> dict[str, Any]:
        params: dict[str, Any] = {"text": text}
        if self.session_id:
            params["sessionId"] = self.session_id
        result: dict[str, Any] = await agent.client.request("agent/send", params, timeout=30)
        self.session_id = result["sessionId"]
        self.record(result, text)
        return result

    def tag(self) -> str:
        return f"agentls-fi-{uuid.uuid4().hex[:12]}"

    # -- one kill -------------------------------------------------------------------------
    async def kill_once(self, scenario: str) -> None:
        agent = self.agent
        assert agent is not None
        rng = self.rng
        tag = self.tag()
        if rng.random() < 0.3:  # a turn that completes first, with or without a command
            text = f"run: echo done; : {tag}" if rng.random() < 0.5 else "a finished turn"
            result = await self.send(agent, text)
            if result.get("status") != "completed":
                self.fail(f"warm-up turn ended {result.get('status')}: {result.get('error')}")
        hold = asyncio.get_running_loop().create_future()
        agent.decide = (lambda _p: hold) if scenario == "approval" else _approve
        kind = scenario if scenario != "random" else rng.choice(SCENARIOS[:5])
        text = {
            "stream": "slow: 0.01",
            "sleep": f"run: sleep 5; echo x; : {tag}",
            "loop": f"run: for i in $(seq 1 50); do echo $i; sleep 0.01; done; : {tag}",
            "write": f"run: seq 1 {rng.choice([10, 2000, 20000])}; : {tag}"
            if rng.random() < 0.6
            else f"quick turn {tag}",
            "approval": f"run: touch never-{tag}",
        }[kind]
        triggers = {
            "stream": lambda e: e["type"] == "textDelta",
            "sleep": lambda e: e["type"] == "toolCallStarted",
            "loop": lambda e: e["type"] == "toolCallStarted",
            "write": lambda e: e["type"] in ("toolCallCompleted", "messageCompleted"),
        }
        trigger = agent.expect_event(triggers.get(kind, lambda _e: False))
        params: dict[str, Any] = {"text": text}
        if self.session_id:
            params["sessionId"] = self.session_id
        agent.approval_requests.clear()
        _msg, pending = agent.client.start_request("agent/send", params)
        pending.add_done_callback(lambda f: None if f.cancelled() else f.exception())
        snapshot: dict[int, int | None] = {}
        if scenario == "random":
            await asyncio.sleep(rng.uniform(0, 0.5))
        elif kind == "approval":
            await wait_for(lambda: len(agent.approval_requests) > 0 or pending.done(), 10)
            await asyncio.sleep(rng.uniform(0, 0.1))
        else:
            with contextlib.suppress(TimeoutError, ServerGone):
                await asyncio.wait_for(trigger, 10)
            if kind in ("sleep", "loop"):
                await wait_for(lambda: bool(tool_processes(markers=[tag])), 5)
            delay = {"stream": 0.3, "sleep": 0.2, "loop": 0.7, "write": 0.004}[kind]
            await asyncio.sleep(rng.uniform(0, delay))
        for pid in process_tree(tool_processes(agent.pid, [tag])):
            snapshot[pid] = start_time(pid)
        if snapshot:
            self.report.kills_with_live_tools += 1
        agent.client.kill()
        with contextlib.suppress(TimeoutError):
            await agent.client.wait_exit(10)
        # an answer the server wrote before it died was reported, even if read after the kill
        if pending.done() and not pending.cancelled() and pending.exception() is None:
            self.record(pending.result(), text)
        if agent.client.transport is not None:
            agent.client.transport.close()
        await self.check_leaks(agent.pid, tag, snapshot)
        self.check_lines()
        await self.resume_and_go_on()

    async def check_leaks(self, server_pid: int, tag: str, snapshot: dict[int, int | None]) -> None:
        def left() -> list[int]:
            found = set(still_alive(snapshot)) | set(tool_processes(server_pid, [tag]))
            # the watchdog itself must go too, once its work is done
            found |= set(tool_processes(markers=[f"reaper.py {server_pid}-"]))
            return sorted(found)

        await wait_for(lambda: not left(), WATCHDOG_S + 0.5, interval=0.02)
        survivors = left()
        if survivors:
            self.report.leaked_processes += len(survivors)
            self.fail(f"tool processes alive {WATCHDOG_S + 0.5}s after the kill: {survivors}")
            kill_all(survivors)

    def check_lines(self) -> None:
        if not self.session_id or not self.reported:
            return
        path = WorkspaceLayout.for_path(self.home, self.workspace).find_session(self.session_id)
        if path is None:
            self.report.missing_lines += len(self.reported)
            self.fail(f"session file of {self.session_id} is gone")
            return
        rollout = read_rollout(path)
        started = {e.get("turn_id") for e in rollout.events if e.get("type") == "turn_started"}
        ended: dict[str, str] = {}
        for event in rollout.events:
            if event.get("type") == "turn_completed":
                ended[str(event.get("turn_id"))] = str(event.get("status"))
            elif event.get("type") == "turn_aborted" and event.get("reason") == "interrupted":
                ended[str(event.get("turn_id"))] = "interrupted"
        for turn in self.reported:
            self.report.turns_checked += 1
            if turn.turn_id not in started or ended.get(turn.turn_id) != turn.status:
                self.report.missing_lines += 1
                self.fail(
                    f"turn {turn.turn_id} was answered {turn.status} but the file has "
                    f"start={turn.turn_id in started} end={ended.get(turn.turn_id)}"
                )
        self.reported.clear()

    async def resume_and_go_on(self) -> None:
        try:
            agent = await self.start_server()
        except Exception as exc:
            self.report.resume_failed += 1
            self.fail(f"new server did not start: {exc!r}")
            return
        if self.session_id is None:
            return
        before = len((await self.api.stats())["rejected"])
        try:
            resumed = await agent.client.request(
                "agent/resume", {"sessionId": self.session_id}, timeout=30
            )
            if resumed.get("sessionId") != self.session_id:
                raise ValueError(f"resumed {resumed.get('sessionId')}")
            for warning in resumed.get("warnings", []):
                for key, words in REPAIRS.items():
                    if words in warning:
                        self.report.repairs[key] += 1
        except (RpcError, ServerGone, TimeoutError, ValueError) as exc:
            self.report.resume_failed += 1
            self.fail(f"resume failed: {exc!r}")
            return
        try:
            result = await self.send(agent, "after the kill")
        except (RpcError, ServerGone, TimeoutError) as exc:
            self.report.next_send_failed += 1
            self.fail(f"send after resume failed: {exc!r}")
            return
        rejected = (await self.api.stats())["rejected"][before:]
        if rejected:
            self.report.rejected += len(rejected)
            self.fail(f"fake API rejected: {rejected[0][1]['error']['message']}")
        elif result.get("status") != "completed":
            self.report.next_send_failed += 1
            self.fail(f"send after resume ended {result.get('status')}: {result.get('error')}")

    async def close(self) -> None:
        if self.agent is not None and self.agent.client.alive:
            pid = self.agent.pid
            await self.agent.close()
            await self.check_leaks(pid, "agentls-fi-no-such-tag", {})
            self.check_lines()


def _approve(_params: Any) -> dict[str, str]:
    return {"decision": "approve"}


async def run_fault_injection(
    kills: int,
    seed: int,
    *,
    episode: int = 10,
    root: Path | None = None,
    progress: bool = True,
    scenario_order: list[str] | None = None,
    time_limit_s: float = 3600.0,
) -> Report:
    """Run `kills` kills; `scenario_order` (if given) is used first, then random ones."""
    rng = random.Random(seed)
    deadline = time.monotonic() + time_limit_s
    report = Report()
    own_root = root is None
    base = root or Path(tempfile.mkdtemp(prefix="agentls-faults-"))
    order = list(scenario_order or [])
    try:
        async with FakeAPIProcess(API_KEY) as api:
            done = 0
            number = 0
            while done < kills and number < kills:  # every episode makes one kill at least
                if time.monotonic() > deadline:
                    report.failures.append(f"time limit of {time_limit_s:.0f} s reached")
                    break
                number += 1
                ep = Episode(base / f"episode-{number:03d}", api, rng, report)
                try:
                    agent = await ep.start_server()
                    await ep.send(agent, "hello before the kills")
                    for _ in range(min(episode, kills - done)):
                        scenario = order.pop(0) if order else rng.choice(SCENARIOS)
                        report.scenarios[scenario] += 1
                        report.kills += 1
                        done += 1
                        if ep.agent is None or not ep.agent.client.alive:
                            agent = await ep.start_server()
                        await ep.kill_once(scenario)
                        if progress and done % 10 == 0:
                            print(
                                f"[faults] {done}/{kills} kills; failures so far: "
                                f"{len(report.failures)}",
                                file=sys.stderr,
                                flush=True,
                            )
                except Exception as exc:
                    report.failures.append(f"episode {number} crashed: {exc!r}")
                    report.resume_failed += 1
                finally:
                    with contextlib.suppress(Exception):
                        await ep.close()
    finally:
        if own_root:
            shutil.rmtree(base, ignore_errors=True)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python bench/fault_injection.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--episode", type=int, default=10, help="kills per fresh workspace")
    parser.add_argument("--keep", type=Path, help="keep state folders and stderr logs here")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 32)
    started = time.monotonic()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    report = asyncio.run(
        run_fault_injection(args.kills, seed, episode=args.episode, root=args.keep)
    )
    import orjson

    out = {"seed": seed, **report.to_json(), "wall_s": round(time.monotonic() - started, 1)}
    print(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode())
    return 0 if report.ok and report.kills == args.kills else 1


if __name__ == "__main__":
    sys.exit(main())

"""The same figures as bench/run.py, taken from the Codex CLI app-server in the same run.

Each figure is measured the way agentls's is, through Codex's own protocol: start to the
`initialize` answer, `turn/start` to `turn/completed` against the instant fake, deltas per
second of a 20,000-delta answer (`item/agentMessage/delta` notifications), `turn/interrupt`
while an `exec_command` of `sleep 30` runs (answer time, and whether the command is still
alive when the answer arrives), and `thread/resume` of sessions of 1k/10k/50k response items
(whole, and with `excludeTurns: true` followed by `thread/turns/list` of the newest 50 turns,
Codex's paged resume, beside agentls's `historyLimit: 200`).
Memory is the app-server process's own RSS and peak (VmHWM), as for agentls.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from tests.e2e.harness import process_tree

from bench.codex_app import (
    CodexClient,
    CodexInstall,
    cache_dir,
    codex_env,
    provider_args,
)
from bench.codex_rollout import grow, rollout_file
from bench.peer_fake import PeerFakeProcess
from bench.procs import memory, tool_processes
from bench.rpc import wait_for

API_KEY = "bench-peer-key"
STREAM_DELTAS = 20_000
RESUME_SIZES = (1_000, 10_000, 50_000)
PAGE_TURNS = 50  # 200 items of 4 per turn, as agentls's historyLimit: 200
OUTPUT_COMMAND = "yes 'the quick brown fox jumps over the lazy dog 0123456789' | head -c 1024"


def log(message: str) -> None:
    print(f"[bench:codex] {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def _kill(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


class CodexBench:
    def __init__(self, install: CodexInstall, api: PeerFakeProcess, quick: bool) -> None:
        self.install = install
        self.api = api
        self.quick = quick
        cache_dir().parent.mkdir(parents=True, exist_ok=True)
        # Not under /tmp: Codex refuses to set up its helper links in a temporary folder.
        self.root = Path(tempfile.mkdtemp(prefix="homes-", dir=cache_dir().parent))

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def fresh(self, name: str) -> tuple[Path, Path]:
        base = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.root))
        workspace = base / "project"
        workspace.mkdir()
        return base / "home", workspace

    async def server(self, home: Path, workspace: Path, *, launcher: bool = False) -> CodexClient:
        args = ["app-server", *provider_args(self.api.base_url)]
        if launcher and self.install.node is not None:
            command = [self.install.node, str(self.install.launcher), *args]
        else:
            command = [str(self.install.binary), *args]
        client = CodexClient()
        await client.start(command, codex_env(home, API_KEY), workspace)
        try:
            await client.initialize()
        except BaseException:
            await client.close()
            raise
        return client

    async def rejected(self) -> int:
        return len((await self.api.stats())["rejected"])

    # -- figures ----------------------------------------------------------------------------
    async def startup_and_idle(self) -> dict[str, Any]:
        runs = 3 if self.quick else 5
        native: list[float] = []
        idle: list[float] = []
        first: list[float] = []
        for i in range(runs + 1):  # run 0 warms the page cache
            home, workspace = self.fresh("startup")
            client = await self.server(home, workspace)
            try:
                await asyncio.sleep(1.0)
                rss = memory(client.pid).rss_mb
                began = time.perf_counter()
                await client.request("thread/list", {"limit": 50})
                if i:
                    native.append(client.initialize_ms)
                    idle.append(rss)
                    first.append((time.perf_counter() - began) * 1000)
            finally:
                await client.close()
        launched: list[float] = []
        if self.install.node is not None:
            for _ in range(2):
                home, workspace = self.fresh("launcher")
                client = await self.server(home, workspace, launcher=True)
                launched.append(client.initialize_ms)
                await client.close()
        log(f"startup ms {[round(x) for x in native]} (npm launcher {launched}); idle MB {idle}")
        return {
            "startup_ms": round(statistics.median(native), 1),
            "startup_ms_npm_launcher": round(statistics.median(launched), 1) if launched else None,
            "idle_rss_mb": round(statistics.median(idle), 1),
            "first_request_ms": round(statistics.median(first), 1),
        }

    async def turn_overhead(self) -> dict[str, Any]:
        turns = 12 if self.quick else 30
        home, workspace = self.fresh("turns")
        client = await self.server(home, workspace)
        samples: list[float] = []
        try:
            thread = await client.start_thread(workspace)
            for _ in range(3):
                await client.turn(thread, "warm up")
            for i in range(turns):
                started = time.perf_counter()
                turn = await client.turn(thread, f"hello {i}")
                samples.append((time.perf_counter() - started) * 1000)
                if turn["status"] != "completed":
                    raise RuntimeError(f"turn ended {turn['status']}: {turn.get('error')}")
        finally:
            await client.close()
        log(f"turn ms {[round(x, 1) for x in samples]}")
        return {
            "turn_overhead_ms": round(statistics.median(samples), 2),
            "turn_overhead_ms_p99": round(percentile(samples, 99), 2),
        }

    async def deltas(self) -> dict[str, Any]:
        runs = 1 if self.quick else 3
        rates: list[float] = []
        home, workspace = self.fresh("deltas")
        client = await self.server(home, workspace)
        try:
            for _ in range(runs):
                thread = await client.start_thread(workspace)  # a short history each time
                await client.turn(thread, "warm up")
                before = client.counts["item/agentMessage/delta"]
                started = time.perf_counter()
                turn = await client.turn(thread, f"stream: {STREAM_DELTAS}", timeout=300)
                elapsed = time.perf_counter() - started
                got = client.counts["item/agentMessage/delta"] - before
                if turn["status"] != "completed" or got != STREAM_DELTAS:
                    raise RuntimeError(f"stream turn {turn['status']} with {got} deltas")
                rates.append(STREAM_DELTAS / elapsed)
        finally:
            await client.close()
        log(f"deltas/s {[round(x) for x in rates]}")
        return {"deltas_per_s": round(statistics.median(rates))}

    async def _interrupt_once(
        self, client: CodexClient, thread: str, settle_s: float
    ) -> tuple[float, float, bool, bool]:
        """`turn/interrupt` of a running `sleep 30`, `settle_s` after it started:
        (answer ms, turn/completed ms, alive at the answer, alive one second later)."""
        tag = f"bench-codex-int-{uuid.uuid4().hex[:10]}"
        text = f"sleep {tag}"
        await self.api.exec_once(text, f"sleep 30; : {tag}")
        done = client.turn_done(thread)
        started = await client.request(
            "turn/start", {"threadId": thread, "input": [{"type": "text", "text": text}]}
        )
        turn_id = started["turn"]["id"]

        def tree() -> list[int]:
            return process_tree(tool_processes(markers=[tag]))

        if not await wait_for(lambda: len(tree()) >= 2, 15):  # bash and its sleep
            raise RuntimeError("the command never started")
        if settle_s:
            await asyncio.sleep(settle_s)
        snapshot = tree()
        began = time.perf_counter()
        await client.request("turn/interrupt", {"threadId": thread, "turnId": turn_id})
        answer_ms = (time.perf_counter() - began) * 1000
        alive_at_answer = any(pid in tree() for pid in snapshot)
        message = await asyncio.wait_for(done, 15)
        completed_ms = (time.perf_counter() - began) * 1000
        status = message["params"]["turn"]["status"]
        if status != "interrupted":
            raise RuntimeError(f"interrupted turn ended {status}")
        await asyncio.sleep(1.0)
        left = tree()
        _kill(left)  # ours to clean up: bounded, by pid
        return answer_ms, completed_ms, alive_at_answer, bool(left)

    async def interrupts(self) -> dict[str, Any]:
        """Interrupts as soon as the command runs (the latency figures), then a few after it
        has run for a second (whether the command survives the Stop)."""
        samples_n = 4 if self.quick else 10
        late_n = 2 if self.quick else 3
        home, workspace = self.fresh("interrupt")
        client = await self.server(home, workspace)
        early: list[tuple[float, float, bool, bool]] = []
        late: list[tuple[float, float, bool, bool]] = []
        try:
            thread = await client.start_thread(workspace)
            await client.turn(thread, "warm up")
            for _ in range(samples_n):
                early.append(await self._interrupt_once(client, thread, 0.0))
            for _ in range(late_n):
                late.append(await self._interrupt_once(client, thread, 1.0))
        finally:
            await client.close()
        answer_ms = [e[0] for e in early]
        log(f"interrupt answer ms {[round(x, 1) for x in sorted(answer_ms)]}; late {late}")
        return {
            "interrupt_ms": {
                "p50": round(percentile(answer_ms, 50), 2),
                "p99": round(percentile(answer_ms, 99), 2),
                "samples": len(answer_ms),
            },
            "interrupt_turn_completed_ms_p50": round(percentile([e[1] for e in early], 50), 2),
            "interrupt_checks": {
                "command_alive_at_answer": sum(e[2] for e in early),
                "command_alive_1s_later": sum(e[3] for e in early),
                "samples": len(early),
            },
            "interrupt_late_checks": {
                "command_alive_at_answer": sum(e[2] for e in late),
                "command_alive_1s_later": sum(e[3] for e in late),
                "samples": len(late),
            },
        }

    async def _session(self, items: int) -> tuple[Path, Path, str, int]:
        """A CODEX_HOME holding one thread of about `items` response items."""
        home, workspace = self.fresh(f"resume-{items}")
        client = await self.server(home, workspace)
        try:
            thread = await client.start_thread(workspace)
            await client.turn(thread, "hello")  # the first turn also carries the context
            text = "show the notes"
            await self.api.exec_once(text, OUTPUT_COMMAND)
            turn = await client.turn(thread, text)
            if turn["status"] != "completed":
                raise RuntimeError(f"template turn ended {turn['status']}")
        finally:
            await client.close()
        path = rollout_file(home, thread)
        turns, per_turn = grow(path, thread, items)
        log(
            f"resume {items}: {path.stat().st_size / 1e6:.1f} MB, {turns} turns, "
            f"{per_turn} per turn"
        )
        return home, workspace, thread, turns

    async def resume(self) -> dict[str, Any]:
        sizes = RESUME_SIZES[:2] if self.quick else RESUME_SIZES
        runs = 1 if self.quick else 2
        times: dict[str, float] = {}
        rss: dict[str, dict[str, float]] = {}
        paged: dict[str, dict[str, float]] = {}
        for size in sizes:
            home, workspace, thread, turns = await self._session(size)
            took: list[float] = []
            after: list[float] = []
            peak: list[float] = []
            for _ in range(runs if size < 50_000 else 1):  # one 50k resume: ~30 s here
                client = await self.server(home, workspace)
                try:
                    await asyncio.sleep(0.2)
                    started = time.perf_counter()
                    answer = await client.request(
                        "thread/resume", {"threadId": thread}, timeout=300
                    )
                    took.append((time.perf_counter() - started) * 1000)
                    mem = memory(client.pid)
                    after.append(mem.rss_mb)
                    peak.append(mem.hwm_mb)
                    got = len(answer["thread"].get("turns") or [])
                    if got != turns:
                        raise RuntimeError(f"resume gave {got} turns, the file has {turns}")
                finally:
                    await client.close()
            key = str(size)
            times[key] = round(statistics.median(took), 1)
            rss[key] = {
                "rss": round(statistics.median(after), 1),
                "hwm": round(statistics.median(peak), 1),
            }
            log(f"resume {size}: ms {[round(x) for x in took]} rss {after} hwm {peak}")
            if size == sizes[-1]:
                paged[key] = await self._paged_resume(home, workspace, thread)
            shutil.rmtree(home.parent, ignore_errors=True)
        return {"resume_ms": times, "resume_rss_mb": rss, "paged_resume": paged}

    async def _paged_resume(self, home: Path, workspace: Path, thread: str) -> dict[str, Any]:
        """`thread/list` (timed apart), then `thread/resume` without turns and the newest 50
        turns (200 items)."""
        client = await self.server(home, workspace)
        try:
            await asyncio.sleep(0.2)
            started = time.perf_counter()
            await client.request("thread/list", {"limit": 50}, timeout=300)
            list_ms = (time.perf_counter() - started) * 1000
            started = time.perf_counter()
            await client.request(
                "thread/resume", {"threadId": thread, "excludeTurns": True}, timeout=300
            )
            page = await client.request(
                "thread/turns/list", {"threadId": thread, "limit": PAGE_TURNS}, timeout=300
            )
            took = (time.perf_counter() - started) * 1000
            mem = memory(client.pid)
            got = len(page.get("data") or page.get("turns") or [])
        finally:
            await client.close()
        log(f"paged resume: {took:.0f} ms, {got} turns, rss {mem.rss_mb:.0f} hwm {mem.hwm_mb:.0f}")
        return {
            "ms": round(took, 1),
            "rss": round(mem.rss_mb, 1),
            "hwm": round(mem.hwm_mb, 1),
            "turns": got,
            "list_first_ms": round(list_ms, 1),
        }


STEPS = ("startup", "turns", "deltas", "interrupt", "resume")


async def measure_codex(
    install: CodexInstall, quick: bool, only: list[str] | None
) -> dict[str, Any]:
    """Every figure of the peer; a step that fails is reported as such, the rest go on."""
    figures: dict[str, Any] = {"version": install.version, "errors": {}}
    async with PeerFakeProcess(API_KEY) as api:
        bench = CodexBench(install, api, quick)
        try:
            steps = {
                "startup": bench.startup_and_idle,
                "turns": bench.turn_overhead,
                "deltas": bench.deltas,
                "interrupt": bench.interrupts,
                "resume": bench.resume,
            }
            for name, step in steps.items():
                if only and name not in only:
                    continue
                log(f"{step.__name__} ...")
                try:
                    figures.update(await step())
                except Exception as exc:  # the peer failing must not fail the run
                    figures["errors"][name] = f"{type(exc).__name__}: {exc}"
                    log(f"{name} failed: {exc}")
            figures["fake_api_rejected"] = await bench.rejected()
        finally:
            bench.cleanup()
    return figures

"""`make bench`: every figure in one run, with the Codex app-server measured beside agentls.

    python -m bench.compare [--quick] [--no-peer] [--only STEPS] [--out FILE.json] [--doc FILE.md]

Server figures step by step, ours then the peer's for the same step, so load drifting on a
shared machine hits both alike; then the ACP figures (`agentls acp` beside Zed's
`codex-acp`, bench/acp_bench.py), the same way; then the component figures (sandbox,
apply_patch, checkpoints, MCP, classification), each in a fresh interpreter. The tables go
to stdout, progress to stderr. The peers are optional: when npm or a package is missing, or
a step of one fails, the table says so and our figures still print. `--quick` runs fewer
samples and skips the heavy ones (50,000-item full resumes, the 200 MB checkpoint
workspace). `--only acp --doc docs/benchmarks.md` rewrites only the page's ACP section.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.harness import process_tree  # noqa: E402

from bench import acp_bench as acp  # noqa: E402
from bench.agent import API_KEY, start_agent  # noqa: E402
from bench.codex_acp import CodexAcp, CodexAcpInstall, ensure_codex_acp  # noqa: E402
from bench.codex_app import CodexInstall, ensure_codex  # noqa: E402
from bench.codex_bench import API_KEY as PEER_KEY  # noqa: E402
from bench.codex_bench import CodexBench  # noqa: E402
from bench.doc import write_doc  # noqa: E402
from bench.fake_proc import FakeAPIProcess  # noqa: E402
from bench.peer_fake import PeerFakeProcess  # noqa: E402
from bench.procs import kill_all, memory, start_time, still_alive, tool_processes  # noqa: E402
from bench.rpc import wait_for  # noqa: E402
from bench.run import Bench  # noqa: E402
from bench.sessions import write_session  # noqa: E402
from bench.table import acp_table, other_table, peer_table  # noqa: E402

Json = dict[str, Any]
Step = Callable[[], Awaitable[Json]]
PAGED_ITEMS = 50_000
HISTORY_LIMIT = 200


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


async def _paged_once(
    bench: Bench, workspace: Path, env: dict[str, str], session_id: str, stderr: Path, send: bool
) -> tuple[float, float, float, float | None, float]:
    """One server start, the session list (as the panel asks first), then `agent/resume`
    with `historyLimit: 200`: (resume ms, rss, hwm, send ms, list ms)."""
    agent = await start_agent(workspace, env, {"approval": "never-ask"}, stderr_path=stderr)
    try:
        await asyncio.sleep(0.2)
        started = time.perf_counter()
        await agent.request("agent/listSessions", {}, timeout=120)
        list_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        answer = await agent.request(
            "agent/resume", {"sessionId": session_id, "historyLimit": HISTORY_LIMIT}, timeout=120
        )
        took = (time.perf_counter() - started) * 1000
        mem = memory(agent.pid)
        if len(answer["history"]) != HISTORY_LIMIT or not answer.get("historyCursor"):
            raise RuntimeError(
                f"paged resume gave {len(answer['history'])} entries, "
                f"cursor {answer.get('historyCursor')!r}"
            )
        send_ms = None
        if send:
            before = await bench.rejected()
            started = time.perf_counter()
            result = await agent.send("go on", timeout=120, sessionId=session_id)
            send_ms = (time.perf_counter() - started) * 1000
            if result["status"] != "completed" or await bench.rejected() != before:
                raise RuntimeError(f"the send after the paged resume: {result}")
        return took, mem.rss_mb, mem.hwm_mb, send_ms, list_ms
    finally:
        await agent.close()


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 1)


async def paged_resume(bench: Bench) -> Json:
    """`agent/resume` with `historyLimit: 200` of a 50,000-item session through the real
    server, after `agent/listSessions` (the first request after start, timed apart).

    The first send after it is timed on a session whose last compaction is 200 turns from
    the end (as auto compaction leaves one): the model history of a 50,000-item session
    never compacted is ~50 MB, more than any model API takes in one request."""
    runs = 2 if bench.quick else 3
    workspace, env, stderr = bench.fresh("paged-resume")
    session_id = write_session(Path(env["AGENTLS_HOME"]), workspace, PAGED_ITEMS)
    samples = [
        await _paged_once(bench, workspace, env, session_id, stderr, False) for _ in range(runs)
    ]
    workspace, env, stderr = bench.fresh("paged-resume-compacted")
    compacted = write_session(
        Path(env["AGENTLS_HOME"]), workspace, PAGED_ITEMS, compact_before_last=200
    )
    after_compaction = [
        await _paged_once(bench, workspace, env, compacted, stderr, True) for _ in range(runs)
    ]
    log(f"paged resume (ms, rss, hwm): {samples}; compacted (.., send ms): {after_compaction}")
    return {
        "paged_resume": {
            "ms": _median([s[0] for s in samples]),
            "rss": _median([s[1] for s in samples]),
            "hwm": _median([s[2] for s in samples]),
            "compacted_ms": _median([s[0] for s in after_compaction]),
            "compacted_hwm": _median([s[2] for s in after_compaction]),
            "first_send_ms": _median([s[3] or 0.0 for s in after_compaction]),
            "list_first_ms": _median([s[4] for s in samples]),
        }
    }


async def late_interrupts(bench: Bench) -> Json:
    """Stop after the command has run for a second (bench/run.py stops it at once): is the
    command still alive at the answer, and one second later?"""
    samples = 2 if bench.quick else 3
    at_answer = 0
    later = 0
    agent = await bench.agent("interrupt-late")
    try:
        await agent.send("warm up")
        for _ in range(samples):
            tag = f"bench-int-late-{uuid.uuid4().hex[:10]}"
            started_event = agent.expect_event(lambda e: e["type"] == "toolCallStarted")
            msg_id, pending = agent.start_send(f"run: sleep 30; : {tag}")
            await asyncio.wait_for(started_event, 15)

            def tree(tag: str = tag) -> list[int]:
                return process_tree(tool_processes(markers=[tag]))

            if not await wait_for(lambda: len(tree()) >= 2, 10):
                raise RuntimeError("the command never started")
            await asyncio.sleep(1.0)
            snapshot = {pid: start_time(pid) for pid in tree()}
            agent.client.cancel(msg_id)
            result = await asyncio.wait_for(pending, 15)
            if result.get("status") != "interrupted":
                raise RuntimeError(f"stopped turn ended {result.get('status')}")
            at_answer += bool(still_alive(snapshot))
            await asyncio.sleep(1.0)
            left = still_alive(snapshot)
            later += bool(left)
            for pid in left:  # ours to clean up: bounded, by pid
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
    finally:
        await agent.close()
    checks = {"command_alive_at_answer": at_answer, "command_alive_1s_later": later}
    log(f"late interrupts: {checks} of {samples}")
    return {"interrupt_late_checks": {**checks, "samples": samples}}


async def _guarded(name: str, step: Step, errors: dict[str, str], key: str | None = None) -> Json:
    log(f"{name} ...")
    try:
        return await step()
    except Exception as exc:
        errors[key or name] = f"{type(exc).__name__}: {exc}"
        log(f"{name} FAILED: {errors[key or name]}")
        return {}


STEPS = ("startup", "turns", "deltas", "interrupt", "resume", "paged", "acp", "components")
LSP_STEPS = set(STEPS) - {"acp", "components"}


def _checkout() -> str:
    """The commit of the agentls measured (this checkout's `server/`), marked when the
    working tree differs from it."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "server"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return f"{head}{' (server/ modified)' if dirty else ''}" if head else "unknown"


async def acp_figures(
    quick: bool,
    root: Path,
    api: FakeAPIProcess,
    peer_api: PeerFakeProcess | None,
    install: CodexAcpInstall | None,
    reason: str | None,
) -> Json:
    """The ACP rows: `agentls acp` then codex-acp for each step, against the same fakes as
    the rows above (each agent its own); a step of either that fails is reported, the rest
    go on."""
    ours: Json = {}
    errors: dict[str, str] = {}
    mine = acp.AcpBench(acp.AgentlsAcp(root, api), api, quick)
    peer: Json | None = None
    theirs: acp.AcpBench | None = None
    codex_acp: CodexAcp | None = None
    if install is not None and peer_api is not None:
        codex_acp = CodexAcp(install, peer_api)
        theirs = acp.AcpBench(codex_acp, peer_api, quick)
        peer = {"version": install.version, "errors": {}}
    try:
        for name, step in acp.steps(mine):
            ours.update(await _guarded(f"agentls acp {name}", step, errors, name))
            if theirs is not None and peer is not None:
                other = dict(acp.steps(theirs))[name]
                peer.update(await _guarded(f"codex-acp {name}", other, peer["errors"], name))
        if peer is not None and codex_acp is not None:
            with contextlib.suppress(Exception):
                peer["fake_api_rejected"] = await codex_acp.rejected()
    finally:
        if codex_acp is not None:
            codex_acp.cleanup()
    leftovers = tool_processes(markers=["bench-acp-"])
    kill_all(leftovers)  # the bench's own tagged commands, by pid
    out: Json = {
        "agentls_commit": _checkout(),
        "agentls": ours,
        "agentls_errors": errors,
        "peer": peer,
        "leftover_commands_at_end": len(leftovers),
    }
    if peer is None:
        out["peer_unavailable"] = reason
    return out


async def server_figures(
    quick: bool,
    install: CodexInstall | None,
    only: set[str] | None = None,
    acp_install: CodexAcpInstall | None = None,
    acp_reason: str | None = None,
) -> Json:
    root = Path(tempfile.mkdtemp(prefix="agentls-bench-"))
    ours: Json = {}
    peer: Json | None = None
    errors: dict[str, str] = {}
    peer_errors: dict[str, str] = {}
    acp_out: Json | None = None
    try:
        async with contextlib.AsyncExitStack() as stack:
            api = await stack.enter_async_context(FakeAPIProcess(API_KEY))
            bench = Bench(root, api, quick, True)
            codex: CodexBench | None = None
            peer_api: PeerFakeProcess | None = None
            if install is not None or acp_install is not None:
                peer_api = await stack.enter_async_context(PeerFakeProcess(PEER_KEY))
            if install is not None and peer_api is not None:
                codex = CodexBench(install, peer_api, quick)
                stack.callback(codex.cleanup)
                peer = {"version": install.version}
            steps: list[tuple[str, str, Step, Step | None]] = [
                ("startup", "startup", bench.startup_and_idle, codex and codex.startup_and_idle),
                ("turns", "turns", bench.turn_overhead, codex and codex.turn_overhead),
                ("deltas", "deltas", bench.deltas, codex and codex.deltas),
                ("interrupt", "interrupt", bench.interrupts, codex and codex.interrupts),
                ("interrupt", "late interrupt", lambda: late_interrupts(bench), None),
                ("resume", "resume", bench.resume, codex and codex.resume),
                ("paged", "paged resume", lambda: paged_resume(bench), None),
            ]
            for name, label, mine, theirs in steps:
                if only is not None and name not in only:
                    continue
                ours.update(await _guarded(f"agentls {label}", mine, errors))
                if theirs is not None and peer is not None:
                    peer.update(await _guarded(f"codex {label}", theirs, peer_errors))
            if only is None or "acp" in only:
                acp_out = await acp_figures(quick, root, api, peer_api, acp_install, acp_reason)
            ours["fake_api_rejected"] = await bench.rejected()
            checks = ours.get("interrupt_checks")
            if isinstance(checks, dict) and "interrupt_ms" in ours:
                checks["samples"] = ours["interrupt_ms"].get("samples")
            if codex is not None and peer is not None:
                with contextlib.suppress(Exception):
                    peer["fake_api_rejected"] = await codex.rejected()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if peer is not None:
        peer["errors"] = peer_errors
    return {"agent": ours, "agent_errors": errors, "codex": peer, "acp": acp_out}


def _component(module: str, args: list[str], timeout: float) -> Json:
    """One component benchmark in a fresh interpreter; its JSON (the last line that parses,
    or the whole output)."""
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    text = done.stdout.strip()
    try:
        parsed: Json = orjson.loads(text)
        return parsed
    except orjson.JSONDecodeError:
        pass
    for line in reversed(text.splitlines()):
        with contextlib.suppress(orjson.JSONDecodeError):
            parsed = orjson.loads(line)
            if isinstance(parsed, dict):
                return parsed
    tail = (done.stderr or text).strip().splitlines()[-3:]
    raise RuntimeError(f"{module} exited {done.returncode}: {' / '.join(tail)}")


def component_figures(quick: bool) -> Json:
    plan: list[tuple[str, str, list[str], float]] = [
        ("sandbox", "bench.sandbox", ["--runs", "10" if quick else "30"], 300),
        ("patch", "bench.patch", ["--rounds", "3" if quick else "9"], 300),
        ("mcp", "bench.mcp", ["--runs", "20", "--stops", "5"] if quick else [], 300),
        (
            "classify",
            "bench.classify",
            ["--rounds", "50", "--cold-rounds", "3"] if quick else [],
            300,
        ),
    ]
    out: Json = {"skipped": {}, "component_errors": {}}
    if quick:
        out["skipped"]["checkpoints"] = "--quick"
        out["skipped"]["first_token"] = "--quick"
    else:
        plan.append(("checkpoints", "bench.checkpoints", [], 600))
        plan.append(("first_token", "bench.first_token", ["--runs", "5"], 600))
    for name, module, args, timeout in plan:
        log(f"{name} ...")
        started = time.monotonic()
        try:
            out[name] = _component(module, args, timeout)
        except (RuntimeError, subprocess.TimeoutExpired, OSError) as exc:
            out["component_errors"][name] = str(exc)
            out["skipped"][name] = "failed, see component_errors"
            log(f"{name} FAILED: {exc}")
        log(f"{name}: {time.monotonic() - started:.0f} s")
    return out


def run_notes(figures: Json) -> list[str]:
    """What a reader of the table should know about this particular run."""
    notes: list[str] = []
    run = figures["run"]
    load = max(run["loadavg_before"][0], run["loadavg_after"][0])
    if run["cpus"] and load > run["cpus"]:
        notes.append(
            f"- The machine was shared and loaded (1-minute load up to {load:.1f} on "
            f"{run['cpus']} CPUs): wall-clock figures are inflated for both servers alike; "
            "the ratios, taken step by step in the same minutes, are the steadier figures."
        )
    peer = figures.get("codex") or {}
    checks = peer.get("interrupt_checks") or {}
    if checks.get("command_alive_1s_later"):
        notes.append(
            f"- Codex: after `turn/interrupt` the `sleep 30` was still running one second "
            f"later in {checks['command_alive_1s_later']} of {checks.get('samples')} samples."
        )
    rejected = {
        "agentls": figures["agent"].get("fake_api_rejected"),
        "codex": peer.get("fake_api_rejected"),
    }
    if any(rejected.values()):
        notes.append(f"- Requests the strict fake API refused during the run: {rejected}.")
    return notes


def peer_install(args: argparse.Namespace) -> tuple[CodexInstall | None, str | None]:
    if args.no_peer:
        return None, "--no-peer"
    found = ensure_codex(install=not args.no_peer_install)
    if isinstance(found, str):
        return None, found
    return found, None


def acp_peer_install(args: argparse.Namespace) -> tuple[CodexAcpInstall | None, str | None]:
    if args.no_peer:
        return None, "--no-peer"
    found = ensure_codex_acp(install=not args.no_peer_install)
    if isinstance(found, str):
        return None, found
    return found, None


def acp_notes(figures: Json) -> list[str]:
    """What a reader of the ACP table should know about this run."""
    out = figures.get("acp") or {}
    notes: list[str] = []
    run = figures["run"]
    load = max(run["loadavg_before"][0], run["loadavg_after"][0])
    if run["cpus"] and load > run["cpus"]:
        notes.append(
            f"- The machine was shared and loaded (1-minute load up to {load:.1f} on "
            f"{run['cpus']} CPUs): wall-clock figures are inflated for both agents; the "
            "ratios, taken step by step in the same minutes, are the steadier figures."
        )
    for name, figs in (("agentls", out.get("agentls")), ("codex-acp", out.get("peer"))):
        for key, when in (
            ("cancel_checks", "sent as soon as its `sleep` ran"),
            ("cancel_late_checks", "sent 1 s after its `sleep` started"),
        ):
            checks = (figs or {}).get(key) or {}
            if checks.get("command_alive_1s_later"):
                notes.append(
                    f"- {name}, `session/cancel` {when}: the `sleep 30` was still running one "
                    f"second after the `cancelled` answer in {checks['command_alive_1s_later']} "
                    f"of {checks.get('samples')} samples."
                )
    if out.get("leftover_commands_at_end"):
        notes.append(
            f"- {out['leftover_commands_at_end']} tagged bench commands were still running at "
            "the end of the ACP rows (killed by the bench)."
        )
    rejected = (out.get("peer") or {}).get("fake_api_rejected")
    if rejected:
        notes.append(f"- Requests the peer's strict fake refused: {rejected}.")
    return notes


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer samples, no heavy figures")
    parser.add_argument("--no-peer", action="store_true", help="do not measure the Codex peer")
    parser.add_argument(
        "--no-peer-install", action="store_true", help="use the peer only if already cached"
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "build" / "bench" / "last.json", help="JSON figures"
    )
    parser.add_argument(
        "--doc", type=Path, help="also write the run as Markdown (docs/benchmarks.md)"
    )
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(STEPS)}")
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else None
    if only is not None and not only <= set(STEPS):
        parser.error(f"--only takes {','.join(STEPS)}")

    started = time.monotonic()
    load_before = os.getloadavg()
    when = datetime.now(UTC)
    install: CodexInstall | None = None
    reason: str | None = "not measured in this run (--only)"
    if only is None or only & LSP_STEPS:
        install, reason = peer_install(args)
        log(f"peer: {install.version if install else 'not available: ' + str(reason)}")
    acp_install: CodexAcpInstall | None = None
    acp_reason: str | None = None
    if only is None or "acp" in only:
        acp_install, acp_reason = acp_peer_install(args)
        shown = acp_install.version if acp_install else f"not available: {acp_reason}"
        log(f"acp peer: codex-acp {shown}")
    figures: Json = asyncio.run(server_figures(args.quick, install, only, acp_install, acp_reason))
    if install is None:
        figures["codex_unavailable"] = reason
    if only is None or "components" in only:
        figures.update(component_figures(args.quick))
    else:
        figures.update({"skipped": {}, "component_errors": {}})
    figures["run"] = {
        "date": when.strftime("%Y-%m-%d %H:%M UTC"),
        "quick": args.quick,
        "seconds": round(time.monotonic() - started),
        "cpus": os.cpu_count(),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "machine": f"{platform.system()} {platform.release()} {platform.machine()}",
        "only": sorted(only) if only is not None else None,
    }
    figures["notes"] = run_notes(figures)
    if figures.get("acp") is not None:
        figures["acp"]["notes"] = acp_notes(figures)
    if only is None or only & LSP_STEPS:
        print("\n".join(peer_table(figures)))
        print()
    if figures.get("acp") is not None:
        print("\n".join(acp_table(figures)))
        print()
    if only is None or "components" in only:
        print("\n".join(other_table(figures)))
    problems = {**figures["agent_errors"], **figures["component_errors"]}
    peer = figures.get("codex") or {}
    acp_out = figures.get("acp") or {}
    acp_failed = {f"agentls acp {k}": v for k, v in acp_out.get("agentls_errors", {}).items()}
    peer_acp = (acp_out.get("peer") or {}).get("errors", {})
    acp_failed.update({f"codex-acp {k}": v for k, v in peer_acp.items()})
    for name, error in {**problems, **peer.get("errors", {}), **acp_failed}.items():
        print(f"failed: {name}: {error}")
    run = figures["run"]
    print(
        f"\n{run['date']}, {run['seconds']} s, load {run['loadavg_before']} -> "
        f"{run['loadavg_after']} on {run['cpus']} CPUs"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(orjson.dumps(figures, option=orjson.OPT_INDENT_2) + b"\n")
    print(f"figures: {args.out}")
    if args.doc:
        write_doc(args.doc, figures)
        print(f"written: {args.doc}")
    return 1 if figures["agent_errors"] or acp_out.get("agentls_errors") else 0


if __name__ == "__main__":
    sys.exit(main())

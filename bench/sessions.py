"""Rollout files written directly, in the layout of docs/protocol.md, for resume benchmarks.

Run as `python -m bench.sessions` for the paging reader's figures on a generated
50,000-item session, without and with a compaction near the end of the file: "resume with
historyLimit 200" (`open_resume`: the newest 200 panel entries, the cursor, meta, title and
the crash-repair facts), one `history_page` of older entries, and what the first request
after resume pays to load the model's history (`load_model_history`). Each measurement runs
in a fresh interpreter; `peak_rss_mb` is its VmHWM, `base_rss_mb` the interpreter's before.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from agentls.history.items import summary_message
from agentls.rollout.paths import WorkspaceLayout
from agentls.rollout.records import (
    COMPACTED,
    EVENT_MSG,
    RESPONSE_ITEM,
    SESSION_META,
    TOOL_CALL_COMPLETED,
    TURN_COMPLETED,
    TURN_CONTEXT,
    TURN_STARTED,
    compacted_payload,
    encode_line,
    timestamp,
)

GPT5_WINDOW = 272_000
ITEMS_PER_TURN = 4  # user message, function call, its output, assistant answer
OUTPUT_BYTES = 1024


def _output_text(turn: int) -> str:
    line = f"{turn:06d} the quick brown fox jumps over the lazy dog 0123456789\n"
    body = (line * (OUTPUT_BYTES // len(line) + 1))[:OUTPUT_BYTES]
    return f"Exit code: 0\nWall time: 0.01 seconds\nOutput:\n{body}"


def write_session(
    home: Path,
    workspace: Path,
    items: int,
    *,
    model: str = "gpt-5-mini",
    compact_before_last: int | None = None,
) -> str:
    """Write a session of about `items` response items; returns its id.

    Each turn: turn_context, turn_started, a user message, a shell function call with a
    ~1 KB output, tool_call_completed, an assistant answer, turn_completed. With
    `compact_before_last=N`, a `compacted` line precedes the last N turns, as auto compaction
    would have written it.
    """
    layout = WorkspaceLayout.for_path(home, workspace)
    layout.ensure()
    session_id = str(uuid.uuid4())
    created = datetime.now(UTC) - timedelta(hours=1)
    path = layout.session_path(session_id, created)
    turns = max(1, items // ITEMS_PER_TURN)
    lines = [
        encode_line(
            SESSION_META,
            {
                "id": session_id,
                "timestamp": timestamp(created),
                "cwd": str(layout.path),
                "workspace_uri": layout.uri,
                "originator": "agentls",
                "cli_version": "0.1.0",
                "model_provider": "127.0.0.1",
                "model": model,
            },
            created,
        )
    ]
    for turn in range(turns):
        moment = created + timedelta(milliseconds=turn)
        if compact_before_last is not None and turn == max(0, turns - compact_before_last):
            recent = [summary_message(f"show part {n}") for n in range(max(0, turn - 20), turn)]
            summary = f"Parts 0 to {turn - 1} were shown; each says the fox jumped."
            replacement = [*recent, summary_message(summary)]
            lines.append(encode_line(COMPACTED, compacted_payload(summary, replacement), moment))
        turn_id = f"turn-{turn:012x}"
        call_id = f"call_{uuid.uuid4().hex[:24]}"
        command = ["bash", "-lc", f"cat notes/part-{turn}.txt"]
        records = [
            (
                TURN_CONTEXT,
                {
                    "turn_id": turn_id,
                    "model": model,
                    "approval_policy": "ask-unsafe",
                    "cwd": str(layout.path),
                },
            ),
            (EVENT_MSG, {"type": TURN_STARTED, "turn_id": turn_id}),
            (
                RESPONSE_ITEM,
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": f"show part {turn}"}],
                },
            ),
            (
                RESPONSE_ITEM,
                {
                    "type": "function_call",
                    "id": f"fc_{uuid.uuid4().hex[:24]}",
                    "call_id": call_id,
                    "name": "shell",
                    "status": "completed",
                    "arguments": orjson.dumps({"command": command}).decode(),
                },
            ),
            (
                RESPONSE_ITEM,
                {"type": "function_call_output", "call_id": call_id, "output": _output_text(turn)},
            ),
            (
                EVENT_MSG,
                {
                    "type": TOOL_CALL_COMPLETED,
                    "call_id": call_id,
                    "status": "completed",
                    "exit_code": 0,
                },
            ),
            (
                RESPONSE_ITEM,
                {
                    "type": "message",
                    "role": "assistant",
                    "status": "completed",
                    "id": f"msg_{uuid.uuid4().hex[:24]}",
                    "content": [
                        {
                            "type": "output_text",
                            "annotations": [],
                            "text": f"Part {turn} says the fox jumped.",
                        }
                    ],
                },
            ),
            (
                EVENT_MSG,
                {
                    "type": TURN_COMPLETED,
                    "turn_id": turn_id,
                    "status": "completed",
                    "last_agent_message": f"Part {turn} says the fox jumped.",
                },
            ),
        ]
        lines.extend(encode_line(kind, payload, moment) for kind, payload in records)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, b"".join(lines))
    finally:
        os.close(fd)
    return session_id


# --------------------------------------------------------------------------- figures


def _peak_rss_mb() -> float:
    """This process's peak RSS. Not `ru_maxrss`: that survives exec, so a child would report
    the parent's peak whenever the parent had been bigger."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _child(what: str, path: Path, limit: int) -> None:
    """One measurement in this fresh interpreter; prints it as JSON."""
    from agentls.rollout.paging import history_page, load_model_history, open_resume

    base = _peak_rss_mb()
    started = time.perf_counter()
    view = open_resume(path, limit)
    resumed = time.perf_counter()
    result: dict[str, Any] = {
        "ms": (resumed - started) * 1000,
        "entries": len(view.entries),
        "has_cursor": view.history_cursor is not None,
    }
    if what == "model":
        model = load_model_history(view)
        result["ms"] = (time.perf_counter() - resumed) * 1000
        result["model_items"] = len(model.items)
    elif what == "page" and view.history_cursor is not None:
        entries, _ = history_page(path, view.history_cursor, limit)
        result["ms"] = (time.perf_counter() - resumed) * 1000
        result["entries"] = len(entries)
    result["rss_mb"] = _peak_rss_mb()
    result["base_rss_mb"] = base
    print(orjson.dumps(result).decode())


def _measure(what: str, path: Path, limit: int, runs: int) -> dict[str, Any]:
    samples = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-m", "bench.sessions", "--child", what, str(path), str(limit)],
            check=True,
            capture_output=True,
            text=True,
        )
        samples.append(orjson.loads(done.stdout))
    times = [s["ms"] for s in samples]
    figure = {k: v for k, v in samples[0].items() if k not in ("ms", "rss_mb", "base_rss_mb")}
    figure.update(
        ms_median=round(statistics.median(times), 1),
        ms_max=round(max(times), 1),
        peak_rss_mb=round(max(s["rss_mb"] for s in samples), 1),
        base_rss_mb=round(min(s["base_rss_mb"] for s in samples), 1),
    )
    return figure


def resume_figures(items: int = 50_000, limit: int = 200, runs: int = 5) -> dict[str, Any]:
    """Paging-reader figures on generated sessions of `items` items (without/with compaction)."""
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="agentls-bench-sessions-") as tmp:
        for name, compact in (("plain", None), ("compacted", 200)):
            home = Path(tmp) / name
            workspace = Path(tmp) / f"{name}-ws"
            workspace.mkdir()
            write_session(home, workspace, items, compact_before_last=compact)
            path = next(home.glob("workspaces/*/sessions/*.jsonl"))
            figures[name] = {
                "file_mb": round(path.stat().st_size / 1e6, 1),
                f"resume_history_limit_{limit}": _measure("resume", path, limit, runs),
                f"history_page_{limit}": _measure("page", path, limit, max(1, runs // 2)),
                "first_send_model_history": _measure("model", path, limit, max(1, runs // 2)),
            }
    return figures


async def _server_run(
    api: Any, workspace: Path, env: dict[str, str], session_id: str, limit: int, send: bool
) -> dict[str, Any]:
    from bench.agent import start_agent
    from bench.procs import memory

    # the fake serves "fake-model", which no table knows: give it gpt-5-mini's window, as
    # the generated session claims, so that the first send compacts as it would there
    options = {"approval": "never-ask", "contextWindow": GPT5_WINDOW}
    agent = await start_agent(workspace, env, options)
    try:
        # the first request after start-up waits for the imports and watcher set up in the
        # background (about 0.4 s under load): answered first, so it is not counted as resume
        await asyncio.sleep(0.2)
        await agent.client.request("agent/mcpServers", {}, timeout=60)
        base = memory(agent.pid).rss_mb
        started = time.perf_counter()
        answer = await agent.client.request(
            "agent/resume", {"sessionId": session_id, "historyLimit": limit}, timeout=300
        )
        figure = {"resume_ms": (time.perf_counter() - started) * 1000}
        assert len(answer["history"]) == limit and answer.get("historyCursor"), answer.keys()
        mem = memory(agent.pid)
        figure.update(rss_mb=mem.rss_mb, hwm_mb=mem.hwm_mb, base_rss_mb=base)
        if send:
            before = len((await api.stats())["rejected"])
            started = time.perf_counter()
            result = await agent.send("go on", timeout=300, sessionId=session_id)
            figure["first_send_ms"] = (time.perf_counter() - started) * 1000
            assert result["status"] == "completed", result
            stats = await api.stats()
            assert len(stats["rejected"]) == before
            figure["first_send_model_requests"] = stats["requests"]
            figure["compacted_on_first_send"] = any(e["type"] == "compaction" for e in agent.events)
        return figure
    finally:
        await agent.close()


async def server_figures(items: int = 50_000, limit: int = 200, runs: int = 3) -> dict[str, Any]:
    """`agent/resume {historyLimit}` through the real server over stdio, and the first send
    after it (which reads the model's history and sends it), on generated sessions."""
    from bench.agent import API_KEY, server_env
    from bench.fake_proc import FakeAPIProcess

    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="agentls-bench-resume-") as tmp:
        async with FakeAPIProcess(API_KEY) as api:
            for name, compact in (("plain", None), ("compacted", 200)):
                home = Path(tmp) / name / "state"
                workspace = Path(tmp) / name / "project"
                workspace.mkdir(parents=True)
                session_id = write_session(home, workspace, items, compact_before_last=compact)
                env = server_env(home, api.base_url)
                samples = [
                    await _server_run(api, workspace, env, session_id, limit, run == runs - 1)
                    for run in range(runs)
                ]
                figures[name] = {
                    f"resume_history_limit_{limit}_ms": round(
                        statistics.median(s["resume_ms"] for s in samples), 1
                    ),
                    "rss_mb_before_resume": round(
                        statistics.median(s["base_rss_mb"] for s in samples), 1
                    ),
                    "rss_mb_after_resume": round(
                        statistics.median(s["rss_mb"] for s in samples), 1
                    ),
                    "peak_rss_mb": round(max(s["hwm_mb"] for s in samples), 1),
                    "first_send_ms": round(samples[-1]["first_send_ms"], 1),
                    "first_send_model_requests": samples[-1]["first_send_model_requests"],
                    "compacted_on_first_send": samples[-1]["compacted_on_first_send"],
                }
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sessions", description=__doc__)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--limit", type=int, default=200, help="historyLimit")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--child", nargs=3, metavar=("WHAT", "PATH", "LIMIT"), help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--server", action="store_true", help="through the real server over stdio instead"
    )
    args = parser.parse_args(argv)
    if args.child:
        what, path, limit = args.child
        _child(what, Path(path), int(limit))
        return
    if args.server:
        figures = asyncio.run(server_figures(args.items, args.limit, min(args.runs, 3)))
    else:
        figures = resume_figures(args.items, args.limit, args.runs)
    print(orjson.dumps(figures, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()

"""docs/benchmarks.md from the figures of one run: when, on what, the tables, and how each
row is measured (the prose is fixed here; the numbers come from the run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.table import other_table, peer_table

HOW = """\
## How each figure is taken

All servers run as editors start them (stdio), against the strict fake model API
(`fixtures/fake_api`) in a process of its own on 127.0.0.1, which answers at once: what is
left is the server's own cost. Medians unless a percentile is named. Ratios are agentls / Codex.

- **startup**: from spawning the process to the answer of `initialize` (for agentls with the
  bytecode cache an installed package has; for Codex the native binary; Codex through its npm
  launcher, as `codex` on the PATH starts, is in the JSON as `startup_ms_npm_launcher`).
- **first request after start**: one second after `initialize`, the session list
  (`agent/listSessions`; Codex `thread/list`) with no session on disk: what an editor waits
  for next, including any start-up work deferred past `initialize`.
- **idle RSS**: the server process's resident memory one second after `initialize`.
- **turn overhead**: `agent/send` to its answer (agentls) and `turn/start` to
  `turn/completed` (Codex) for a one-line answer, after 3 warm-up turns, in one conversation.
- **deltas per second**: a single answer of 20,000 text deltas, divided by the time from the
  send to the end of the turn; every delta is counted as it arrives at the client.
- **interrupt**: a turn runs `sleep 30` through the shell tool (agentls `shell`, Codex
  `exec_command`); once the command and its child exist, `$/cancelRequest` (agentls) or
  `turn/interrupt` (Codex) is sent, and the time to the answer is taken. The next row counts
  the samples in which the command (the shell or its `sleep`) was still alive at the moment
  of the answer. The two rows after it repeat the Stop a few times once the command has run
  for a second, and look again one second after the answer: Codex kills a command stopped at
  once, but one that has run a while is left running.
- **resume N items**: a session of N response items (per turn: a user message, a shell call,
  its 1 KB output, an answer), resumed in a freshly started server: `agent/resume` (whole
  history) and `thread/resume` (all turns). agentls's file is written by `bench/sessions.py`
  in its rollout format; Codex's is grown from a turn Codex itself wrote
  (`bench/codex_rollout.py`), each in its own format. RSS peak is the process's VmHWM after.
  The resume is the first request after start (0.2 s after `initialize`), for both.
- **paged resume**: after the session list (timed apart, in its own row), agentls
  `agent/resume` with `historyLimit: 200` of the 50,000-item session; Codex `thread/resume`
  with `excludeTurns: true` followed by `thread/turns/list` of the newest 50 turns (200
  items). Then, on a 50,000-item session whose last compaction is 200 turns from the end,
  the same resume and the first `agent/send` in it (which reads the model's history from
  the compacted line; a never-compacted 50,000-item history is ~50 MB, more than a model
  API takes in one request).
- **sandbox** (`bench/sandbox.py`): `true` run directly and through bubblewrap, interleaved;
  the row is the median difference. Stop: cancel of a sandboxed `sleep` to the call's end.
- **apply_patch** (`bench/patch.py`): one patch that updates 40 files (two hunks each), adds 5
  and deletes 5, in a fresh workspace: parse, plan and commit (fsync, renames).
- **checkpoints** (`bench/checkpoints.py`): a generated workspace of 10,000 files / 200 MB;
  first snapshot of the shadow repository, a snapshot after 5 files changed, the diff between
  them (what `turnDiff` sends), and the restore of a turn that changed 100 files.
- **MCP** (`bench/mcp.py`): `McpManager.call` of the fixture server's `echo` tool (whose own
  time is nil), over stdio and over Streamable HTTP; the bare SDK client on the same server;
  stop: from cancelling a call of the `slow` tool to the task's `CancelledError`.
  First turn: a message sent the moment the one configured server is told to start; how
  much later than the server's readiness its first model request went out. One 30 MiB line:
  this process's CPU for a tool result sent as one line (the bare SDK client's for 10 MiB).
- **first token** (`bench/first_token.py`): `agent/send` to the first `textDelta`, with the
  fake API and with the embedded local model (after its first, cold turn).
- **classify** (`bench/classify.py`): deciding whether a command is read-only; the first call
  in a fresh interpreter (imports tree-sitter and loads the bash grammar), then warm calls.

The peer's fake (`bench/peer_fake.py`) is the same `FakeModelAPI` with two differences, so
that Codex gets through a conversation at all: it accepts the output item ids Codex sends back
with `store: false`, and it answers the interrupt test's message with an `exec_command` call.
Neither makes a request cheaper to serve. Codex is installed from npm (`@openai/codex`) into
`${XDG_CACHE_HOME:-~/.cache}/agentls-bench/codex` and runs with a CODEX_HOME of its own.
"""


def write_doc(path: Path, figures: dict[str, Any]) -> None:
    run = figures["run"]
    peer = figures.get("codex")
    peer_line = (
        f"Peer: Codex CLI app-server, `{peer.get('version')}` (native binary), same run."
        if peer
        else f"Peer: not available ({figures.get('codex_unavailable')})."
    )
    lines = [
        "# Benchmarks",
        "",
        "Figures of one `make bench` run (`python -m bench.compare`), written by the run",
        "itself with `--doc docs/benchmarks.md`. Reproduce with `make bench` (about five",
        "minutes on 2 CPUs with the peer; `make bench ARGS=--quick` skips the heavy figures).",
        "",
        f"- Date: {run['date']}; took {run['seconds']} s{' (--quick)' if run['quick'] else ''}.",
        f"- Machine: {run['machine']}, {run['cpus']} CPUs, Python {run['python']}; shared:",
        f"  load average (1/5/15 min) {run['loadavg_before']} before,"
        f" {run['loadavg_after']} after.",
        f"- {peer_line}",
        "",
        "## agentls beside the Codex app-server",
        "",
        *peer_table(figures, markdown=True),
        "",
        "## Component figures",
        "",
        *other_table(figures, markdown=True),
        "",
    ]
    failures = {
        **figures.get("agent_errors", {}),
        **figures.get("component_errors", {}),
        **{f"codex {k}": v for k, v in ((peer or {}).get("errors") or {}).items()},
    }
    if failures:
        lines += ["Steps that failed in this run:", ""]
        lines += [f"- {name}: {error}" for name, error in failures.items()]
        lines.append("")
    notes = figures.get("notes")
    if notes:
        lines += ["## Notes on this run", "", *notes, ""]
    lines.append(HOW)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))

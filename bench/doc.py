"""docs/benchmarks.md from the figures of one run: when, on what, the tables, and how each
row is measured (the prose is fixed here; the numbers come from the run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.table import acp_table, other_table, peer_table

ACP_HEADING = "## ACP: `agentls acp` beside codex-acp"
HOW_HEADING = "## How each figure is taken"

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


ACP_HOW = """\
### How the ACP rows are taken

Both agents are started as an editor starts an ACP agent (stdio, a process group of its
own) and driven by the same client (`bench/acp_client.py`: JSON-RPC lines parsed with
orjson, updates counted by kind; not the SDK's client, whose per-update validation would be
the bottleneck of the delta figure); the rows are `bench/acp_bench.py`. The client offers
no files or terminals and grants a permission with its `allow_once` option. Each agent
talks to its own strict fake model API (agentls the one of the LSP rows, codex-acp the
app-server's, `bench/peer_fake.py`), each in a process of its own. Steps alternate, agentls
then codex-acp, so load drifting on a shared machine hits both alike. Medians unless a
percentile is named; ratios are agentls / codex-acp; "ahead" means the better figure
(lower time, higher rate).

- **startup**: spawning the process to the `initialize` answer; agentls as
  `python -m agentls acp` with the bytecode cache an installed package has, codex-acp its
  native binary (through its npm launcher, as `npx @zed-industries/codex-acp` starts, in the
  JSON as `startup_ms_npm_launcher`). A fresh state folder each time; one start first to
  warm the caches, not counted.
- **`session/new`**: sent as soon as `initialize` is answered (what an editor waits for
  next, including any start-up work put off past `initialize`), then a second one in the
  same process.
- **turn overhead**: `session/prompt` of a one-line message to its `end_turn` answer, after 3
  warm-up prompts, in one session, less the time the fake took to serve that turn's one
  model request (measured in the fake's process, from the request reaching its handler to
  the end of the streamed answer; its median is the row below).
- **deltas per second**: a `stream: 20000` prompt (the fake answers with 20,000 text
  deltas) in a fresh session of a warm agent: 20,000 divided by the time from the prompt to
  `end_turn`, once all 40,000 characters arrived in `agent_message_chunk` updates. agentls
  sends a turn's text in fewer, larger chunks than the model's deltas; codex-acp sends one
  update per delta: the next row counts the updates that carried the text.
- **cancel**: a prompt whose model answer is one shell call of `sleep 30; echo <tag>`
  (agentls: the fake's `run:` rule, a `shell` call; codex-acp: the peer fake's
  `exec_command` call, as in the app-server rows); permission is granted if asked. Once its
  `sleep` runs (a child of the processes whose /proc cmdline carries the tag: both agents
  run the command under bwrap, whose command line carries it before the shell starts),
  `session/cancel` is sent and the time to the prompt's `cancelled` answer taken; the
  command's processes (a snapshot by pid and start time) are looked at when the answer
  arrives and one second later. The same again a few times with the command running for a
  second before the cancel. A last prompt in the same session must end normally.
- **`session/load` N items**: a session of N response items (per turn: a user message, a
  shell call, its 1 KB output, an answer) loaded in a freshly started agent, 0.2 s after
  `initialize`: from the request to its answer or to the last replayed update
  (message, tool call) received, whichever is later; every turn's user message must have been
  replayed. agentls's session file is written by `bench/sessions.py`; codex-acp's is grown
  from a turn codex-acp itself wrote (`bench/codex_rollout.py`), as for the resume rows. RSS
  peak is the agent process's VmHWM after the load.

codex-acp is installed from npm (`@zed-industries/codex-acp`, pinned) into
`${XDG_CACHE_HOME:-~/.cache}/agentls-bench/codex-acp-<version>` and runs with a CODEX_HOME
of its own, pointed at the fake with the same `-c` provider overrides as the app-server
(`bench/codex_acp.py`); with a custom provider it asks for no login. It starts in its
default mode (`read-only`, in which it runs a command in its sandbox without asking);
agentls in its default approval (`ask-unsafe`, in which `sleep` is asked about). Two things
seen in codex-acp 0.16.0 while this bench was written, part of its figures as they are: it
starts each turn's text with a warning that it has no metadata for `gpt-5-mini` (the fake's
model list is not Codex's; the app-server rows use the same model name), and before each
model request it runs `lsb_release -a` and `getconf LONG_BIT` (seen with strace;
`lsb_release -a` alone takes about 20 ms on this machine under load).
"""


def acp_section(figures: dict[str, Any]) -> list[str]:
    """The page's ACP section: its own run facts (it may be rewritten alone, by
    `--only acp`), the table, this run's notes and failures, how each row is taken."""
    acp = figures.get("acp")
    if acp is None:
        return []
    run = figures["run"]
    peer = acp.get("peer")
    peer_line = (
        f"codex-acp `{peer.get('version')}` (`@zed-industries/codex-acp`, native binary)"
        if peer
        else f"codex-acp not available ({acp.get('peer_unavailable')})"
    )
    lines = [
        ACP_HEADING,
        "",
        f"- Date: {run['date']}{' (--quick)' if run['quick'] else ''}; "
        f"{run['machine']}, {run['cpus']} CPUs, Python {run['python']}; shared: load average "
        f"(1/5/15 min) {run['loadavg_before']} before, {run['loadavg_after']} after.",
        f"- agentls `{acp.get('agentls_commit')}` (`python -m agentls acp`, "
        f"agent-client-protocol SDK), beside {peer_line}, same run.",
        "",
        *acp_table(figures, markdown=True),
        "",
    ]
    failures = {
        **{f"agentls {k}": v for k, v in (acp.get("agentls_errors") or {}).items()},
        **{f"codex-acp {k}": v for k, v in ((peer or {}).get("errors") or {}).items()},
    }
    if failures:
        lines += ["Steps that failed in this run:", ""]
        lines += [f"- {name}: {error}" for name, error in failures.items()]
        lines.append("")
    if acp.get("notes"):
        lines += ["Notes on this run:", "", *acp["notes"], ""]
    lines.append(ACP_HOW)
    return lines


def splice_acp(page: str, section: list[str]) -> str:
    """`page` with its ACP section replaced by `section` (put before the "How each figure
    is taken" section when it has none): a run of the ACP rows alone keeps the rest."""
    lines = page.splitlines()
    if ACP_HEADING in lines:
        start = lines.index(ACP_HEADING)
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
    elif HOW_HEADING in lines:
        start = end = lines.index(HOW_HEADING)
    else:
        start = end = len(lines)
    return "\n".join([*lines[:start], *section, *lines[end:]]) + "\n"


def write_doc(path: Path, figures: dict[str, Any]) -> None:
    run = figures["run"]
    if run.get("only") == ["acp"] and path.exists():
        path.write_text(splice_acp(path.read_text(), acp_section(figures)))
        return
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
    lines += acp_section(figures)
    lines.append(HOW)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))

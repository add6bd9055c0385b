"""The figures of one `make bench` run as a table: agentls | codex | ratio | target | verdict.

The ratio is always our figure divided by the peer's, whichever way is better: below 1 is
better for times and memory, above 1 is better for rates. A peer cell says why it is empty.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Json = dict[str, Any]


def dig(figures: Json | None, path: str) -> Any:
    value: Any = figures
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


@dataclass(frozen=True)
class Row:
    label: str
    ours: str  # path in our figures
    peer: str | None = None  # path in the peer's figures (None: the peer has no such figure)
    op: str | None = None  # "<" or ">=" against `limit`
    limit: float | None = None
    unit: str = "ms"
    show: Callable[[Any], str] | None = None  # for values that are not plain numbers

    def target(self) -> str:
        if self.op is None or self.limit is None:
            return ""
        return f"{self.op} {_num(self.limit)}"

    def verdict(self, value: Any) -> str:
        if self.op is None or self.limit is None:
            return ""
        if not isinstance(value, int | float):
            return "not measured"
        ok = value < self.limit if self.op == "<" else value >= self.limit
        return "pass" if ok else "MISS"


def _num(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if math.isnan(value):
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _alive(checks: Any) -> str:
    if not isinstance(checks, dict):
        return "-"
    left = checks.get("processes_alive_at_answer", checks.get("command_alive_at_answer"))
    samples = checks.get("samples")
    return f"{left} of {samples}" if samples is not None else f"{left}"


def _alive_later(checks: Any) -> str:
    if not isinstance(checks, dict):
        return "-"
    return f"{checks.get('command_alive_1s_later')} of {checks.get('samples')}"


PEER_ROWS: list[Row] = [
    Row("startup to `initialize` answered", "agent.startup_ms", "startup_ms", "<", 400),
    Row(
        "first request after start (session list, none on disk)",
        "agent.first_request_ms",
        "first_request_ms",
    ),
    Row("idle RSS", "agent.idle_rss_mb", "idle_rss_mb", unit="MB"),
    Row("turn overhead (median)", "agent.turn_overhead_ms", "turn_overhead_ms", "<", 5),
    Row("turn overhead (p99)", "agent.turn_overhead_ms_p99", "turn_overhead_ms_p99"),
    Row("deltas per second", "agent.deltas_per_s", "deltas_per_s", ">=", 80_000, unit="/s"),
    Row("interrupt answered, p50", "agent.interrupt_ms.p50", "interrupt_ms.p50", "<", 10),
    Row("interrupt answered, p99", "agent.interrupt_ms.p99", "interrupt_ms.p99", "<", 25),
    Row(
        "command still alive at the interrupt answer",
        "agent.interrupt_checks",
        "interrupt_checks",
        unit="",
        show=_alive,
    ),
    Row(
        "same, Stop after the command ran 1 s",
        "agent.interrupt_late_checks",
        "interrupt_late_checks",
        unit="",
        show=_alive,
    ),
    Row(
        "  ... still alive 1 s after the answer",
        "agent.interrupt_late_checks",
        "interrupt_late_checks",
        unit="",
        show=_alive_later,
    ),
    Row("resume 1,000 items", "agent.resume_ms.1000", "resume_ms.1000"),
    Row("resume 10,000 items", "agent.resume_ms.10000", "resume_ms.10000"),
    Row("resume 50,000 items", "agent.resume_ms.50000", "resume_ms.50000"),
    Row(
        "resume 1,000 items: RSS peak",
        "agent.resume_rss_mb.1000.hwm",
        "resume_rss_mb.1000.hwm",
        unit="MB",
    ),
    Row(
        "resume 10,000 items: RSS peak",
        "agent.resume_rss_mb.10000.hwm",
        "resume_rss_mb.10000.hwm",
        unit="MB",
    ),
    Row(
        "resume 50,000 items: RSS peak",
        "agent.resume_rss_mb.50000.hwm",
        "resume_rss_mb.50000.hwm",
        unit="MB",
    ),
    Row(
        "first request after start: session list (the 50k session on disk)",
        "agent.paged_resume.list_first_ms",
        "paged_resume.50000.list_first_ms",
    ),
    Row(
        "then resume 50,000 items, newest 200 (paged)",
        "agent.paged_resume.ms",
        "paged_resume.50000.ms",
        "<",
        100,
    ),
    Row(
        "paged resume: RSS peak",
        "agent.paged_resume.hwm",
        "paged_resume.50000.hwm",
        "<",
        80,
        unit="MB",
    ),
    Row(
        "same, session compacted 200 turns from the end",
        "agent.paged_resume.compacted_ms",
        None,
        "<",
        100,
    ),
    Row("first send after that resume", "agent.paged_resume.first_send_ms", None, "<", 1000),
]

OTHER_ROWS: list[Row] = [
    Row(
        "sandbox: added per command, read-only offline",
        "sandbox.median_added_ms.read_only_offline",
        op="<",
        limit=15,
    ),
    Row(
        "sandbox: added per command, workspace-write",
        "sandbox.median_added_ms.workspace_write",
        op="<",
        limit=15,
    ),
    Row("sandbox: stop of a sandboxed command", "sandbox.stop_p50_ms.workspace_write"),
    Row("apply_patch of 50 files (parse+plan+commit)", "patch.total_ms_median", op="<", limit=50),
    Row(
        "checkpoint: first snapshot, 10,000 files / 200 MB",
        "checkpoints.first_snapshot_ms",
        op="<",
        limit=3000,
    ),
    Row(
        "checkpoint: snapshot after 5 changed files",
        "checkpoints.snapshot_5_changed_ms_median",
        op="<",
        limit=150,
    ),
    Row(
        "checkpoint: turnDiff of those changes",
        "checkpoints.diff_5_changed_ms_median",
        op="<",
        limit=200,
    ),
    Row(
        "checkpoint: undo of a 100-file turn",
        "checkpoints.restore_100_files_ms_median",
        op="<",
        limit=500,
    ),
    Row("MCP call over stdio (echo tool)", "mcp.stdio.call_ms", op="<", limit=5),
    Row("MCP call, bare SDK client (for comparison)", "mcp.stdio.sdk_call_ms"),
    Row("MCP call over Streamable HTTP (loopback)", "mcp.http.call_ms"),
    Row("MCP stop latency, stdio", "mcp.stdio.stop_ms", op="<", limit=50),
    Row("MCP stop latency, HTTP", "mcp.http.stop_ms", op="<", limit=50),
    Row("MCP: first turn's wait past server start", "mcp.first_turn.excess_ms", op="<", limit=50),
    Row("MCP: one 30 MiB line, our CPU", "mcp.big_message.cpu_ms_30mib", op="<", limit=1000),
    Row("MCP: one 10 MiB line, bare SDK client's CPU", "mcp.big_message.sdk_cpu_ms_10mib"),
    Row("first text delta after a send, fake API", "first_token.fake.first_delta_ms"),
    Row("first text delta, embedded model (warm)", "first_token.embedded.first_delta_ms"),
    Row("classify: first call (import + grammar)", "classify.first_call_ms"),
    Row("classify: warm, bash pipeline", "classify.warm_ms_no_cwd.bash pipeline"),
    Row("classify: warm, `git status` in a repository", "classify.warm_ms_with_cwd.git status"),
]


def _cell(row: Row, value: Any) -> str:
    if row.show is not None:
        return row.show(value)
    if value is None:
        return "-"
    return f"{_num(value)} {row.unit}".strip()


def ratio(ours: Any, theirs: Any) -> str:
    if not isinstance(ours, int | float) or not isinstance(theirs, int | float) or not theirs:
        return "-"
    return f"{ours / theirs:.2f}"


def peer_table(figures: Json, markdown: bool = False) -> list[str]:
    peer = figures.get("codex")
    reason = figures.get("codex_unavailable")
    head = ["figure", "agentls", "codex", "ratio", "target", "agentls vs target"]
    rows: list[list[str]] = []
    for row in PEER_ROWS:
        ours = dig(figures, row.ours)
        theirs = dig(peer, row.peer) if (peer is not None and row.peer) else None
        if row.peer is None:
            peer_cell = "(no such figure)"
        elif peer is None:
            peer_cell = "n/a"
        else:
            peer_cell = _cell(row, theirs)
        shown = ratio(ours, theirs) if row.show is None else "-"
        rows.append(
            [row.label, _cell(row, ours), peer_cell, shown, row.target(), row.verdict(ours)]
        )
    lines = _render(head, rows, markdown)
    if peer is None:
        lines.append(f"codex: not available ({reason})")
    return lines


def other_table(figures: Json, markdown: bool = False) -> list[str]:
    head = ["figure", "agentls", "target", "verdict"]
    rows: list[list[str]] = []
    for row in OTHER_ROWS:
        section = row.ours.split(".", 1)[0]
        value = dig(figures, row.ours)
        if value is None and section in figures.get("skipped", {}):
            cell = f"skipped ({figures['skipped'][section]})"
        else:
            cell = _cell(row, value)
        rows.append(
            [row.label, cell, row.target(), row.verdict(value) if value is not None else ""]
        )
    return _render(head, rows, markdown)


def _render(head: list[str], rows: list[list[str]], markdown: bool) -> list[str]:
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(cells) + " |" for cells in rows]
        return out
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return " | ".join([first, *rest]).rstrip()

    return [line(head), "-+-".join("-" * w for w in widths), *(line(r) for r in rows)]


# ---------------------------------------------------------------------------------- ACP


@dataclass(frozen=True)
class AcpRow:
    """A row of the ACP table: the same path in both agents' figures. `better` says which
    way the ratio is good ("lower", "higher", None: not a race); `aim` is the issue's aim for
    the row: "ahead" of codex-acp, or "none alive" (no command left after a cancel)."""

    label: str
    path: str
    better: str | None = "lower"
    aim: str = "ahead"
    unit: str = "ms"
    show: Callable[[Any], str] | None = None

    def verdict(self, ours: Any, theirs: Any) -> str:
        if self.aim == "none alive":
            if not isinstance(ours, dict):
                return "not measured"
            return "pass" if not ours.get("command_alive_1s_later") else "MISS"
        if self.aim != "ahead" or self.better is None:
            return ""
        if not isinstance(ours, int | float) or not isinstance(theirs, int | float):
            return "no peer figure"
        ahead = ours < theirs if self.better == "lower" else ours > theirs
        return "ahead" if ahead else "BEHIND"


def _asked(checks: Any) -> str:
    if not isinstance(checks, dict):
        return "-"
    return f"{checks.get('asked_permission')} of {checks.get('samples')}"


def _count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else "-"


ACP_ROWS: list[AcpRow] = [
    AcpRow("startup to `initialize` answered", "startup_ms", aim=""),
    AcpRow("`session/new` right after `initialize`", "new_session_ms"),
    AcpRow("`session/new`, a second one (warm)", "new_session_warm_ms"),
    AcpRow("turn overhead, one-line answer (median, net of the fake)", "turn_overhead_ms"),
    AcpRow("turn overhead (p99, net of the fake)", "turn_overhead_ms_p99", aim=""),
    AcpRow("  the fake API's own time per turn (subtracted)", "fake_served_ms", None, ""),
    AcpRow("deltas per second (20,000-delta answer)", "deltas_per_s", "higher", unit="/s"),
    AcpRow(
        "  `agent_message_chunk` updates carrying them",
        "chunks_per_answer",
        None,
        "",
        unit="",
        show=_count,
    ),
    AcpRow("`session/cancel` to `cancelled`, command just started (p50)", "cancel_ms.p50"),
    AcpRow("  same, p99", "cancel_ms.p99", aim=""),
    AcpRow(
        "  command alive at the answer",
        "cancel_checks",
        None,
        "",
        unit="",
        show=_alive,
    ),
    AcpRow(
        "  command alive 1 s after the answer",
        "cancel_checks",
        None,
        "none alive",
        unit="",
        show=_alive_later,
    ),
    AcpRow("`session/cancel` after the command ran 1 s (median)", "cancel_late_ms", aim=""),
    AcpRow(
        "  command alive 1 s after the answer",
        "cancel_late_checks",
        None,
        "none alive",
        unit="",
        show=_alive_later,
    ),
    AcpRow(
        "  permission asked before the command ran",
        "cancel_checks",
        None,
        "",
        unit="",
        show=_asked,
    ),
    AcpRow("`session/load` 1,000 items, all updates in", "load_ms.1000"),
    AcpRow("`session/load` 10,000 items, all updates in", "load_ms.10000"),
    AcpRow("  RSS peak after loading 10,000 items", "load_hwm_mb.10000", None, "", unit="MB"),
]


def _step_of(path: str) -> str:
    """The bench/acp_bench.py step a figure comes from (to say why a cell is empty)."""
    head = path.split(".", 1)[0]
    for prefix, step in (
        ("startup", "startup"),
        ("new_session", "startup"),
        ("turn", "turns"),
        ("fake", "turns"),
        ("deltas", "deltas"),
        ("chunks", "deltas"),
        ("cancel", "cancel"),
        ("load", "load"),
    ):
        if head.startswith(prefix):
            return step
    return head


def _acp_cell(row: AcpRow, value: Any, errors: Json) -> str:
    if value is None:
        step = _step_of(row.path)
        if step in errors:
            return f"failed ({_short(errors[step])})"
        return "-"
    if row.show is not None:
        return row.show(value)
    return f"{_num(value)} {row.unit}".strip()


def _short(error: str, width: int = 60) -> str:
    text = " ".join(str(error).split()).replace("|", "/")
    return text if len(text) <= width else text[: width - 3] + "..."


def acp_table(figures: Json, markdown: bool = False) -> list[str]:
    """agentls acp | codex-acp | ratio | aim | verdict, one row per ACP figure."""
    acp = figures.get("acp") or {}
    ours = acp.get("agentls") or {}
    ours_errors = acp.get("agentls_errors") or {}
    peer = acp.get("peer")
    peer_errors = (peer or {}).get("errors") or {}
    head = ["figure", "agentls", "codex-acp", "ratio", "aim", "verdict"]
    rows: list[list[str]] = []
    for row in ACP_ROWS:
        mine = dig(ours, row.path)
        theirs = dig(peer, row.path) if peer is not None else None
        peer_cell = _acp_cell(row, theirs, peer_errors) if peer is not None else "n/a"
        shown = ratio(mine, theirs) if row.show is None else "-"
        rows.append(
            [
                row.label,
                _acp_cell(row, mine, ours_errors),
                peer_cell,
                shown,
                row.aim,
                row.verdict(mine, theirs),
            ]
        )
    lines = _render(head, rows, markdown)
    if peer is None:
        lines.append(f"codex-acp: not available ({acp.get('peer_unavailable')})")
    return lines

"""Every reader of a rollout run on one file, and what each makes of the conversation.

The server reads a session through several walkers: the paged resume and its pages
(`open_resume`, `history_page`), the model's history (`load_model_history`), the turn scan
of undo and fork (`scan_turns`) and the session list (`SessionStore`). Each must apply the
rollback and compaction rules as the reference reader does; `assert_walkers_agree` runs
them all on one file and compares what each can tell.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.agentls.rollout.reference_reader import (
    build_model_history,
    model_response_chain,
    parse_rollout,
)

from agentls.history.view import render_history
from agentls.rollout.paging import history_page, load_model_history, open_resume
from agentls.rollout.paths import WorkspaceLayout
from agentls.rollout.store import SessionStore
from agentls.rollout.turns import scan_turns

Item = dict[str, Any]
SESSION_ID = "0b0e3c6e-7f6f-4a55-9a55-2c4d3e6f7a8b"
FILE_NAME = f"2026-11-29T00-00-00Z-{SESSION_ID}.jsonl"


@dataclass
class Reading:
    """What a walker says the conversation is (None where it cannot tell)."""

    entries: list[dict[str, Any]] | None = None
    model: list[Item] | None = None
    chain: tuple[str, int] | None = None
    torn: bool | None = None
    turns: list[str] | None = None  # turns still in the conversation, ended or not
    compacted: bool | None = None  # whether a compaction is in force
    turn_count: int | None = None


def session_file(home: Path, data: bytes) -> Path:
    """`data` as the one session of a workspace, where the session list finds it."""
    layout = WorkspaceLayout.for_path(home, home / "workspace")
    layout.ensure()
    path = layout.sessions_dir / FILE_NAME
    path.write_bytes(data)
    return path


def by_reference(data: bytes) -> Reading:
    rollout = parse_rollout(data)
    return Reading(
        entries=render_history(rollout.items, rollout.events),
        model=build_model_history(rollout),
        chain=model_response_chain(rollout),
        torn=rollout.torn_tail,
        turns=[str(e["turn_id"]) for e in rollout.events if e.get("type") == "turn_started"],
        compacted=bool(rollout.compactions),
    )


def by_paging(path: Path, limit: int) -> Reading:
    """The paged resume with `limit` entries, every older page, then the model's history."""
    view = open_resume(path, limit)
    entries = list(view.entries)
    cursor = view.history_cursor
    while cursor is not None:
        page, cursor = history_page(path, cursor, max(1, limit))
        assert page, "a cursor is only handed out when older entries exist"
        entries = page + entries
    model = load_model_history(view)
    return Reading(
        entries=entries,
        model=model.items,
        chain=model.response_chain,
        torn=view.torn_tail,
        compacted=view.replacement_history is not None,
    )


def by_turn_scan(data: bytes) -> Reading:
    found = scan_turns(data)
    return Reading(
        turns=[t.turn_id for t in found.turns if not t.rolled_back],
        compacted=found.last_compaction >= 0,
    )


def by_session_list(path: Path) -> Reading:
    layout = WorkspaceLayout.for_path(path.parents[3], path.parents[3] / "workspace")
    (summary,) = SessionStore(layout).summaries()
    return Reading(turn_count=summary.turns)


def assert_walkers_agree(path: Path, limits: tuple[int, ...] = (0, 1, 3, 1000)) -> Reading:
    """Every walker on the file at `path` tells what the reference reader tells."""
    data = path.read_bytes()
    reference = by_reference(data)
    for limit in limits:
        paged = by_paging(path, limit)
        assert paged.entries == reference.entries, f"panel, limit {limit}"
        assert paged.model == reference.model, f"model history, limit {limit}"
        assert paged.chain == reference.chain, f"response chain, limit {limit}"
        assert paged.torn == reference.torn, f"torn tail, limit {limit}"
        assert paged.compacted == reference.compacted, f"compaction, limit {limit}"
    scanned = by_turn_scan(data)
    assert scanned.turns == reference.turns, "turn scan"
    assert scanned.compacted == reference.compacted, "turn scan's last compaction"
    assert reference.turns is not None
    assert by_session_list(path).turn_count == len(reference.turns), "session list"
    return reference

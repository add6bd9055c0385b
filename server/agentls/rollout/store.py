"""The session list of one workspace, read straight from the folder.

The folder is the truth: no index that can drift from it, so a session on disk is always
listed. Summaries are cached by (size, mtime) so repeated listings stay cheap.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from agentls.history.items import message_text, user_text
from agentls.history.user_shell import title_text
from agentls.rollout.blocks import LIST_BLOCK, line_blocks, lines_with
from agentls.rollout.paths import (
    SESSION_SUFFIX,
    WorkspaceLayout,
    ensure_private_dir,
    session_id_from_file_name,
)
from agentls.rollout.reader import decode_line
from agentls.rollout.records import SESSION_RENAMED, TURNS_ROLLED_BACK, timestamp
from agentls.rollout.rules import rolled_back_count

_TITLE_SCAN_BYTES = 256 * 1024
_TITLE_LENGTH = 80


@dataclass(frozen=True)
class SessionSummary:
    session_id: str
    path: Path
    title: str
    created_at: str
    updated_at: str
    updated_ns: int
    turns: int
    one_shot: bool = False

    def to_wire(self) -> dict[str, Any]:
        return {
            "sessionId": self.session_id,
            "title": self.title,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "turns": self.turns,
            "oneShot": self.one_shot,
        }


_MARKED = (b'"session_renamed"', b'"turns_rolled_back"')
_TURN_STARTED = b'"turn_started"'


def _marked_lines(block: bytes) -> list[dict[str, Any]]:
    """Payloads of the renames and rollbacks among the lines of `block`, in order."""
    found: list[tuple[int, dict[str, Any]]] = []
    for marker in _MARKED:
        for start, stop in lines_with(block, marker):
            decoded = decode_line(block[start:stop])
            if isinstance(decoded, tuple) and decoded[1].get("type") in (
                SESSION_RENAMED,
                TURNS_ROLLED_BACK,
            ):
                found.append((start, decoded[1]))
    found.sort(key=lambda hit: hit[0])
    return [payload for _, payload in found]


def _whole(block: bytes) -> bytes:
    """`block` without a last line that is cut off: readers skip a torn last line."""
    cut = block.rfind(b"\n") + 1
    if cut == len(block) or not isinstance(decode_line(block[cut:]), str):
        return block
    return block[:cut]


def _summarize(path: Path, session_id: str, stat: os.stat_result) -> SessionSummary:
    """Title, dates and turn count from a byte search of the file: only the head and the
    renames and rollbacks are parsed, so listing many long sessions stays cheap."""
    renamed: str | None = None
    undone = 0
    turns = 0
    with path.open("rb") as fh:
        head = fh.read(_TITLE_SCAN_BYTES)
        for _, block in line_blocks(fh, 0, None, LIST_BLOCK, head):
            whole = _whole(block)
            turns += whole.count(_TURN_STARTED)
            for payload in _marked_lines(whole):
                if payload.get("type") == SESSION_RENAMED and isinstance(payload.get("title"), str):
                    renamed = payload["title"]
                elif payload.get("type") == TURNS_ROLLED_BACK:
                    undone += rolled_back_count(payload)
    turns = max(0, turns - undone)
    title = ""
    created = ""
    one_shot = False
    for raw in head.split(b"\n"):
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(record, dict) or not isinstance(record.get("payload"), dict):
            continue
        payload = record["payload"]
        if record.get("type") == "session_meta" and not created:
            created = str(payload.get("timestamp") or record.get("timestamp") or "")
            one_shot = payload.get("one_shot") is True
        if record.get("type") == "response_item":
            text = user_text(payload)
            if text:
                title = " ".join(title_text(text).split())[:_TITLE_LENGTH]
                break
    updated = timestamp(datetime.fromtimestamp(stat.st_mtime, UTC))
    if renamed and renamed.strip():
        title = " ".join(renamed.split())[:_TITLE_LENGTH]
    return SessionSummary(
        session_id=session_id,
        path=path,
        title=title or "(empty session)",
        created_at=created or updated,
        updated_at=updated,
        updated_ns=stat.st_mtime_ns,
        turns=turns,
        one_shot=one_shot,
    )


def encode_cursor(summary: SessionSummary) -> str:
    raw = f"{summary.updated_ns}:{summary.session_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        ns, session_id = base64.urlsafe_b64decode(padded).decode().split(":", 1)
        return int(ns), session_id
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError("cursor is not one this server handed out") from exc


class SessionStore:
    def __init__(self, layout: WorkspaceLayout) -> None:
        self.layout = layout
        self._cache: dict[Path, tuple[int, int, SessionSummary]] = {}

    def summaries(self) -> list[SessionSummary]:
        """Newest activity first; ties broken by id so paging is stable."""
        folder = self.layout.sessions_dir
        found: list[SessionSummary] = []
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            return []
        for entry in entries:
            session_id = session_id_from_file_name(entry.name)
            if session_id is None or not entry.name.endswith(SESSION_SUFFIX):
                continue
            try:
                stat = entry.stat()
                path = Path(entry.path)
                cached = self._cache.get(path)
                if cached and cached[0] == stat.st_size and cached[1] == stat.st_mtime_ns:
                    found.append(cached[2])
                    continue
                summary = _summarize(path, session_id, stat)
            except OSError:
                continue
            self._cache[path] = (stat.st_size, stat.st_mtime_ns, summary)
            found.append(summary)
        found.sort(key=lambda s: (s.updated_ns, s.session_id), reverse=True)
        return found

    def page(
        self, limit: int, cursor: str | None, query: str | None = None
    ) -> tuple[list[SessionSummary], str | None]:
        items = self.summaries()
        if query:
            items = [s for s in items if matches(s, query)]
        if cursor:
            key = decode_cursor(cursor)
            items = [s for s in items if (s.updated_ns, s.session_id) < key]
        page = items[:limit]
        next_cursor = encode_cursor(page[-1]) if len(items) > limit and page else None
        return page, next_cursor

    def latest(self) -> SessionSummary | None:
        found = self.summaries()
        return found[0] if found else None


def matches(summary: SessionSummary, query: str) -> bool:
    """The title or the text of a message holds `query`, ignoring case.

    A byte search of the file (for the query as JSON writes it) rules most sessions out
    before any line is parsed.
    """
    wanted = query.casefold()
    if wanted in summary.title.casefold():
        return True
    try:
        data = summary.path.read_bytes()
    except OSError:
        return False
    needle = orjson.dumps(query)[1:-1].lower()
    if needle not in data.lower():
        return False
    for line in data.split(b"\n"):
        if needle not in line.lower():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        payload = record.get("payload") if isinstance(record, dict) else None
        if not isinstance(payload, dict) or record.get("type") != "response_item":
            continue
        text = user_text(payload) or message_text(payload)
        if text and wanted in text.casefold():
            return True
    return False


def move_to_trash(layout: WorkspaceLayout, path: Path) -> Path:
    """Move a session file into the workspace's `trash/` folder; nothing is erased."""
    trash = layout.root / "trash"
    ensure_private_dir(trash)
    target = trash / path.name
    n = 1
    while target.exists():
        target = trash / f"{path.stem}.{n}{path.suffix}"
        n += 1
    os.rename(path, target)
    return target

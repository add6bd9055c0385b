"""Listing a workspace's sessions and choosing the one `--resume` means.

A one-shot run (`agentls chat -p`) is a session too, but rarely the conversation a user wants
back: the chat creates it with `agent/newSession {oneShot: true}`, the server lists it with
`oneShot: true`, and a bare `--resume` skips it (unless nothing else exists).
"""

from __future__ import annotations

from typing import Any, Protocol

MAX_LISTED = 500


class Requester(Protocol):
    async def request(self, method: str, params: dict[str, Any]) -> Any: ...


async def list_sessions(conn: Requester, limit: int = MAX_LISTED) -> list[dict[str, Any]]:
    """Newest first, as the server orders them; pages followed up to `limit` entries."""
    sessions: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": min(limit, 100)}
    while len(sessions) < limit:
        page = await conn.request("agent/listSessions", params)
        sessions.extend(s for s in page.get("sessions") or [] if isinstance(s, dict))
        cursor = page.get("nextCursor")
        if not cursor:
            break
        params = {**params, "cursor": cursor}
    return sessions[:limit]


def pick_session(sessions: list[dict[str, Any]], wanted: str) -> str | None:
    """The id `--resume [ID]` means: a full id or a unique prefix, else the last conversation.

    Raises LookupError with words for the user when nothing matches. None means "let the
    server choose" (it knows no sessions we could list).
    """
    if wanted:
        matches = [s for s in sessions if str(s.get("sessionId", "")).startswith(wanted)]
        exact = [s for s in matches if s.get("sessionId") == wanted]
        if exact or len(matches) == 1:
            return str((exact or matches)[0]["sessionId"])
        if not matches:
            raise LookupError(f"no session of this workspace starts with '{wanted}'")
        raise LookupError(f"'{wanted}' matches {len(matches)} sessions; give more of the id")
    if not sessions:
        raise LookupError("no session in this workspace yet")
    conversations = [s for s in sessions if not s.get("oneShot")]
    return str((conversations or sessions)[0]["sessionId"])


def format_sessions(sessions: list[dict[str, Any]], current: str | None = None) -> str:
    if not sessions:
        return "no sessions in this workspace yet"
    lines = []
    for session in sessions:
        session_id = str(session.get("sessionId", "?"))
        mark = "*" if session_id == current else " "
        kind = " (one-shot)" if session.get("oneShot") else ""
        updated = str(session.get("updatedAt", ""))[:16].replace("T", " ")
        turns = session.get("turns", "?")
        title = session.get("title") or ""
        lines.append(f"{mark} {session_id}  {updated}  {turns!s:>3} turns  {title}{kind}")
    return "\n".join(lines)

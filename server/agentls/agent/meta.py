"""A session file's first line (`session_meta`): what it records, and what is read back."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlparse

from agentls.agent.context import AgentContext
from agentls.rollout.paths import WorkspaceLayout
from agentls.rollout.records import timestamp


def session_meta(
    context: AgentContext, layout: WorkspaceLayout, session_id: str, created: datetime
) -> dict[str, Any]:
    settings = context.settings
    info = context.provider_info
    meta: dict[str, Any] = {
        "id": session_id,
        "timestamp": timestamp(created),
        "cwd": str(context.workspace),
        "workspace_uri": layout.uri,
        "originator": "agentls",
        "cli_version": context.version,
        "model_provider": str(
            info.get("provider") or urlparse(settings.base_url).netloc or settings.base_url
        ),
        "model": str(info.get("model") or settings.model),
    }
    if settings.instructions:
        meta["instructions"] = settings.instructions
    return meta


def forked_from(meta: dict[str, Any] | None) -> dict[str, str] | None:
    """`{sessionId, turnId}` of a forked session's origin, for the wire."""
    origin = meta.get("forked_from") if isinstance(meta, dict) else None
    if not isinstance(origin, dict):
        return None
    return {"sessionId": str(origin.get("session_id")), "turnId": str(origin.get("turn_id"))}

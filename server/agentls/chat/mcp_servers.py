"""`/mcp`: the configured MCP servers as `agent/mcpServers` reports them, one line each.

A person looks here when a tool is missing, so a failed server shows its error (the server
has already taken secrets out of it) and a ready one how many tools it offers.
"""

from __future__ import annotations

from typing import Any

NO_SERVERS = (
    "no MCP servers configured ([mcp_servers.NAME] in config.toml, or mcpServers in the "
    "editor's settings)"
)


def _tool_count(tools: Any) -> str:
    count = len(tools) if isinstance(tools, list) else 0
    return f"{count} tool" if count == 1 else f"{count} tools"


def format_mcp_servers(servers: list[dict[str, Any]]) -> str:
    """`  NAME  STATE  N tools` per server, the error (if any) on the next line."""
    if not servers:
        return NO_SERVERS
    width = max(len(str(server.get("name", "?"))) for server in servers)
    lines = ["MCP servers:"]
    for server in servers:
        name = str(server.get("name", "?")).ljust(width)
        state = str(server.get("state", "?"))
        detail = _tool_count(server.get("tools")) if state == "ready" else ""
        lines.append(f"  {name}  {state.ljust(8)}  {detail}".rstrip())
        error = server.get("error")
        if error:
            lines.append(f"  {' ' * width}  error: {error}")
    return "\n".join(lines)


def mcp_label(mcp: Any) -> str | None:
    """`server/tool` from an event's `mcp` field (or an approval's `tool`), else None.

    The field beats parsing `mcp__server__tool`: a name cut to 64 characters or cleaned of
    characters the model API refuses no longer splits back into its parts.
    """
    if isinstance(mcp, dict) and mcp.get("server") and mcp.get("tool"):
        return f"{mcp['server']}/{mcp['tool']}"
    return None

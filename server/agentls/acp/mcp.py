"""The client's MCP servers (`session/new`'s `mcpServers`) as config.toml tables.

The core already reads `[mcp_servers.NAME]` tables (`command`/`args`/`env` for stdio,
`url`/`http_headers` for Streamable HTTP) and starts, contains and stops those servers; the
client's servers join the user's own in that form. agentls advertises stdio and HTTP only,
so an SSE or ACP-transport server is refused rather than silently left out.
"""

from __future__ import annotations

from collections.abc import Sequence

from acp.schema import AcpMcpServer, HttpMcpServer, McpServerStdio, SseMcpServer

from agentls.acp.core import McpServers

__all__ = ["ClientMcpServer", "McpServerError", "mcp_tables"]

ClientMcpServer = HttpMcpServer | SseMcpServer | AcpMcpServer | McpServerStdio


class McpServerError(ValueError):
    """An MCP server agentls cannot take from the client; the message names it."""


def mcp_tables(servers: Sequence[ClientMcpServer] | None) -> McpServers:
    """`{name: table}` for the client's servers, in the form of `[mcp_servers.NAME]`."""
    tables: McpServers = {}
    for index, server in enumerate(servers or ()):
        where = f"mcpServers[{index}] ({server.name!r})"
        if server.name in tables:
            raise McpServerError(f"{where}: two MCP servers are named {server.name!r}")
        if isinstance(server, McpServerStdio):
            tables[server.name] = {
                "command": server.command,
                "args": list(server.args),
                "env": {variable.name: variable.value for variable in server.env},
            }
        elif isinstance(server, HttpMcpServer):
            tables[server.name] = {
                "url": server.url,
                "http_headers": {header.name: header.value for header in server.headers},
            }
        else:
            raise McpServerError(
                f"{where}: the {server.type} transport is not supported; "
                "agentls takes stdio and HTTP MCP servers"
            )
    return tables

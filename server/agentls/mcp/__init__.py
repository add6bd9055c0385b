"""Tools from Model Context Protocol servers, with no LSP and no turn loop in sight.

`parse_server_configs` reads `[mcp_servers.NAME]`; `McpManager` starts the servers, offers
their tools as `mcp__<server>__<tool>` function tools and runs calls that a stop cancels at
the server too.
"""

from agentls.mcp.config import McpServerConfig, parse_server_configs
from agentls.mcp.manager import McpManager, McpServerStatus, McpTool
from agentls.mcp.results import McpCallResult

__all__ = [
    "McpCallResult",
    "McpManager",
    "McpServerConfig",
    "McpServerStatus",
    "McpTool",
    "parse_server_configs",
]

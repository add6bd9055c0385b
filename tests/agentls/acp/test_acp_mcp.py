"""The client's MCP servers as config.toml tables the core reads."""

from __future__ import annotations

import pytest
from acp.schema import EnvVariable, HttpHeader, HttpMcpServer, McpServerStdio, SseMcpServer

from agentls.acp.mcp import McpServerError, mcp_tables
from agentls.mcp.config import parse_server_configs


def test_stdio_and_http_servers_become_tables_the_core_reads() -> None:
    tables = mcp_tables(
        [
            McpServerStdio(
                name="files",
                command="/usr/bin/mcp-files",
                args=["--root", "."],
                env=[EnvVariable(name="TOKEN", value="secret")],
            ),
            HttpMcpServer(
                type="http",
                name="web",
                url="https://mcp.example.com/mcp",
                headers=[HttpHeader(name="Authorization", value="Bearer x")],
            ),
        ]
    )
    assert tables == {
        "files": {
            "command": "/usr/bin/mcp-files",
            "args": ["--root", "."],
            "env": {"TOKEN": "secret"},
        },
        "web": {
            "url": "https://mcp.example.com/mcp",
            "http_headers": {"Authorization": "Bearer x"},
        },
    }
    configs, warnings = parse_server_configs(tables)
    assert warnings == []
    assert [(c.name, c.transport) for c in configs] == [("files", "stdio"), ("web", "http")]
    assert mcp_tables(None) == {}


def test_what_agentls_does_not_take_is_refused() -> None:
    sse = SseMcpServer(type="sse", name="old", url="https://x/sse", headers=[])
    with pytest.raises(McpServerError, match=r"mcpServers\[0\] \('old'\): the sse transport"):
        mcp_tables([sse])
    twice = McpServerStdio(name="a", command="a", args=[], env=[])
    with pytest.raises(McpServerError, match="two MCP servers are named 'a'"):
        mcp_tables([twice, twice])

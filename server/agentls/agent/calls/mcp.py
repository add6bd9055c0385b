"""Tools of MCP servers in a turn: asked per the server's policy, stopped like any call.

A stop cancels the task awaiting the call; the MCP SDK then tells the server
(`notifications/cancelled`) and the turn's abort path answers the call "aborted".

"Allow for this session" is kept by the tool's identity, `(server, tool)`, never by the
name the model sees: a name is the manager's to give, and an approval must not follow it
anywhere. Under `ask-unsafe` an MCP tool is asked unless its server marks it `readOnlyHint`
and the user said to trust that server's marks (`trust_read_only_hint`): the mark is the
server's own claim.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agentls.agent.context import AgentContext
from agentls.agent.tools import CallScope, Tool, ToolOutcome, decide
from agentls.config.settings import ApprovalPolicy
from agentls.mcp import McpManager, McpTool
from agentls.protocol import EventType

DENIED_TOOL_OUTPUT = "The user denied this tool call. Do not repeat it unchanged."


ApprovedTools = set[tuple[str, str]]


def mcp_tools(context: AgentContext, manager: McpManager, approved: ApprovedTools) -> list[Tool]:
    return [
        McpToolAdapter(context, manager, tool, approved)
        for definition in manager.tool_definitions()
        if (tool := manager.lookup(str(definition.get("name")))) is not None
    ]


class McpToolAdapter:
    def __init__(
        self, context: AgentContext, manager: McpManager, tool: McpTool, approved: ApprovedTools
    ) -> None:
        self.context = context
        self.manager = manager
        self.tool = tool
        self.name = tool.name
        self.approved = approved

    def definition(self) -> dict[str, Any]:
        return self.tool.definition()

    async def prepare(self, arguments: str) -> McpCall:
        return McpCall(
            self,
            arguments,
            {"mcp": {"server": self.tool.server, "tool": self.tool.tool}},
            may_change=not self.tool.read_only,
        )

    def needs_approval(self) -> bool:
        policy = self.tool.approval or self.context.settings.approval
        if policy is ApprovalPolicy.NEVER_ASK or self.tool.key in self.approved:
            return False
        if policy is ApprovalPolicy.ALWAYS_ASK:
            return True
        return not self.tool.read_only


@dataclass
class McpCall:
    adapter: McpToolAdapter
    arguments: str
    started_fields: dict[str, Any] = field(default_factory=dict)
    may_change: bool = True

    async def run(self, scope: CallScope) -> ToolOutcome:
        adapter = self.adapter
        if adapter.needs_approval():
            tool = adapter.tool
            decision = await decide(
                scope,
                "mcp",
                str(adapter.context.workspace),
                reason=f"{tool.server}: {tool.tool} {self.arguments[:200]}",
                tool={"server": tool.server, "tool": tool.tool, "arguments": self.arguments},
            )
            if decision == "deny":
                return ToolOutcome("denied", DENIED_TOOL_OUTPUT, shown="denied")
            if decision == "approveForSession":
                adapter.approved.add(tool.key)
        result = await adapter.manager.call(adapter.name, self.arguments)
        if result.output:
            scope.emit(EventType.TOOL_OUTPUT_DELTA, delta=result.output)
        return ToolOutcome("failed" if result.is_error else "completed", result.output)

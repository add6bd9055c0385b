"""`agentls acp`: the Agent Client Protocol front end, a thin adapter over the agent core.

Each module has one job: `tools` says how a tool call looks in ACP, `updates` turns live
`agent/event` dicts into `session/update` payloads, `history` replays a saved conversation,
`prompt` reads a prompt's content blocks, `permissions` asks `session/request_permission`,
`config` describes the session's config options and slash commands, `core` is the interface
the adapter needs from the core, and `agent` is the SDK `Agent` that ties them together.
"""

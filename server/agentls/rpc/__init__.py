"""A small JSON-RPC 2.0 endpoint with LSP framing, for both ends of the connection.

agentls answers `initialize` before anything heavy is imported, streams tens of thousands
of events per second, and treats `$/cancelRequest` as "stop the turn", not "drop the
answer". A general LSP library costs half a second of imports at start-up and gets the last
two wrong in ways that must be patched around, so this package does just what agentls
needs: framing, dispatch, cancellation, and requests in both directions.
"""

"""The JSON-RPC errors agentls answers with, and the one place core errors become them.

Handlers raise the core's own exceptions; `as_rpc_error` turns them into the codes the
protocol promises, once, where the methods are registered.
"""

from __future__ import annotations

from pygls.exceptions import JsonRpcException

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_NOT_INITIALIZED = -32002
REQUEST_CANCELLED = -32800

SESSION_NOT_FOUND = -33001
TURN_IN_PROGRESS = -33002
SESSION_LOCKED = -33003
NOTHING_TO_UNDO = -33004
STORAGE_FAILED = -33005


class RpcError(JsonRpcException):
    """An error answer with a code of ours; pygls sends it as the response."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message=message, code=code)


def invalid_params(message: str) -> RpcError:
    return RpcError(INVALID_PARAMS, message)


def as_rpc_error(exc: Exception) -> Exception:
    """The core's exceptions as the JSON-RPC errors the protocol promises."""
    from agentls.agent.results import CoreError
    from agentls.rollout.paths import InvalidSessionIdError
    from agentls.rollout.writer import SessionLockedError

    if isinstance(exc, JsonRpcException):
        return exc
    if isinstance(exc, InvalidSessionIdError):
        return invalid_params(f"invalid 'sessionId': {exc}")
    if isinstance(exc, SessionLockedError):
        return RpcError(SESSION_LOCKED, str(exc))
    if isinstance(exc, CoreError):
        return RpcError(exc.code, str(exc))
    return exc

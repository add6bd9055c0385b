"""JSON-RPC errors the agent methods answer with, each with a message a person can act on."""

from __future__ import annotations

from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams

SESSION_NOT_FOUND = -32001
TURN_IN_PROGRESS = -32002
SESSION_LOCKED = -32003


class AgentError(JsonRpcException):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(code=code, message=message)


def invalid_params(message: str) -> JsonRpcInvalidParams:
    return JsonRpcInvalidParams(message=message)

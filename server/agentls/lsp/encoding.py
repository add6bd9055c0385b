"""pygls's own message writer, encoding with orjson.

pygls 2.1.1 encodes and frames every message in `JsonRPCProtocol._send_data`: the body with
the stdlib's `json.dumps(data, default=...)`, then `Content-Length: len(body)` and a
`Content-Type` header, written to its writer, whose answer it checks with
`inspect.isawaitable`. At tens of thousands of deltas a second two of those steps are most
of the server's time per delta: the stdlib encoder costs about 3.5 us more per message than
orjson, and `inspect.isawaitable(None)` (the outbox's `write` answers None) almost 1 us,
through the ABC machinery.

`pygls_send_data` is that very function of pygls, run with its globals `json` and `inspect`
bound to `AsciiJson` and `QuickInspect`: the framing stays pygls's, only those two differ,
and only for the class that uses it (`AgentProtocol`), not for every pygls protocol in the
process. Should a pygls release change the function so that this no longer fits, pygls's
own is used as it is.
"""

from __future__ import annotations

import inspect
import json
import types
from collections.abc import Callable
from typing import Any

import orjson
from pygls.protocol.json_rpc import JsonRPCProtocol


class AsciiJson:
    """`json` as pygls's writer calls it, by orjson while the output is ASCII.

    pygls writes `Content-Length: len(body)` of the text, which counts bytes only for ASCII
    text: the stdlib's `ensure_ascii` promises that. orjson's output is used when it is ASCII
    (most messages: keys, ids and most streamed text are); anything else (non-ASCII text,
    a lone surrogate, a non-string key) is encoded by the stdlib exactly as pygls would.
    """

    @staticmethod
    def dumps(obj: Any, default: Callable[[Any], Any] | None = None) -> str:
        try:
            body = orjson.dumps(obj, default=default)
        except TypeError:
            return json.dumps(obj, default=default)
        if body.isascii():
            return body.decode("ascii")
        return json.dumps(obj, default=default)


class QuickInspect:
    """`inspect` as pygls's writer calls it: a writer that answers None answers nothing to
    wait for, known without asking the ABCs."""

    @staticmethod
    def isawaitable(obj: Any) -> bool:
        return obj is not None and inspect.isawaitable(obj)


def _with_fast_json(stock: Callable[..., Any]) -> Callable[..., Any]:
    """`stock` (a function of pygls) with its globals `json` and `inspect` rebound."""
    code = getattr(stock, "__code__", None)
    names = set(getattr(code, "co_names", ()))
    if code is None or code.co_freevars or not {"json", "inspect"} <= names:
        return stock  # not the function this was written for: pygls's own, unchanged
    namespace = {**stock.__globals__, "json": AsciiJson, "inspect": QuickInspect}
    fast = types.FunctionType(code, namespace, stock.__name__, stock.__defaults__)
    fast.__doc__ = stock.__doc__
    return fast


pygls_send_data: Callable[[JsonRPCProtocol, Any], None] = _with_fast_json(
    JsonRPCProtocol._send_data
)

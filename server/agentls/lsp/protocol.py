"""pygls's LSP protocol, hardened for what an editor (or anything else) may send.

pygls does the framing, the lifecycle, `$/cancelRequest`, text document sync and the
typed standard messages. What this subclass adds, each for a failure seen when probing:

- params and results of the `agent/*` methods stay plain dicts (pygls would turn them into
  lossy namedtuples); they are validated by the handlers, naming the bad field;
- a message whose `id` is not a string or an integer (a list, an object, `true`), or whose
  params do not fit the standard LSP type, gets an error answer (or a logged drop for
  notifications and responses), and the server goes on;
- a request id that is already in use by a running request is refused, so no request is
  ever answered twice;
- `$/cancelRequest` is delivered after the request's first step, never before: a handler
  always gets to answer (a cancelled `agent/send` answers with its interrupted turn);
- `agent/event` notifications skip the attrs round trip: they are dicts already, and a turn
  sends tens of thousands of them;
- what goes out passes an `Outbox` that bounds memory when the client stops reading.

It knows nothing of the server's methods: the server hands it the names of its
request-only methods and the callback for its `initialize` capability when it is built, so
this module imports neither `lsp.methods` nor `lsp.server`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs
from lsprotocol import types
from pygls.protocol import LanguageServerProtocol, default_converter
from pygls.protocol.json_rpc import (
    JsonRPCNotification,
    JsonRPCRequestMessage,
    JsonRPCResponseMessage,
)
from pygls.protocol.language_server import lsp_method

from agentls.lsp.encoding import pygls_send_data
from agentls.lsp.errors import INVALID_PARAMS, INVALID_REQUEST, RpcError

if TYPE_CHECKING:
    from collections.abc import Generator

    from cattrs import Converter

    from agentls.lsp.outbox import Outbox

logger = logging.getLogger(__name__)

EXIT = "exit"


@attrs.define
class DroppedMessage:
    """A message that was answered (or logged) while being read; nothing more to do."""

    jsonrpc: str = "dropped"


def _keep_dicts(obj: dict[str, Any], cls: type[Any]) -> Any:
    return cls(**obj)


def agent_converter() -> Converter:
    """pygls's converter, except that messages pygls has no type for keep their dicts."""
    converter: Converter = default_converter()  # type: ignore[no-untyped-call]
    for message_type in (JsonRPCRequestMessage, JsonRPCNotification, JsonRPCResponseMessage):
        converter.register_structure_hook(message_type, _keep_dicts)
    return converter


def _valid_id(value: Any) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool)


class AgentProtocol(LanguageServerProtocol):
    outbox: Outbox | None = None

    def __init__(self, server: Any, converter: Converter) -> None:
        super().__init__(server, converter)
        self._incoming: set[Any] = set()
        # Set by the server when it registers its methods: those that need an id (sent as
        # notifications they would run with nobody to answer), and what `initialize`
        # answers under `capabilities.experimental.agent`.
        self.request_only_methods: frozenset[str] = frozenset()
        self.agent_capability: Callable[[], dict[str, Any]] | None = None

    # -- reading ----------------------------------------------------------------------------
    def structure_message(self, data: dict[str, Any]) -> Any:
        """Called for every JSON object read (pygls passes it as `object_hook`)."""
        if "jsonrpc" not in data:
            return data
        has_method = isinstance(data.get("method"), str)
        if "id" in data and not _valid_id(data["id"]):
            if has_method:
                self._answer_error(
                    None, INVALID_REQUEST, "the request id must be a string or a number"
                )
            else:
                logger.warning("dropped a response whose id is %r", type(data["id"]).__name__)
            return DroppedMessage()
        if "method" in data and not has_method:
            self._answer_error(None, INVALID_REQUEST, "'method' must be a string")
            return DroppedMessage()
        if "method" not in data and "id" not in data:
            self._answer_error(None, INVALID_REQUEST, "a message needs a method or an id")
            return DroppedMessage()
        if has_method and "params" not in data:
            data = {**data, "params": None}  # JSON-RPC lets a message leave params out
        try:
            return super().structure_message(data)
        except Exception:
            if has_method and "id" in data:
                self._answer_error(
                    data["id"],
                    INVALID_PARAMS,
                    f"{data['method']}: params do not match the LSP specification",
                )
            else:
                logger.warning("dropped a malformed %s message", data.get("method", "response"))
            return DroppedMessage()

    def handle_message(self, message: Any) -> None:
        if isinstance(message, DroppedMessage):
            return
        if message is None:
            logger.warning("dropped a message that was JSON null")
            return
        if not hasattr(message, "jsonrpc"):
            # valid JSON that is not a message object: an array, a string, a number
            self._answer_error(None, INVALID_REQUEST, "expected a JSON-RPC message object")
            return
        method = getattr(message, "method", None)
        if self._shutdown and method != EXIT and hasattr(message, "id") and method is not None:
            self._answer_error(message.id, INVALID_REQUEST, "the server is shutting down")
            return
        super().handle_message(message)

    def _answer_error(self, msg_id: Any, code: int, message: str) -> None:
        self.send_raw({"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message}})

    # -- lifecycle --------------------------------------------------------------------------
    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams) -> Generator[Any, Any, Any]:
        """pygls's initialize, plus the agent's own capability."""
        result = yield from super().lsp_initialize(params)
        if self.agent_capability is not None:
            result.capabilities.experimental = {"agent": self.agent_capability()}
        return result

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any) -> Generator[Any, Any, None]:
        """The server decides its exit code and ends its connection; pygls's own handler
        would raise SystemExit from inside the message loop."""
        if (user_handler := self.fm.features.get(types.EXIT)) is not None:
            yield user_handler, args, None

    # -- requests ---------------------------------------------------------------------------
    def _handle_request(self, msg_id: Any, method_name: str, params: Any) -> None:
        if msg_id in self._incoming:
            self._answer_error(msg_id, INVALID_REQUEST, f"request id {msg_id!r} is in use")
            return
        self._incoming.add(msg_id)
        super()._handle_request(msg_id, method_name, params)
        if msg_id not in self._request_futures:  # answered at once (sync or refused)
            self._incoming.discard(msg_id)

    def _send_handler_result(self, future: Any, *, msg_id: Any) -> None:
        self._incoming.discard(msg_id)
        if not future.cancelled() and isinstance(future.exception(), RpcError):
            # an answer the protocol promises, not a server fault: no traceback in the log
            self._request_futures.pop(msg_id, None)
            self._send_response(msg_id, error=future.exception().to_response_error())
            return
        super()._send_handler_result(future, msg_id=msg_id)

    def _handle_notification(self, method_name: str, params: Any) -> None:
        """Requests sent as notifications (no id) would run with nobody to answer: dropped."""
        if method_name in self.request_only_methods:
            logger.warning("dropped %s sent as a notification (it needs an id)", method_name)
            return
        super()._handle_notification(method_name, params)

    def _handle_cancel_notification(self, msg_id: Any) -> None:
        """Cancel after the request's first step, so its handler always answers once."""
        if not _valid_id(msg_id) or msg_id not in self._incoming:
            logger.debug("cancel for unknown request %r", msg_id)
            return
        future = self._request_futures.get(msg_id)
        if future is not None:
            asyncio.get_running_loop().call_soon(future.cancel)

    def cancel_outgoing(self, msg_id: Any) -> None:
        """Withdraw a request we sent (the client is told, a late answer is dropped).

        pygls 2.1.1 keeps the future of a server-to-client request whose asker was
        cancelled and raises on the late answer (upstream issue #621); this does it right.
        """
        if self._request_futures.pop(msg_id, None) is not None:
            self._result_types.pop(msg_id, None)
            self.notify(types.CANCEL_REQUEST, {"id": msg_id})

    def _handle_response(self, msg_id: Any, result: Any = None, error: Any = None) -> None:
        future = self._request_futures.get(msg_id)
        if future is None or future.done():
            self._request_futures.pop(msg_id, None)
            logger.debug("dropped a response to %r: nobody is waiting for it", msg_id)
            return
        super()._handle_response(msg_id, result, error)

    # -- writing ----------------------------------------------------------------------------
    def use_outbox(self, outbox: Outbox, *, framed: bool) -> None:
        """Write through `outbox`: pygls frames each message (with `Content-Length` when
        `framed`, i.e. over a byte stream) and writes it there."""
        self.outbox = outbox
        super().set_writer(outbox, include_headers=framed)

    def set_writer(self, writer: Any, include_headers: bool = True) -> None:
        """pygls's `run_websocket` installs a writer of its own when its loop starts; once
        the connection has its outbox (bounded, in order) that one is kept."""
        if self.outbox is not None:
            return
        super().set_writer(writer, include_headers)

    def send_raw(self, message: dict[str, Any]) -> None:
        """Send a message that is already plain JSON data (nothing to send it on yet: dropped)."""
        if self.outbox is not None:
            self._send_data(message)

    def notify(self, method: str, params: Any | None = None) -> None:
        if params is None or isinstance(params, dict | list):
            message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
            if params is not None:
                message["params"] = params
            self.send_raw(message)
            return
        super().notify(method, params)

    def send_request(
        self,
        method: str,
        params: Any | None = None,
        callback: Any = None,
        msg_id: Any = None,
    ) -> Any:
        """Requests with plain-dict params go out as they are; typed ones through pygls."""
        if not isinstance(params, dict | list) or callback is not None:
            return super().send_request(method, params, callback, msg_id)
        from concurrent.futures import Future

        msg_id = msg_id if msg_id is not None else str(uuid.uuid4())
        future: Future[Any] = Future()
        self._request_futures[msg_id] = future
        self._result_types[msg_id] = self.get_result_type(method)
        self.send_raw({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        return future

    def _send_data(self, data: Any) -> None:
        """Everything goes out here: a live delta the lagging client cannot take is dropped,
        the rest is encoded and framed by pygls's writer (with orjson: `lsp.encoding`) and
        written to the outbox."""
        if not data:
            return
        outbox = self.outbox
        if outbox is None:
            logger.error("no transport to send %s", type(data).__name__)
            return
        if outbox.admits(data):
            pygls_send_data(self, data)

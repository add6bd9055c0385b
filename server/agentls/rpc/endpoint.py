"""Dispatch of JSON-RPC messages in both directions over one message stream.

Incoming requests run as tasks; `$/cancelRequest` cancels the task and the handler decides
what to answer (agentls answers a cancelled `agent/send` with its interrupted result). Every
request gets exactly one response: the task's end is the only place that sends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from agentls.rpc.errors import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    REQUEST_CANCELLED,
    RpcError,
)
from agentls.rpc.streams import FramingError, MessageStream

logger = logging.getLogger(__name__)

RequestHandler = Callable[[Any], Awaitable[Any]]
NotificationHandler = Callable[[Any], Awaitable[None] | None]
CANCEL = "$/cancelRequest"
CLEANUP_TIMEOUT_S = 10.0


class Endpoint:
    def __init__(self, stream: MessageStream, *, id_prefix: str = "") -> None:
        self.stream = stream
        self.requests: dict[str, RequestHandler] = {}
        self.notifications: dict[str, NotificationHandler] = {}
        self.refuse_requests: Callable[[str], RpcError | None] = lambda _method: None
        self._inflight: dict[Any, asyncio.Task[None]] = {}
        self._waiting: dict[Any, asyncio.Future[Any]] = {}
        self._ids = itertools.count(1)
        self._id_prefix = id_prefix
        self._stopped = asyncio.Event()
        self._background: set[asyncio.Task[Any]] = set()
        self.closed = False

    # -- sending -----------------------------------------------------------------------------
    def _send(self, message: dict[str, Any]) -> None:
        if self.closed:
            return
        try:
            body = orjson.dumps(message)
        except TypeError:  # text orjson will not encode, such as a lone surrogate
            body = json.dumps(message).encode()
        try:
            self.stream.write(body)
        except (ConnectionError, RuntimeError) as exc:
            logger.warning("could not send to the peer: %s", exc)
            self.closed = True

    def notify(self, method: str, params: Any = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self._send(message)

    async def request(self, method: str, params: Any = None, *, msg_id: Any = None) -> Any:
        """Ask the peer; if the asker is cancelled, the peer is told with `$/cancelRequest`."""
        if msg_id is None:
            msg_id = f"{self._id_prefix}{next(self._ids)}"
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[msg_id] = future
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if params is not None:
            message["params"] = params
        self._send(message)
        try:
            return await future
        except asyncio.CancelledError:
            if self._waiting.pop(msg_id, None) is not None:
                self.notify(CANCEL, {"id": msg_id})
            raise
        finally:
            self._waiting.pop(msg_id, None)

    def cancel(self, msg_id: Any) -> None:
        self.notify(CANCEL, {"id": msg_id})

    # -- receiving ---------------------------------------------------------------------------
    async def serve(self) -> None:
        """Read until the stream ends or `stop()`; then end in-flight handlers cleanly."""
        reading = asyncio.ensure_future(self._read_loop())
        stopping = asyncio.ensure_future(self._stopped.wait())
        try:
            await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (reading, stopping):
                task.cancel()
            await self._end_inflight()
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(ConnectionError("the peer closed the connection"))
            await self.stream.drain()

    def stop(self) -> None:
        self._stopped.set()

    async def _read_loop(self) -> None:
        while True:
            try:
                body = await self.stream.read()
            except FramingError as exc:
                logger.error("unreadable message from the peer: %s", exc)
                return
            if body is None:
                return
            self._dispatch(body)

    def _dispatch(self, body: bytes) -> None:
        try:
            message = orjson.loads(body)
        except orjson.JSONDecodeError:
            # valid JSON that orjson refuses: an escaped lone surrogate, as a string cut
            # inside an emoji by a client's JSON.stringify produces
            try:
                message = json.loads(body)
            except (ValueError, UnicodeDecodeError):
                error = _error(PARSE_ERROR, "not JSON")
                self._send({"jsonrpc": "2.0", "id": None, "error": error})
                return
        if not isinstance(message, dict):
            error = _error(INVALID_REQUEST, "expected a JSON object (batches are not used in LSP)")
            self._send({"jsonrpc": "2.0", "id": None, "error": error})
            return
        method = message.get("method")
        if isinstance(method, str):
            if "id" in message:
                self._start_request(message["id"], method, message.get("params"))
            else:
                self._handle_notification(method, message.get("params"))
        elif "id" in message:
            self._handle_response(message)
        else:
            self._send(
                {"jsonrpc": "2.0", "id": None, "error": _error(INVALID_REQUEST, "no method")}
            )

    def _start_request(self, msg_id: Any, method: str, params: Any) -> None:
        if not isinstance(msg_id, str | int) or isinstance(msg_id, bool):
            self._send({"jsonrpc": "2.0", "id": None, "error": _error(INVALID_REQUEST, "bad id")})
            return
        refusal = self.refuse_requests(method)
        handler = self.requests.get(method)
        if refusal is None and handler is None:
            refusal = RpcError(METHOD_NOT_FOUND, f"unknown method '{method}'")
        if refusal is not None or handler is None or msg_id in self._inflight:
            error = refusal or RpcError(INVALID_REQUEST, f"request id {msg_id!r} is in use")
            self._send({"jsonrpc": "2.0", "id": msg_id, "error": error.to_wire()})
            return
        task = asyncio.ensure_future(self._run_request(msg_id, handler, params))
        self._inflight[msg_id] = task

    async def _run_request(self, msg_id: Any, handler: RequestHandler, params: Any) -> None:
        response: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id}
        try:
            response["result"] = await handler(params)
        except asyncio.CancelledError:
            response["error"] = _error(REQUEST_CANCELLED, "request cancelled")
        except RpcError as exc:
            response["error"] = exc.to_wire()
        except Exception as exc:
            logger.exception("request %r failed", msg_id)
            response["error"] = _error(
                INTERNAL_ERROR, f"internal error: {exc.__class__.__name__}: {exc}"
            )
        finally:
            self._inflight.pop(msg_id, None)
        self._send(response)

    def _handle_notification(self, method: str, params: Any) -> None:
        if method == CANCEL:
            target = params.get("id") if isinstance(params, dict) else None
            task = self._inflight.get(target)
            if task is not None:
                # scheduled, not immediate: a task that has not taken its first step would
                # die before its handler could answer; this way the handler always answers
                asyncio.get_running_loop().call_soon(task.cancel)
            return
        handler = self.notifications.get(method)
        if handler is None:
            if not method.startswith("$/"):
                logger.debug("ignoring notification %s", method)
            return
        try:
            result = handler(params)
        except Exception:
            logger.exception("notification %s failed", method)
            return
        if result is not None:
            self.spawn(result)

    def _handle_response(self, message: dict[str, Any]) -> None:
        future = self._waiting.pop(message.get("id"), None)
        if future is None or future.done():
            return  # answered after we stopped waiting: nothing to do
        if "error" in message:
            future.set_exception(RpcError.from_wire(message["error"]))
        else:
            future.set_result(message.get("result"))

    # -- tasks -------------------------------------------------------------------------------
    def spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("background task failed", exc_info=task.exception())

    async def _end_inflight(self) -> None:
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        if tasks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.gather(*tasks, return_exceptions=True), CLEANUP_TIMEOUT_S
                )

    @property
    def inflight(self) -> int:
        return len(self._inflight)


def _error(code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message}

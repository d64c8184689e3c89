"""Request ids on every response, the OpenAI error envelope for every failure, and the access log.

A pure ASGI middleware (no per-request Starlette objects) keeps the hot path cheap. The access log is
one JSON line per HTTP request (logger ``accord.access``), written once the response has been sent
in full, so a stream's duration covers the whole stream. Its fields are request metadata only —
never a prompt, completion, key or token. Code inside the app adds the principal, model and error
code with `note`.
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from accord.api.errors import APIError

log = logging.getLogger("accord.api")
access_log = logging.getLogger("accord.access")

_INFO = logging.INFO
_EVENT_STREAM = b"text/event-stream"


class AccessLogSwitch:
    """Whether the access log is on (the deployment's `gateway.access_log`); set once at start."""

    __slots__ = ("enabled",)

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled


def note(scope: Scope, key: str, value: str) -> None:
    """Add `key` (principal, model, code) to this request's access-log line; a no-op when it is off.

    Only identifiers go here: a principal's id, a configured model name, an error code.
    """
    state = scope.get("state")
    if state:
        fields = state.get("access")
        if fields is not None:
            fields[key] = value


def write_access_line(fields: dict[str, Any], started: float) -> None:
    """Finish and emit one access-log line (`fields` already holds everything but the duration)."""
    fields["duration_ms"] = round((time.perf_counter() - started) * 1000.0, 2)
    # makeRecord + handle: the same record `info` makes, without walking the stack for the caller.
    record = access_log.makeRecord(
        access_log.name, _INFO, __file__, 0, "request", (), None, None, {"fields": fields}
    )
    access_log.handle(record)


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp, access: AccessLogSwitch | None = None) -> None:
        self.app = app
        self.access = access if access is not None else AccessLogSwitch()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = "req_" + secrets.token_hex(12)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        header = (b"x-request-id", request_id.encode())
        started = False
        fields: dict[str, Any] | None = None
        began = 0.0
        if self.access.enabled and access_log.isEnabledFor(_INFO):
            client = scope.get("client")
            # One dict per request, filled in place: the app adds principal, model and code to it.
            fields = {
                "request_id": request_id,
                "method": scope["method"],
                "path": scope["path"],
                "status": None,
                "duration_ms": None,
                "client": client[0] if client else None,
            }
            state["access"] = fields
            began = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = message.get("headers", [])
                message["headers"] = [*headers, header]
                if fields is not None:
                    fields["status"] = message["status"]
                    for name, value in headers:
                        if name == b"content-type":
                            if value.startswith(_EVENT_STREAM):
                                fields["stream"] = True
                            break
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error in request %s", request_id)
            if fields is not None:
                fields["code"] = "internal_error"
            if started:
                raise
            error = APIError(
                500,
                f"Accord failed to handle the request (request id {request_id}).",
                code="internal_error",
                type="server_error",
            )
            await send_with_id(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": orjson.dumps(error.body())})
        finally:
            if fields is not None:
                write_access_line(fields, began)

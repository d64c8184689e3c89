"""Request ids on every response, and the OpenAI error envelope for every failure.

A pure ASGI middleware (no per-request Starlette objects) keeps the hot path cheap.
"""

from __future__ import annotations

import logging
import secrets

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from accord.api.errors import APIError

log = logging.getLogger("accord.api")


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = "req_" + secrets.token_hex(12)
        scope.setdefault("state", {})["request_id"] = request_id
        header = (b"x-request-id", request_id.encode())
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error in request %s", request_id)
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

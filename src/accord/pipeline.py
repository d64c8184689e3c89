"""The one path every model request takes: identify → inspect → decide → forward → inspect out → record.

Routes only parse and call `Pipeline.handle`; no route or stream mode can reach a backend any other
way, so a check added here applies everywhere. Any failure inside inspect, decide or record refuses
the request (fail closed).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Message, Receive, Scope, Send

from accord.api import responses_api
from accord.api.body import read_limited
from accord.api.errors import APIError
from accord.api.middleware import note
from accord.api.validation import validate
from accord.backends.base import JSON, Backend, BackendBusy, BackendError, UpstreamRejected
from accord.deployment import ModelConfig
from accord.inspect.normalise import chunk_text, request_view, response_view
from accord.inspect.text import TextView
from accord.principal import Principal
from accord.ratelimit import RateLimiter, retry_after_header

log = logging.getLogger("accord.pipeline")


@dataclass(slots=True)
class Exchange:
    """One request's journey through the pipeline."""

    request_id: str
    route: str
    principal: Principal
    model: ModelConfig
    backend: Backend
    body: JSON
    upstream_body: JSON
    view: TextView
    stream: bool
    started: float = field(default_factory=time.monotonic)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the checks decided about a request, and what the ledger will say about it."""

    outcome: str  # allow | deny | review | redact
    codes: tuple[str, ...] = ()
    policy_ids: tuple[str, ...] = ()
    bundle_version: str = ""
    findings: JSON = field(default_factory=dict)
    error: APIError | None = None
    upstream_body: JSON | None = None  # replaces the body sent upstream (redaction)


class OutputGuard(Protocol):
    """Watches model output; streaming holds back a window so a split marking is caught in time."""

    async def check(self, view: TextView) -> APIError | None: ...

    def push(self, text: str) -> int:
        """Feed output text; return how many more characters may now be released."""
        ...

    def finish(self) -> int: ...

    async def refuse(self) -> APIError:
        """After push/finish raised, open the incident and return the error to send."""
        ...


class Protections(Protocol):
    async def admit(self, exchange: Exchange) -> Verdict: ...

    async def admit_approved(self, exchange: Exchange, review_id: str) -> Verdict: ...

    def output_guard(self, exchange: Exchange) -> OutputGuard: ...

    async def record(
        self, exchange: Exchange, verdict: Verdict, outcome: str, usage: JSON | None = None
    ) -> None: ...


class ModelDirectory(Protocol):
    def config(self, name: str) -> ModelConfig | None: ...

    def backend(self, name: str) -> Backend: ...

    def allowed(self, principal: Principal, model: ModelConfig) -> bool: ...


class GuardTripped(Exception):
    """Raised by an OutputGuard's push/finish when the held-back output must not be released."""


Authenticator = Callable[[Request], Awaitable[Principal]]

_DONE = b"data: [DONE]\n\n"


def sse(payload: JSON, event: str | None = None) -> bytes:
    prefix = f"event: {event}\n".encode() if event else b""
    return prefix + b"data: " + orjson.dumps(payload) + b"\n\n"


class Pipeline:
    def __init__(
        self,
        *,
        authenticate: Authenticator,
        models: ModelDirectory,
        protections: Protections,
        rate_limiter: RateLimiter,
        max_body_bytes: int,
    ) -> None:
        self._authenticate = authenticate
        self._models = models
        self._protections = protections
        self._rate_limiter = rate_limiter
        self._max_body_bytes = max_body_bytes

    async def handle(self, request: Request, route: str) -> Response:
        request_id: str = request.state.request_id
        principal = await self._authenticate(request)
        wait = self._rate_limiter.acquire(principal.id)
        if wait:
            raise APIError(
                429,
                "Rate limit reached for your credential; retry after the time in the retry-after header.",
                code="rate_limit_exceeded",
                headers={"retry-after": retry_after_header(wait)},
            )
        body = validate(route, await self._read_json(request))
        if self._models.config(body["model"]) is not None:  # access log: configured names only
            note(request.scope, "model", body["model"])
        exchange = self._exchange(request_id, principal, route, body)
        verdict = await self._protections.admit(exchange)
        if verdict.error is not None:
            await self._record_refusal(exchange, verdict, "refused")
            raise verdict.error
        if verdict.upstream_body is not None:
            exchange.upstream_body = verdict.upstream_body
        if exchange.stream:
            return await self._stream(exchange, verdict)
        return await self._complete(exchange, verdict)

    def _exchange(self, request_id: str, principal: Principal, route: str, body: JSON) -> Exchange:
        model = self._resolve_model(principal, body["model"], route)
        try:
            backend = self._models.backend(model.name)
        except (BackendError, OSError) as error:
            # The operator's configuration, not the caller's request: 502, details in the log only.
            log.error("model %s cannot be reached as configured: %s", model.name, error)
            raise APIError(
                502,
                f"Model {model.name} is misconfigured on this gateway; tell the operator.",
                code="backend_misconfigured",
                type="server_error",
            ) from error
        upstream_body = responses_api.to_chat(body) if route == "responses" else body
        backend_route = "chat" if route == "responses" else route
        _check_fields(backend, backend_route, upstream_body)
        return Exchange(
            request_id=request_id,
            route=route,
            principal=principal,
            model=model,
            backend=backend,
            body=body,
            upstream_body=upstream_body,
            view=request_view(route, body),
            stream=bool(body.get("stream")),
        )

    async def run_approved(
        self, request_id: str, principal: Principal, route: str, body: JSON, review_id: str
    ) -> JSON:
        """Carry out a request a human approved: forwarded, output-inspected and recorded as any other."""
        body = {key: value for key, value in body.items() if key not in ("stream", "stream_options")}
        exchange = self._exchange(request_id, principal, route, body)
        verdict = await self._protections.admit_approved(exchange, review_id)
        if verdict.error is not None:
            await self._record_refusal(exchange, verdict, "refused")
            raise verdict.error
        if verdict.upstream_body is not None:
            exchange.upstream_body = verdict.upstream_body
        return await self._complete_json(exchange, verdict)

    async def _read_json(self, request: Request) -> Any:
        raw = await read_limited(request, self._max_body_bytes)
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            raise APIError(
                400, f"The request body is not valid JSON: {error.msg}", code="invalid_json"
            ) from error

    def _resolve_model(self, principal: Principal, name: str, route: str) -> ModelConfig:
        model = self._models.config(name)
        if model is None:
            raise APIError(
                404,
                f"The model `{name}` does not exist or you do not have access to it.",
                param="model",
                code="model_not_found",
            )
        if not self._models.allowed(principal, model):
            raise APIError(
                403,
                f"Your organisation is not permitted to use the model `{name}`.",
                param="model",
                code="model_not_permitted",
            )
        if route not in model.serves:
            raise APIError(
                400, f"The model `{name}` does not serve {route}.", param="model", code="unsupported_route"
            )
        return model

    async def _record_refusal(self, exchange: Exchange, verdict: Verdict, outcome: str) -> None:
        try:
            await self._protections.record(exchange, verdict, outcome)
        except Exception:  # the refusal stands either way; the failure itself is logged
            log.exception("ledger record failed for refused request %s", exchange.request_id)

    async def _record(self, exchange: Exchange, verdict: Verdict, outcome: str, usage: JSON | None) -> None:
        try:
            await self._protections.record(exchange, verdict, outcome, usage)
        except Exception as error:
            log.exception("ledger record failed for request %s", exchange.request_id)
            raise APIError(
                503,
                "The decision ledger is unavailable, so Accord cannot release this answer. Retry later.",
                code="ledger_unavailable",
                type="server_error",
            ) from error

    # -- non-streaming -------------------------------------------------------------------------

    async def _complete(self, exchange: Exchange, verdict: Verdict) -> Response:
        result = await self._complete_json(exchange, verdict)
        return Response(orjson.dumps(result), media_type="application/json")

    async def _complete_json(self, exchange: Exchange, verdict: Verdict) -> JSON:
        backend, body = exchange.backend, exchange.upstream_body
        try:
            if exchange.route == "embeddings":
                result = await backend.embeddings(body)
            elif exchange.route == "completions":
                result = await backend.completions(body)
            else:
                result = await backend.chat(body)
        except BackendError as error:
            await self._record_refusal(exchange, verdict, "error")
            raise _from_backend(error) from error
        if exchange.route != "embeddings":
            output_route = "completions" if exchange.route == "completions" else "chat"
            guard = self._protections.output_guard(exchange)
            problem = await guard.check(response_view(output_route, result))
            if problem is not None:
                await self._record_refusal(exchange, verdict, "refused_output")
                raise problem
        if exchange.route == "responses":
            response_id, message_id = responses_api.new_ids()
            try:
                result = responses_api.from_chat(response_id, message_id, exchange.model.name, result)
            except BackendError as error:
                await self._record_refusal(exchange, verdict, "error")
                raise _from_backend(error) from error
        await self._record(exchange, verdict, "answered", result.get("usage"))
        return result

    # -- streaming -----------------------------------------------------------------------------

    async def _stream(self, exchange: Exchange, verdict: Verdict) -> Response:
        backend, body = exchange.backend, exchange.upstream_body
        source = (
            backend.completions_stream(body) if exchange.route == "completions" else backend.chat_stream(body)
        )
        upstream = aiter(source)
        # Pull the first chunk before answering 200, so upstream failures get their real status.
        try:
            first: JSON | None = await anext(upstream)
        except StopAsyncIteration:
            first = None
        except BackendError as error:
            await self._record_refusal(exchange, verdict, "error")
            raise _from_backend(error) from error
        render = _ResponsesStream(exchange) if exchange.route == "responses" else _ChunkStream(exchange)
        return EventStream(
            self._relay(exchange, verdict, first, upstream, render),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )

    async def _relay(
        self,
        exchange: Exchange,
        verdict: Verdict,
        first: JSON | None,
        upstream: AsyncIterator[JSON],
        render: _Renderer,
    ) -> AsyncIterator[bytes]:
        guard = self._protections.output_guard(exchange)
        text_route = "completions" if exchange.route == "completions" else "chat"
        pending: deque[tuple[JSON, int]] = deque()
        total = released = 0
        usage: JSON | None = None
        outcome = "client_disconnected"
        # Frames released at the same moment leave in one write: the same bytes in fewer syscalls.
        try:
            opening = render.opening()
            if opening:
                yield b"".join(opening)
            chunk = first
            while chunk is not None:
                if chunk.get("usage"):
                    usage = chunk["usage"]
                text = chunk_text(text_route, chunk)
                total += len(text)
                pending.append((chunk, total))
                try:
                    released += guard.push(text) if text else 0
                except GuardTripped:
                    outcome = "cut_mid_stream"
                    error = await guard.refuse()
                    await self._record_refusal(exchange, verdict, outcome)
                    yield render.error(error)
                    return
                ready: list[bytes] = []
                while pending and pending[0][1] <= released:
                    ready.extend(render.chunk(pending.popleft()[0]))
                if ready:
                    yield b"".join(ready)
                try:
                    chunk = await anext(upstream)
                except StopAsyncIteration:
                    chunk = None
            try:
                released += guard.finish()
            except GuardTripped:
                outcome = "cut_mid_stream"
                error = await guard.refuse()
                await self._record_refusal(exchange, verdict, outcome)
                yield render.error(error)
                return
            # The held-back tail leaves only once the ledger has the answer, together with the
            # closing frames and the end of the body: one write, and nothing more of the answer
            # is released if the ledger fails.
            rest = [frame for held, _ in pending for frame in render.chunk(held)]
            pending.clear()
            outcome = "answered"
            try:
                await self._record(exchange, verdict, outcome, usage)
            except APIError as error:
                outcome = "error"
                yield render.error(error)
                return
            yield LastFrames(b"".join(rest + render.closing(usage)))
        except BackendError as error:
            outcome = "cut_mid_stream"
            await self._record_refusal(exchange, verdict, outcome)
            yield render.error(_from_backend(error))
        finally:
            if outcome == "client_disconnected":
                await self._record_refusal(exchange, verdict, outcome)
            await upstream.aclose()  # type: ignore[attr-defined]


class _Renderer(Protocol):
    def opening(self) -> list[bytes]: ...

    def chunk(self, chunk: JSON) -> list[bytes]: ...

    def error(self, error: APIError) -> bytes: ...

    def closing(self, usage: JSON | None) -> list[bytes]: ...


class _ChunkStream:
    """Chat and completion chunks pass through as the backend made them."""

    def __init__(self, exchange: Exchange) -> None:
        options = exchange.body.get("stream_options") or {}
        self._include_usage = bool(options.get("include_usage"))

    def opening(self) -> list[bytes]:
        return []

    def chunk(self, chunk: JSON) -> list[bytes]:
        if not chunk.get("choices") and chunk.get("usage") and not self._include_usage:
            return []
        return [sse(chunk)]

    def error(self, error: APIError) -> bytes:
        return sse(error.body())

    def closing(self, usage: JSON | None) -> list[bytes]:
        return [_DONE]


class _ResponsesStream:
    """Chat chunks re-rendered as the Responses API's typed events."""

    def __init__(self, exchange: Exchange) -> None:
        response_id, message_id = responses_api.new_ids()
        self._model = exchange.model.name
        self._events = responses_api.ResponseEvents(response_id, message_id, self._model)

    def _frame(self, event: JSON) -> bytes:
        return sse(event, event=str(event["type"]))

    def opening(self) -> list[bytes]:
        return [self._frame(event) for event in self._events.opening()]

    def chunk(self, chunk: JSON) -> list[bytes]:
        text = responses_api.chunk_output_text(self._model, chunk)
        return [self._frame(self._events.delta(text))] if text else []

    def error(self, error: APIError) -> bytes:
        return self._frame(self._events.error(error.body()["error"]))

    def closing(self, usage: JSON | None) -> list[bytes]:
        return [self._frame(event) for event in self._events.closing(usage)]


class LastFrames(bytes):
    """The relay's final frames: `EventStream` sends them as the end of the body, in the same write."""


class EventStream(StreamingResponse):
    """A StreamingResponse that watches for the client leaving with one plain asyncio task.

    Starlette (under an ASGI 2.3 server such as uvicorn) runs every stream in an anyio task group
    with a second task listening for the disconnect; that machinery cost more CPU per stream than
    relaying the chunks. Same behaviour: when the client goes, the relay is cancelled where it waits
    (so the upstream is let go) and the body iterator is closed, so its clean-up runs (the ledger
    records ``client_disconnected``).
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        relay = asyncio.current_task()
        assert relay is not None
        watch = _Watch(relay)
        watcher = asyncio.create_task(watch.run(receive))

        async def send_until_last(message: Message) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                watch.finishing = True  # from here on the answer is whole: never cancel it
            await send(message)

        try:
            await self.stream_response(send_until_last)
        except asyncio.CancelledError:
            if not watch.cancelled_relay:
                raise
            relay.uncancel()  # our own cancellation: the client left, which is not an error
        finally:
            watcher.cancel()
            close = getattr(self.body_iterator, "aclose", None)
            if close is not None:
                await close()
        if self.background is not None:
            await self.background()

    async def stream_response(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        async for chunk in self.body_iterator:
            if isinstance(chunk, LastFrames):
                await send({"type": "http.response.body", "body": bytes(chunk), "more_body": False})
                return  # __call__ closes the relay, which has nothing left to do
            body = chunk if isinstance(chunk, bytes | memoryview) else chunk.encode(self.charset)
            await send({"type": "http.response.body", "body": body, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


class _Watch:
    def __init__(self, relay: asyncio.Task[Any]) -> None:
        self.relay = relay
        self.finishing = False
        self.cancelled_relay = False

    async def run(self, receive: Receive) -> None:
        # uvicorn also answers http.disconnect once the response is complete: `finishing` tells apart.
        while (await receive())["type"] != "http.disconnect":
            pass
        if not self.finishing:
            self.cancelled_relay = True
            self.relay.cancel()


def _check_fields(backend: Backend, route: str, body: JSON) -> None:
    supported = backend.supported_fields(route)
    for name in body:
        if name not in supported:
            raise APIError(
                400,
                f"The model's backend cannot honour `{name}`; Accord refuses rather than dropping it.",
                param=name,
                code="unsupported_parameter",
            )


def _from_backend(error: BackendError) -> APIError:
    if isinstance(error, BackendBusy):
        return APIError(
            429,
            error.message,
            code=error.code,
            type="rate_limit_error",
            headers={"retry-after": str(error.retry_after)},
        )
    if isinstance(error, UpstreamRejected) and error.status != 404:
        upstream = error.body.get("error") if isinstance(error.body.get("error"), dict) else {}
        return APIError(
            error.status,
            error.message,
            code=error.code,
            param=upstream.get("param") if isinstance(upstream, dict) else None,
        )
    return APIError(
        error.status, error.message, code=error.code, type="server_error" if error.status >= 500 else None
    )

"""A fast fake OpenAI-compatible upstream on loopback.

Raw ``asyncio.Protocol`` + ``httptools`` so that it is never the bottleneck of a benchmark.
Behaviour is chosen per request by the ``model`` name (``fake-tools``, ``fake-500``, ``fake-400``,
``fake-slow``, ``fake-echo``, ``fake-marked``) or the ``X-Fake-Mode`` header. Faulty upstreams, for
the gateway's error handling: ``fake-truncated`` (a stream without ``[DONE]``, half a JSON body),
``fake-badchunk`` (an undecodable stream event), ``fake-not-streaming`` (JSON when a stream was asked
for), ``fake-html`` (a 200 HTML page).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import socket
import struct
import threading
import time
from typing import Any, cast

import httptools
import orjson

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is optional
    uvloop = None  # type: ignore[assignment]

SLOW_SECONDS = 30.0
EMBEDDING_DIMENSIONS = 8
MARKED_CHUNKS = ["Summary follows.\n", "NATO SEC", "RET\n", "End of summary."]
PLAIN_CHUNKS = ["This ", "is ", "a ", "fake ", "answer."]
TOOL_ARGUMENT_CHUNKS = ['{"loca', 'tion": "Br', 'ussels"}']

_REASONS = {200: b"OK", 400: b"Bad Request", 401: b"Unauthorized", 404: b"Not Found", 500: b"Server Error"}


def _error(status: int, message: str, kind: str) -> tuple[int, bytes]:
    body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return status, orjson.dumps(body)


def _last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _answer_chunks(mode: str, body: dict[str, Any]) -> list[str]:
    if mode == "fake-echo":
        return [_last_user_text(body)]
    if mode == "fake-marked":
        return MARKED_CHUNKS
    return PLAIN_CHUNKS


def _usage() -> dict[str, int]:
    return {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}


def _chat_json(model: str, mode: str, body: dict[str, Any]) -> bytes:
    message: dict[str, Any] = {"role": "assistant", "content": "".join(_answer_chunks(mode, body))}
    finish = "stop"
    if mode == "fake-tools":
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_fake_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": "".join(TOOL_ARGUMENT_CHUNKS)},
                }
            ],
        }
        finish = "tool_calls"
    return orjson.dumps(
        {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
            "usage": _usage(),
        }
    )


def _chat_stream_events(model: str, mode: str, body: dict[str, Any]) -> list[bytes]:
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }

    events: list[dict[str, Any]] = [chunk({"role": "assistant", "content": ""})]
    if mode == "fake-tools":
        events.append(
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_fake_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": ""},
                        }
                    ]
                }
            )
        )
        for part in TOOL_ARGUMENT_CHUNKS:
            events.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": part}}]}))
        events.append(chunk({}, "tool_calls"))
    else:
        for part in _answer_chunks(mode, body):
            events.append(chunk({"content": part}))
        events.append(chunk({}, "stop"))
    options = body.get("stream_options") or {}
    if options.get("include_usage"):
        usage = chunk({})
        usage["choices"] = []
        usage["usage"] = _usage()
        events.append(usage)
    out = [b"data: " + orjson.dumps(e) + b"\n\n" for e in events]
    out.append(b"data: [DONE]\n\n")
    return out


def _completion_json(model: str, body: dict[str, Any]) -> bytes:
    return orjson.dumps(
        {
            "id": "cmpl-fake",
            "object": "text_completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {"index": 0, "text": "".join(PLAIN_CHUNKS), "finish_reason": "stop", "logprobs": None}
            ],
            "usage": _usage(),
        }
    )


def _completion_stream_events(model: str, mode: str, body: dict[str, Any]) -> list[bytes]:
    created = int(time.time())

    def chunk(text: str, finish: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "text": text, "finish_reason": finish, "logprobs": None}
        return {"id": "cmpl-fake", "object": "text_completion", "created": created, "model": model,
                "choices": [choice]}  # fmt: skip

    events = [chunk(part) for part in PLAIN_CHUNKS] + [chunk("", "stop")]
    if (body.get("stream_options") or {}).get("include_usage"):
        events.append({**chunk(""), "choices": [], "usage": _usage()})
    return [b"data: " + orjson.dumps(e) + b"\n\n" for e in events] + [b"data: [DONE]\n\n"]


def _broken(mode: str, events: list[bytes]) -> list[bytes]:
    """A stream as a faulty upstream sends it: cut short (no [DONE]) or with an undecodable event."""
    if mode == "fake-truncated":
        return events[:2]
    if mode == "fake-badchunk":
        return [*events[:2], b"data: {not json\n\n", *events[2:]]
    return events


def _embeddings_json(model: str, body: dict[str, Any]) -> bytes:
    raw = body.get("input")
    inputs = raw if isinstance(raw, list) else [raw]
    as_base64 = body.get("encoding_format") == "base64"
    data = []
    for index, _ in enumerate(inputs):
        vector = [float(index + 1) / (d + 1) for d in range(EMBEDDING_DIMENSIONS)]
        embedding: Any = vector
        if as_base64:
            embedding = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    return orjson.dumps(
        {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": 5, "total_tokens": 5}}
    )


class _State:
    """What the server shares across connections: its token, slow delay and request log."""

    def __init__(self, api_key: str | None, slow_seconds: float, keep_log: bool = True) -> None:
        self.api_key = api_key
        self.keep_log = keep_log
        self.slow_seconds = slow_seconds
        self.log: list[dict[str, Any]] = []
        self.transports: set[asyncio.Transport] = set()
        self.pending: set[asyncio.Task[None]] = set()


class _Connection(asyncio.Protocol):
    def __init__(self, state: _State) -> None:
        self.state = state
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.headers: dict[bytes, bytes] = {}
        self.body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it
        self.state.transports.add(self.transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.state.transports.discard(self.transport)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.close()

    def on_message_begin(self) -> None:
        self.url = b""
        self.headers = {}
        self.body = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.lower()] = value

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        method = self.parser.get_method()
        path = httptools.parse_url(self.url).path.decode()
        keep_alive = self.parser.should_keep_alive()
        raw = b"".join(self.body)
        if self._is_slow(raw):
            task = asyncio.get_running_loop().create_task(self._handle(method, path, raw, keep_alive))
            self.state.pending.add(task)
            task.add_done_callback(self.state.pending.discard)
        else:
            self._dispatch(method, path, raw, keep_alive)

    def _is_slow(self, raw: bytes) -> bool:
        return b"fake-slow" in raw or self.headers.get(b"x-fake-mode") == b"fake-slow"

    async def _handle(self, method: bytes, path: str, raw: bytes, keep_alive: bool) -> None:
        await asyncio.sleep(self.state.slow_seconds)
        if self.transport is not None and not self.transport.is_closing():
            self._dispatch(method, path, raw, keep_alive)

    def _dispatch(self, method: bytes, path: str, raw: bytes, keep_alive: bool) -> None:
        status, body, events = self._respond(method, path, raw)
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        reason = _REASONS.get(status, b"Unknown")
        connection = b"keep-alive" if keep_alive else b"close"
        if events is None:
            kind = b"text/html" if body.startswith(b"<") else b"application/json"
            head = b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n" % (
                status,
                reason,
                kind,
                len(body),
            )
            transport.write(head + b"Connection: %s\r\n\r\n" % connection + body)
        else:
            parts = [
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                b"Transfer-Encoding: chunked\r\nConnection: %s\r\n\r\n" % connection
            ]
            for event in events:
                parts.append(b"%x\r\n%s\r\n" % (len(event), event))
            parts.append(b"0\r\n\r\n")
            transport.write(b"".join(parts))
        if not keep_alive:
            transport.close()

    def _respond(self, method: bytes, path: str, raw: bytes) -> tuple[int, bytes, list[bytes] | None]:
        if path == "/_fake/requests":
            if method == b"DELETE":
                self.state.log.clear()
                return 200, b"{}", None
            return 200, orjson.dumps(self.state.log), None
        try:
            body: dict[str, Any] = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            return *_error(400, "Invalid JSON body.", "invalid_request_error"), None
        if not isinstance(body, dict):
            return *_error(400, "Body must be a JSON object.", "invalid_request_error"), None
        model = str(body.get("model", ""))
        if self.state.keep_log:
            self.state.log.append(
                {"method": method.decode(), "path": path, "model": model, "time": time.time(), "body": body}
            )
        if self.state.api_key is not None and (
            self.headers.get(b"authorization", b"") != b"Bearer " + self.state.api_key.encode()
        ):
            return *_error(401, "Incorrect API key provided.", "invalid_request_error"), None
        mode = self.headers.get(b"x-fake-mode", b"").decode() or model
        if mode == "fake-500":
            return *_error(500, "The server had an error.", "server_error"), None
        if mode == "fake-400":
            return *_error(400, "Invalid request from fake-400.", "invalid_request_error"), None
        if method == b"GET" and path == "/v1/models":
            names = [
                "fake-model",
                "fake-tools",
                "fake-echo",
                "fake-marked",
                "fake-slow",
                "fake-500",
                "fake-400",
            ]
            data = [{"id": n, "object": "model", "created": 0, "owned_by": "fake"} for n in names]
            return 200, orjson.dumps({"object": "list", "data": data}), None
        if method != b"POST":
            return *_error(404, f"Unknown route {path}.", "invalid_request_error"), None
        if mode == "fake-html":
            return 200, b"<html><body>Gateway Timeout</body></html>", None
        if path in ("/v1/chat/completions", "/v1/completions"):
            chat = path == "/v1/chat/completions"
            if body.get("stream") and mode != "fake-not-streaming":
                events = (_chat_stream_events if chat else _completion_stream_events)(model, mode, body)
                return 200, b"", _broken(mode, events)
            answer = _chat_json(model, mode, body) if chat else _completion_json(model, body)
            return 200, answer[: len(answer) // 2] if mode == "fake-truncated" else answer, None
        if path == "/v1/embeddings":
            return 200, _embeddings_json(model, body), None
        return *_error(404, f"Unknown route {path}.", "invalid_request_error"), None


async def serve(
    host: str = "127.0.0.1",
    port: int = 0,
    api_key: str | None = None,
    slow_seconds: float = SLOW_SECONDS,
    keep_log: bool = True,
) -> asyncio.Server:
    """Start listening and return the server (port 0 picks a free port)."""
    return await _listen(_State(api_key, slow_seconds, keep_log), host, port)


async def _listen(state: _State, host: str, port: int) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: _Connection(state), host, port, reuse_address=True)


class FakeUpstream:
    """The fake upstream running on its own event loop in a background thread."""

    def __init__(self, api_key: str | None = None, slow_seconds: float = SLOW_SECONDS) -> None:
        self.api_key = api_key
        self.slow_seconds = slow_seconds
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._shared = _State(api_key, slow_seconds)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> FakeUpstream:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(_listen(self._shared, "127.0.0.1", 0), self._loop)
        self._server = future.result(timeout=10)
        sock: socket.socket = self._server.sockets[0]
        self.port = sock.getsockname()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        server = self._server
        if server is not None:

            async def stop() -> None:
                server.close()
                for transport in list(self._shared.transports):
                    transport.close()
                for task in list(self._shared.pending):
                    task.cancel()
                await asyncio.sleep(0)

            asyncio.run_coroutine_threadsafe(stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def _state(self) -> _State:
        return self._shared

    def requests(self) -> list[dict[str, Any]]:
        """Every request received so far, oldest first."""

        async def read() -> list[dict[str, Any]]:
            return list(self._state().log)

        return asyncio.run_coroutine_threadsafe(read(), self._loop).result(timeout=10)

    def reset(self) -> None:
        async def clear() -> None:
            self._state().log.clear()

        asyncio.run_coroutine_threadsafe(clear(), self._loop).result(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description="Fake OpenAI-compatible upstream.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9999)
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--slow-seconds", type=float, default=SLOW_SECONDS)
    parser.add_argument("--no-log", action="store_true", help="do not keep the request log (benchmarks)")
    args = parser.parse_args()

    async def run() -> None:
        server = await serve(args.host, args.port, args.api_key, args.slow_seconds, not args.no_log)
        print(f"listening on http://{args.host}:{server.sockets[0].getsockname()[1]}/v1", flush=True)
        await server.serve_forever()

    if uvloop is not None:
        uvloop.run(run())
    else:
        asyncio.run(run())


if __name__ == "__main__":
    main()

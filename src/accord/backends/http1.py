"""A lean pooled HTTP/1.1 client for model upstreams: asyncio protocols and the ``httptools`` parser.

Why not httpx here: on the gateway's hot path httpx/httpcore cost more CPU per request than every
protection together (anyio stream wrappers, a poll() per pooled connection per request to detect
stale sockets, cookie and redirect machinery). An asyncio protocol learns that the upstream closed
an idle connection from the event loop itself, so the pool simply drops it.

Semantics kept from the httpx client it replaces: keep-alive pool bounded by ``max_connections``;
``connect_timeout`` for TCP/TLS set-up; ``timeout`` for waiting on a free connection and as the
longest silence while writing or reading; TLS verified with httpx's default context (so
``SSL_CERT_FILE``/``SSL_CERT_DIR`` still apply). Errors are classified so the caller can decide what
is safe to retry: only :class:`Unreachable` means the request never left the gateway.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import AsyncIterator
from typing import cast
from urllib.parse import urlsplit

import httptools

# Above this much unread response data the connection stops reading until the consumer catches up.
_HIGH_WATER = 1 << 20


class UpstreamFailure(Exception):
    """The exchange with the upstream failed after the request may have reached it."""


class Unreachable(UpstreamFailure):
    """No connection could be had (refused, connect timeout, pool timeout): nothing was sent."""


class ReadTimeout(UpstreamFailure):
    """The upstream stayed silent (or did not take the body) for longer than the timeout."""


class Broken(UpstreamFailure):
    """The connection failed or the upstream sent something that is not HTTP/1.1."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection; carries one exchange at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._write_paused = False
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self.headers_done = False
        self.complete = False
        self.keep_alive = False
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._has_length = False
        self._reading_paused = False

    # -- asyncio.Protocol --------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not an asyncio.Transport subclass

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(Broken(f"malformed response ({type(error).__name__})"))
            return
        self._wake()

    def eof_received(self) -> bool:
        if self.headers_done and not self.complete and not self._has_length and self._error is None:
            self.complete = True  # a body delimited by the end of the connection
        self.closed = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.complete and self._error is None:
            self._error = Broken("connection closed before the response was complete")
        self._wake()

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self._wake()

    # -- httptools callbacks -----------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        previous = self.headers.get(key)
        self.headers[key] = text if previous is None else f"{previous}, {text}"

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if status < 200:  # an interim response (100 Continue): the real one follows
            self.headers = {}
            return
        self.status = status
        self.headers_done = True
        self._has_length = (
            "content-length" in self.headers or "chunked" in self.headers.get("transfer-encoding", "").lower()
        )

    def on_body(self, body: bytes) -> None:
        self._chunks.append(body)
        self._buffered += len(body)
        if self._buffered > _HIGH_WATER and not self._reading_paused and self.transport is not None:
            self._reading_paused = True
            self.transport.pause_reading()

    def on_message_complete(self) -> None:
        if self.headers_done:
            self.complete = True
            self.keep_alive = self._parser.should_keep_alive()

    # -- used by the pool and the response ---------------------------------------------------------

    def _fail(self, error: BaseException) -> None:
        self._error = error
        self.closed = True
        if self.transport is not None:
            self.transport.close()
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait(self, timeout: float) -> None:
        """Until something happens on the connection, or ``timeout`` seconds of silence."""
        if self._error is not None:
            raise self._error
        waiter = self._waiter = self._loop.create_future()
        timer = self._loop.call_later(timeout, _expire, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None
        if self._error is not None:
            raise self._error

    def begin(self, request: bytes) -> None:
        self._reset()
        assert self.transport is not None
        self.transport.write(request)

    async def drain(self, timeout: float) -> None:
        while self._write_paused:
            if self.closed:
                raise self._error or Broken("connection closed while sending")
            await self._wait(timeout)

    async def headers_received(self, timeout: float) -> None:
        while not self.headers_done:
            if self.closed or self._error is not None:
                raise self._error or Broken("connection closed before the response")
            await self._wait(timeout)

    async def next_chunk(self, timeout: float) -> bytes | None:
        """The next piece of the body, or None at its end."""
        while not self._chunks:
            if self.complete:
                return None
            if self.closed:
                raise self._error or Broken("connection closed mid-response")
            await self._wait(timeout)
        chunk = self._chunks.popleft()
        self._buffered -= len(chunk)
        if self._reading_paused and self._buffered <= _HIGH_WATER // 2 and self.transport is not None:
            self._reading_paused = False
            self.transport.resume_reading()
        return chunk

    @property
    def reusable(self) -> bool:
        return self.complete and self.keep_alive and not self.closed and self._error is None

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


def _strip_terminator(line: bytes) -> bytes:
    if line.endswith(b"\r\n"):
        return line[:-2]
    return line[:-1] if line.endswith((b"\n", b"\r")) else line


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(ReadTimeout("upstream timed out"))


class Response:
    """A response whose body is read on demand; ``aclose`` returns its connection to the pool."""

    def __init__(self, pool: Pool, connection: _Connection, timeout: float) -> None:
        self._pool = pool
        self._connection = connection
        self._timeout = timeout
        self._released = False
        self.status_code = connection.status
        self.headers = connection.headers

    async def read(self) -> bytes:
        parts: list[bytes] = []
        try:
            while (chunk := await self._connection.next_chunk(self._timeout)) is not None:
                parts.append(chunk)
        finally:
            self.aclose_now()
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def aiter_lines(self) -> AsyncIterator[bytes]:
        """Body lines without their terminators (LF, CRLF or CR, as server-sent events allow)."""
        pending = b""
        while (chunk := await self._connection.next_chunk(self._timeout)) is not None:
            if not chunk:
                continue
            lines = (pending + chunk).splitlines(keepends=True)
            # An unterminated tail, or one ending in CR (half of a CRLF?), waits for more data.
            pending = b"" if lines[-1].endswith(b"\n") else lines.pop()
            for line in lines:
                yield _strip_terminator(line)
        if pending:
            yield _strip_terminator(pending)

    def aclose_now(self) -> None:
        if not self._released:
            self._released = True
            self._pool.release(self._connection)

    async def aclose(self) -> None:
        self.aclose_now()


class Pool:
    """Keep-alive connections to one origin, at most ``max_connections`` open at once."""

    def __init__(
        self,
        base_url: str,
        headers: dict[str, str],
        *,
        max_connections: int,
        connect_timeout: float,
        timeout: float,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        url = urlsplit(base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"unsupported upstream URL scheme {url.scheme!r}")
        self._host = url.hostname
        self._port = url.port or (443 if url.scheme == "https" else 80)
        self._ssl = (ssl_context or _default_ssl_context()) if url.scheme == "https" else None
        self._prefix = (url.path.rstrip("/") + "/").encode()
        default_port = self._port == (443 if url.scheme == "https" else 80)
        host = f"[{self._host}]" if ":" in self._host else self._host
        authority = host if default_port else f"{host}:{self._port}"
        fixed = {"host": authority, "accept": "*/*", "user-agent": "accord", **headers}
        self._head = "".join(f"{name}: {value}\r\n" for name, value in fixed.items()).encode("latin-1")
        self._max = max_connections
        self._connect_timeout = connect_timeout
        self._timeout = timeout
        self._idle: list[_Connection] = []
        self._open = 0
        self._waiters: deque[asyncio.Future[_Connection | None]] = deque()
        self._closed = False

    async def post(self, path: str, body: bytes) -> Response:
        """Send ``POST {base path}{path}``; the response's headers are in, its body is not read yet."""
        request = b"".join(
            (
                b"POST ",
                self._prefix,
                path.encode("ascii"),
                b" HTTP/1.1\r\n",
                self._head,
                b"content-length: ",
                str(len(body)).encode(),
                b"\r\n\r\n",
                body,
            )
        )
        connection = await self._acquire()
        try:
            connection.begin(request)
            await connection.drain(self._timeout)
            await connection.headers_received(self._timeout)
        except BaseException:
            connection.close()
            self.release(connection)
            raise
        return Response(self, connection, self._timeout)

    async def _acquire(self) -> _Connection:
        if self._closed:
            raise Unreachable("the client is closed")
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed:
                return connection
            self._open -= 1
        if self._open < self._max:
            return await self._connect()
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[_Connection | None] = loop.create_future()
        self._waiters.append(waiter)
        timer = loop.call_later(self._timeout, _pool_expired, waiter)
        try:
            handed = await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self.release(waiter.result() or _vacant())  # handed over as we were cancelled
            with_waiter = waiter in self._waiters
            if with_waiter:
                self._waiters.remove(waiter)
            raise
        finally:
            timer.cancel()
        return handed if handed is not None else await self._connect()

    async def _connect(self) -> _Connection:
        """Open a connection in a slot already counted as open (or count one now)."""
        loop = asyncio.get_running_loop()
        self._open += 1
        try:
            async with asyncio.timeout(self._connect_timeout):
                _, protocol = await loop.create_connection(
                    lambda: _Connection(loop),
                    self._host,
                    self._port,
                    ssl=self._ssl,
                    server_hostname=self._host if self._ssl else None,
                )
        except TimeoutError as error:
            self._free_slot()
            raise Unreachable("connect timed out") from error
        except (OSError, ssl.SSLError) as error:
            self._free_slot()
            raise Unreachable(f"connect failed ({type(error).__name__})") from error
        except BaseException:
            self._free_slot()
            raise
        return protocol

    def release(self, connection: _Connection) -> None:
        """Return a connection after its exchange; one not fit for another is closed."""
        if connection.reusable and not self._closed:
            while self._waiters:
                waiter = self._waiters.popleft()
                if not waiter.done():
                    waiter.set_result(connection)
                    return
            self._idle.append(connection)
            return
        connection.close()
        self._free_slot()

    def _free_slot(self) -> None:
        self._open -= 1
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._open += 1  # the slot passes to the waiter, which connects
                waiter.set_result(None)
                return

    async def aclose(self) -> None:
        self._closed = True
        for connection in self._idle:
            connection.close()
        self._open -= len(self._idle)
        self._idle.clear()


def _pool_expired(waiter: asyncio.Future[_Connection | None]) -> None:
    if not waiter.done():
        waiter.set_exception(Unreachable("no upstream connection free in time"))


def _vacant() -> _Connection:
    """A closed placeholder: releasing it frees the slot a cancelled waiter was handed."""
    connection = _Connection(asyncio.get_running_loop())
    connection.closed = True
    return connection


def _default_ssl_context() -> ssl.SSLContext:
    import httpx

    return httpx.create_ssl_context()

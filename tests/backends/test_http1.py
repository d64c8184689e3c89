"""The upstream HTTP/1.1 pool against scripted servers that send exactly the bytes a test needs."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from accord.backends.http1 import Broken, Pool, ReadTimeout, Unreachable

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, dict[bytes, bytes], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get(b"content-length", b"0")))
    return lines[0], headers, body


@asynccontextmanager
async def serve(handler: Handler) -> AsyncIterator[tuple[str, list[int]]]:
    """A loopback server; yields its base URL and a list that counts accepted connections."""
    connections: list[int] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            await handler(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/v1/", connections
    finally:
        server.close()


def pool(base_url: str, *, timeout: float = 5.0, max_connections: int = 4) -> Pool:
    return Pool(
        base_url,
        {"content-type": "application/json", "authorization": "Bearer secret"},
        max_connections=max_connections,
        connect_timeout=2.0,
        timeout=timeout,
    )


async def test_request_shape_and_keep_alive_reuse() -> None:
    seen: list[tuple[bytes, dict[bytes, bytes], bytes]] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            seen.append(await read_request(reader))
            writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 7\r\nX-Thing: a\r\nX-Thing: b\r\n\r\n{"a":1}')
            await writer.drain()

    async with serve(handler) as (url, connections):
        client = pool(url)
        for _ in range(3):
            response = await client.post("chat/completions", b'{"x": 1}')
            assert response.status_code == 200
            assert response.headers["x-thing"] == "a, b"
            assert await response.read() == b'{"a":1}'
        await client.aclose()
    assert len(connections) == 1, "three sequential requests should share one keep-alive connection"
    line, headers, body = seen[0]
    assert line == b"POST /v1/chat/completions HTTP/1.1"
    assert headers[b"authorization"] == b"Bearer secret"
    assert headers[b"host"].startswith(b"127.0.0.1:")
    assert body == b'{"x": 1}'


async def test_chunked_lines_split_anywhere_including_inside_crlf() -> None:
    events = b'data: {"n": 1}\r\n\r\ndata: {"n": 2}\n\ndata: [DONE]\r\n\r\n'

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        # One byte per chunk, so every line terminator (CR | LF) straddles two chunks.
        for byte in events:
            writer.write(b"1\r\n" + bytes([byte]) + b"\r\n")
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    async with serve(handler) as (url, _):
        client = pool(url)
        response = await client.post("chat/completions", b"{}")
        lines = [line async for line in response.aiter_lines()]
        await response.aclose()
        await client.aclose()
    assert lines == [b'data: {"n": 1}', b"", b'data: {"n": 2}', b"", b"data: [DONE]", b""]


async def test_body_delimited_by_close_and_connection_close_is_not_reused() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it")
        await writer.drain()
        writer.close()

    async with serve(handler) as (url, connections):
        client = pool(url)
        for _ in range(2):
            response = await client.post("x", b"")
            assert await response.read() == b"all of it"
        await client.aclose()
    assert len(connections) == 2


async def test_silence_is_a_read_timeout_and_the_connection_is_dropped() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(5)

    async with serve(handler) as (url, _):
        client = pool(url, timeout=0.2)
        with pytest.raises(ReadTimeout):
            await client.post("x", b"")
        assert client._open == 0 and not client._idle
        await client.aclose()


async def test_silence_mid_body_is_a_read_timeout() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart")
        await writer.drain()
        await asyncio.sleep(5)

    async with serve(handler) as (url, _):
        client = pool(url, timeout=0.2)
        response = await client.post("x", b"")
        with pytest.raises(ReadTimeout):
            await response.read()
        assert client._open == 0
        await client.aclose()


async def test_close_mid_body_is_broken_not_a_short_answer() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart")
        await writer.drain()
        writer.close()

    async with serve(handler) as (url, _):
        client = pool(url)
        response = await client.post("x", b"")
        with pytest.raises(Broken):
            await response.read()
        await client.aclose()


async def test_garbage_is_broken() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"SMTP ready\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(1)

    async with serve(handler) as (url, _):
        client = pool(url)
        with pytest.raises(Broken):
            await client.post("x", b"")
        await client.aclose()


async def test_refused_connection_is_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connections are refused
        client = pool(f"http://127.0.0.1:{port}/v1/")
        with pytest.raises(Unreachable):
            await client.post("x", b"")
        assert client._open == 0


async def test_an_idle_connection_closed_by_the_server_is_replaced() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()  # keep-alive promised, then closed while idle (a server's idle timeout)

    async with serve(handler) as (url, connections):
        client = pool(url)
        assert await (await client.post("x", b"")).read() == b"ok"
        for _ in range(250):  # until the close reaches the idle connection's protocol
            if all(connection.closed for connection in client._idle):
                break
            await asyncio.sleep(0.02)
        assert await (await client.post("x", b"")).read() == b"ok"
        await client.aclose()
    assert len(connections) == 2


async def test_pool_bound_makes_callers_wait_and_times_them_out() -> None:
    release = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n")
            await writer.drain()
            await release.wait()
            writer.write(b"ok")
            await writer.drain()

    async with serve(handler) as (url, connections):
        client = pool(url, max_connections=2, timeout=0.3)
        # Both connections are taken by responses whose bodies have not been read yet.
        held = [await client.post("x", b""), await client.post("x", b"")]
        with pytest.raises(Unreachable):  # a third caller finds no free connection in time
            await client.post("x", b"")
        waiting = asyncio.create_task(client.post("x", b""))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        release.set()
        for response in held:
            assert await response.read() == b"ok"
        assert await (await waiting).read() == b"ok"  # handed a connection the others released
        await client.aclose()
    assert len(connections) == 2


async def test_large_body_arrives_whole_through_flow_control() -> None:
    payload = bytes(range(256)) * 20_000  # 5 MB: past the pool's read high-water mark

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(payload) + payload)
        await writer.drain()

    async with serve(handler) as (url, _):
        client = pool(url)
        response = await client.post("x", b"")
        await asyncio.sleep(0.2)  # let the data pile up unread
        assert await response.read() == payload
        await client.aclose()


async def test_a_cancelled_caller_does_not_leak_its_connection() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(5)

    async with serve(handler) as (url, _):
        client = pool(url, max_connections=1)
        task = asyncio.create_task(client.post("x", b""))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert client._open == 0, "the half-finished exchange's connection must be closed and freed"
        await client.aclose()


def test_only_http_and_https_urls() -> None:
    with pytest.raises(ValueError):
        Pool("ftp://example.org/", {}, max_connections=1, connect_timeout=1, timeout=1)


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


async def test_https_verifies_the_certificate(tmp_path: Path) -> None:
    cert_path, key_path = _self_signed(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_path, key_path)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecure")
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=server_context)
    url = f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1/"
    try:
        trusting = ssl.create_default_context(cafile=str(cert_path))
        client = Pool(url, {}, max_connections=1, connect_timeout=5, timeout=5, ssl_context=trusting)
        assert await (await client.post("x", b"")).read() == b"secure"
        await client.aclose()
        default = pool(url)  # the system's CAs do not know this certificate: refused before sending
        with pytest.raises(Unreachable):
            await default.post("x", b"")
        await default.aclose()
    finally:
        server.close()

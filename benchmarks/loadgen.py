"""HTTP/1.1 keep-alive load generator on uvloop, run in its own process.

Raw asyncio streams rather than an HTTP client library, so that on a 2-core machine the load
generator costs less CPU per request than the servers it measures.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any

import uvloop


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one full response; return its status and whether the connection stays open."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = -1
    chunked = False
    keep_alive = True
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif name == b"connection" and value.strip().lower() == b"close":
            keep_alive = False
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length >= 0:
        await reader.readexactly(length)
    else:
        await reader.read()
        keep_alive = False
    return status, keep_alive


async def _worker(
    host: str, port: int, request: bytes, deadline: float, budget: list[int], latencies: list[float]
) -> int:
    errors = 0
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline and budget[0] != 0:
            budget[0] -= 1
            started = time.perf_counter()
            writer.write(request)
            try:
                status, keep_alive = await _read_response(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                continue
            latencies.append(time.perf_counter() - started)
            if not 200 <= status < 300:
                errors += 1
            if not keep_alive:
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
    finally:
        writer.close()
    return errors


def build_request(host: str, port: int, path: str, body: dict[str, Any], headers: dict[str, str]) -> bytes:
    payload = json.dumps(body).encode()
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(payload)}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


async def _run(
    host: str,
    port: int,
    request: bytes,
    concurrency: int,
    duration: float,
    max_requests: int,
) -> LoadResult:
    latencies: list[float] = []
    budget = [max_requests if max_requests > 0 else -1]
    started = time.perf_counter()
    deadline = started + duration if duration > 0 else float("inf")
    errors = await asyncio.gather(
        *(_worker(host, port, request, deadline, budget, latencies) for _ in range(concurrency))
    )
    seconds = time.perf_counter() - started
    ordered = sorted(latencies)
    count = len(ordered)

    def percentile(q: float) -> float:
        return ordered[min(count - 1, int(q * count))] * 1000 if count else float("nan")

    return LoadResult(
        requests=count,
        errors=sum(errors),
        seconds=seconds,
        rps=count / seconds if seconds else 0.0,
        p50_ms=statistics.median(ordered) * 1000 if count else float("nan"),
        p99_ms=percentile(0.99),
    )


def _child(args: tuple[Any, ...], queue: multiprocessing.Queue[dict[str, Any]]) -> None:
    queue.put(asdict(uvloop.run(_run(*args))))


def run_load(
    host: str,
    port: int,
    path: str,
    body: dict[str, Any],
    headers: dict[str, str] | None = None,
    concurrency: int = 1,
    duration: float = 5.0,
    max_requests: int = 0,
) -> LoadResult:
    """Drive load from a separate process so it never shares an event loop with the server."""
    request = build_request(host, port, path, body, headers or {})
    context = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[dict[str, Any]] = context.Queue()
    process = context.Process(
        target=_child, args=((host, port, request, concurrency, duration, max_requests), queue)
    )
    process.start()
    try:
        result = queue.get(timeout=duration + 120)
    finally:
        process.join(timeout=10)
        if process.is_alive():
            process.kill()
    return LoadResult(**result)


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="HTTP/1.1 keep-alive POST load generator.")
    parser.add_argument("url", help="e.g. http://127.0.0.1:9999/v1/chat/completions")
    parser.add_argument(
        "--body", default='{"model": "fake-model", "messages": [{"role": "user", "content": "Hi"}]}'
    )
    parser.add_argument("--header", action="append", default=[], help="Name: value")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=float, default=5.0)
    args = parser.parse_args()
    from urllib.parse import urlsplit

    url = urlsplit(args.url)
    headers = dict(h.split(":", 1) for h in args.header)
    result = run_load(
        url.hostname or "127.0.0.1",
        url.port or 80,
        url.path,
        json.loads(args.body),
        {k.strip(): v.strip() for k, v in headers.items()},
        args.concurrency,
        args.duration,
    )
    print(json.dumps(asdict(result)))


if __name__ == "__main__":
    main()

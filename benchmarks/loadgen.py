"""HTTP/1.1 keep-alive load generator: one asyncio protocol per connection, run in its own process.

Callbacks on uvloop with the C ``httptools`` parser, no client library and no coroutine per request,
so that on a 2-core machine the load generator costs far less CPU per request than the servers it
measures (it reports its own CPU time so a reader can check). A response counts when its last byte
has arrived (Content-Length or chunked, so SSE streams are read to their end); a non-2xx status or a
broken connection is an error and is not in the latency figures or the request rate.
"""

from __future__ import annotations

import asyncio
import functools
import json
import multiprocessing
import os
import time
from dataclasses import asdict, dataclass
from typing import Any

import httptools
import uvloop


@dataclass
class LoadResult:
    requests: int  # completed 2xx responses
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_seconds: float = 0.0  # the load generator's own CPU time


class _Run:
    """What every connection of one run shares."""

    def __init__(self, requests: list[bytes], deadline: float, max_requests: int) -> None:
        self.requests = requests
        self.sent = 0
        self.deadline = deadline
        self.budget = max_requests if max_requests > 0 else -1
        self.latencies: list[float] = []
        self.errors = 0

    def take(self) -> bytes | None:
        """The next request to send (the bodies take turns), or None when the run is over."""
        if self.budget == 0 or time.perf_counter() >= self.deadline:
            return None
        if self.budget > 0:
            self.budget -= 1
        self.sent += 1
        return self.requests[self.sent % len(self.requests)]


class _Connection(asyncio.Protocol):
    def __init__(self, run: _Run, finished: asyncio.Future[None]) -> None:
        self._run = run
        self._finished = finished
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._started = 0.0
        self._status = 0
        self._in_flight = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._next()

    def _next(self) -> None:
        assert self._transport is not None
        request = self._run.take()
        if request is None:
            self._transport.close()
            return
        self._in_flight = True
        self._started = time.perf_counter()
        self._transport.write(request)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self._run.errors += 1
            self._in_flight = False
            if self._transport is not None:
                self._transport.close()

    def on_headers_complete(self) -> None:
        self._status = self._parser.get_status_code()

    def on_message_complete(self) -> None:
        self._in_flight = False
        if 200 <= self._status < 300:
            self._run.latencies.append(time.perf_counter() - self._started)
        else:
            self._run.errors += 1
        if self._parser.should_keep_alive():
            self._next()
        elif self._transport is not None:
            self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._in_flight:
            self._run.errors += 1
        if not self._finished.done():
            self._finished.set_result(None)


async def _connection(host: str, port: int, run: _Run) -> None:
    """Keep one connection busy until the run ends, reconnecting if the server closes it."""
    loop = asyncio.get_running_loop()
    while time.perf_counter() < run.deadline and run.budget != 0:
        finished: asyncio.Future[None] = loop.create_future()
        try:
            await loop.create_connection(functools.partial(_Connection, run, finished), host, port)
        except OSError:
            run.errors += 1
            await asyncio.sleep(0.01)
            continue
        await finished


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


def _percentile(ordered: list[float], q: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _run(
    host: str,
    port: int,
    requests: list[bytes],
    concurrency: int,
    duration: float,
    max_requests: int,
) -> LoadResult:
    cpu = time.process_time()
    started = time.perf_counter()
    run = _Run(requests, started + duration if duration > 0 else float("inf"), max_requests)
    await asyncio.gather(*(_connection(host, port, run) for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    ordered = sorted(run.latencies)
    count = len(ordered)
    return LoadResult(
        requests=count,
        errors=run.errors,
        seconds=seconds,
        rps=count / seconds if seconds else 0.0,
        p50_ms=_percentile(ordered, 0.5),
        p99_ms=_percentile(ordered, 0.99),
        cpu_seconds=time.process_time() - cpu,
    )


def _child(
    args: tuple[Any, ...], cpus: set[int] | None, queue: multiprocessing.Queue[dict[str, Any]]
) -> None:
    if cpus:
        os.sched_setaffinity(0, cpus)
    queue.put(asdict(uvloop.run(_run(*args))))


def run_load(
    host: str,
    port: int,
    path: str,
    body: dict[str, Any] | list[dict[str, Any]],
    headers: dict[str, str] | None = None,
    concurrency: int = 1,
    duration: float = 5.0,
    max_requests: int = 0,
    cpus: set[int] | None = None,
) -> LoadResult:
    """Drive load from a separate process (optionally pinned to ``cpus``) so it never shares an
    event loop with the server it measures. A list of bodies is sent in turn."""
    bodies = body if isinstance(body, list) else [body]
    requests = [build_request(host, port, path, item, headers or {}) for item in bodies]
    context = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[dict[str, Any]] = context.Queue()
    process = context.Process(
        target=_child, args=((host, port, requests, concurrency, duration, max_requests), cpus, queue)
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
    from urllib.parse import urlsplit

    parser = argparse.ArgumentParser(description="HTTP/1.1 keep-alive POST load generator.")
    parser.add_argument("url", help="e.g. http://127.0.0.1:9999/v1/chat/completions")
    parser.add_argument(
        "--body", default='{"model": "fake-model", "messages": [{"role": "user", "content": "Hi"}]}'
    )
    parser.add_argument("--header", action="append", default=[], help="Name: value")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--requests", type=int, default=0, help="stop after this many (0: no limit)")
    args = parser.parse_args()
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
        args.requests,
    )
    print(json.dumps(asdict(result)))


if __name__ == "__main__":
    main()

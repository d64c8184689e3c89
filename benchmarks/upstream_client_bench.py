"""The gateway's upstream HTTP client against the well-kept alternatives, on the same fake upstream.

    .venv/bin/python benchmarks/upstream_client_bench.py [--duration 3] [--concurrency 1,16]

Why this exists: Accord talks to model servers through its own pooled HTTP/1.1 client
(``accord.backends.http1``: asyncio protocols, the ``httptools``/llhttp parser) instead of httpx or
aiohttp. That is hand-written code where a library exists, so the choice has to keep earning its
place: this script measures, per client, requests/s, p50 latency and this process's CPU time per
request for one non-stream chat completion (JSON encode, POST, read, JSON decode).

The fake upstream runs in its own process on CPU 1 and this process on CPU 0 (as in
``gateway_bench.py``). httpx is installed with Accord (it serves upstreams behind a proxy); aiohttp
is compared only when installed (``.venv/bin/pip install aiohttp==3.14.5``), since Accord does not
depend on it. Writes ``benchmarks/results/upstream_client.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accord.backends.http1 import Pool
from gateway_bench import free_port, pinned, stop, wait_for_port

HERE = Path(__file__).resolve().parent
BODY = orjson.dumps(
    {
        "model": "bench-model",
        "messages": [{"role": "user", "content": "Draft a note confirming the fuel delivery on Tuesday."}],
    }
)
HEADERS = {"content-type": "application/json"}
Post = Callable[[], Awaitable[None]]


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(post: Post, concurrency: int, duration: float) -> dict[str, float]:
    for _ in range(200):  # warm the pool and the caches
        await post()
    latencies: list[int] = []
    deadline = time.monotonic() + duration

    async def worker() -> None:
        while time.monotonic() < deadline:
            start = time.perf_counter_ns()
            await post()
            latencies.append(time.perf_counter_ns() - start)

    cpu_before, started = cpu_seconds(), time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed, used = time.monotonic() - started, cpu_seconds() - cpu_before
    latencies.sort()
    return {
        "requests": len(latencies),
        "rps": round(len(latencies) / elapsed),
        "p50_us": round(latencies[len(latencies) // 2] / 1000, 1),
        "cpu_us_per_request": round(used * 1e6 / len(latencies), 1),
    }


async def clients(base_url: str) -> tuple[dict[str, Post], list[Callable[[], Awaitable[Any]]]]:
    pool = Pool(base_url, HEADERS, max_connections=100, connect_timeout=5.0, timeout=30.0)

    async def accord_http1() -> None:
        response = await pool.post("chat/completions", BODY)
        orjson.loads(await response.read())

    httpx_client = httpx.AsyncClient(base_url=base_url, limits=httpx.Limits(max_connections=100))

    async def httpx_post() -> None:
        response = await httpx_client.post("chat/completions", content=BODY, headers=HEADERS)
        orjson.loads(response.content)

    posts: dict[str, Post] = {"accord http1": accord_http1, "httpx": httpx_post}
    closers: list[Callable[[], Awaitable[Any]]] = [pool.aclose, httpx_client.aclose]
    try:
        aiohttp: Any = importlib.import_module("aiohttp")
    except ImportError:
        print("aiohttp is not installed: compared with httpx only (pip install aiohttp==3.14.5)")
    else:
        session = aiohttp.ClientSession(
            base_url=base_url,
            connector=aiohttp.TCPConnector(limit=100),
            headers=HEADERS,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=5, sock_read=30),
            auto_decompress=False,
        )

        async def aiohttp_post() -> None:
            async with session.post("chat/completions", data=BODY) as response:
                orjson.loads(await response.read())

        posts[f"aiohttp {aiohttp.__version__}"] = aiohttp_post
        closers.append(session.close)
    return posts, closers


async def run(port: int, levels: list[int], duration: float) -> list[dict[str, Any]]:
    posts, closers = await clients(f"http://127.0.0.1:{port}/v1/")
    rows = []
    try:
        for concurrency in levels:
            for name, post in posts.items():
                figures = await measure(post, concurrency, duration)
                row = {"client": name, "concurrency": concurrency, **figures}
                print(
                    f"{name:16s} c={concurrency:<3d} {row['rps']:>8,} req/s  p50 {row['p50_us']:>8.1f} µs"
                    f"  CPU {row['cpu_us_per_request']:>6.1f} µs/request"
                )
                rows.append(row)
    finally:
        for close in closers:
            await close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--concurrency", default="1,16")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "upstream_client.json")
    args = parser.parse_args()
    pin = (os.cpu_count() or 1) >= 2
    port = free_port()
    upstream = subprocess.Popen(
        [sys.executable, "-m", "accord.testing.fake_upstream", "--port", str(port), "--no-log"],
        stdout=subprocess.DEVNULL,
        preexec_fn=pinned({1} if pin else None),
    )
    try:
        wait_for_port(port, upstream)
        if pin:
            os.sched_setaffinity(0, {0})
        levels = [int(level) for level in args.concurrency.split(",")]
        rows = uvloop.run(run(port, levels, args.duration))
    finally:
        stop(upstream)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"pinned": pin, "rows": rows}, indent=2), encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

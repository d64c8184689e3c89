"""What the output holdback costs a streaming client: time to first token, direct vs through Accord.

The gateway releases streamed text only once its marking scanner has seen the following
``stream_holdback_chars`` characters (default 64), so a marking split across chunks is caught
before any part of it leaves. That delays the first visible token by roughly the time the model
needs to produce those characters. This benchmark measures it against an upstream that streams
tokens at a fixed pace (default 25 ms per token of 4 characters, 40 tokens/s: a loaded vLLM
server for one user), for several holdback windows.

    .venv/bin/python benchmarks/stream_ttft_bench.py [--token-ms 25] [--requests 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

VENV_BIN = Path(sys.executable).parent
RESULTS = Path(__file__).resolve().parent / "results" / "stream_ttft.json"
ANSWER = (
    "The convoy leaves the depot at six, refuels at the border crossing, and reaches the port "
    "by noon; the harbour master has confirmed the berth and the customs papers are ready."
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PacedUpstream:
    """An OpenAI-compatible chat endpoint that streams ``ANSWER`` in 4-character tokens at a fixed pace."""

    def __init__(self, token_seconds: float) -> None:
        self.token_seconds = token_seconds
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> PacedUpstream:
        self._thread.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("paced upstream did not start")

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", self.port))
        self._loop.run_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length) if length else b""
                path = head.split(b" ", 2)[1]
                if path.endswith(b"/models"):
                    payload = b'{"object":"list","data":[{"id":"paced","object":"model"}]}'
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
                    writer.write(b"Content-Length: %d\r\n\r\n%s" % (len(payload), payload))
                    await writer.drain()
                    continue
                request = json.loads(body or b"{}")
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n")
                writer.write(b"Transfer-Encoding: chunked\r\n\r\n")
                for index in range(0, len(ANSWER), 4):
                    await asyncio.sleep(self.token_seconds)
                    chunk = {
                        "id": "chatcmpl-paced",
                        "object": "chat.completion.chunk",
                        "created": 0,
                        "model": request.get("model", "paced"),
                        "choices": [{"index": 0, "delta": {"content": ANSWER[index : index + 4]}}],
                    }
                    self._send(writer, b"data: " + json.dumps(chunk).encode() + b"\n\n")
                    await writer.drain()
                done = {
                    "id": "chatcmpl-paced",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": "paced",
                    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                }
                self._send(writer, b"data: " + json.dumps(done).encode() + b"\n\ndata: [DONE]\n\n")
                writer.write(b"0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    @staticmethod
    def _send(writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(b"%x\r\n%s\r\n" % (len(data), data))


def ttft(base_url: str, key: str, model: str) -> float:
    """Seconds from sending the request to the first chunk carrying visible text."""
    body = {"model": model, "stream": True, "messages": [{"role": "user", "content": "Plan the convoy."}]}
    started = time.perf_counter()
    with (
        httpx.Client(timeout=30) as client,
        client.stream(
            "POST", f"{base_url}/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
        ) as response,
    ):
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            event = json.loads(line[6:])
            choices = event.get("choices") or []
            if choices and choices[0].get("delta", {}).get("content"):
                return time.perf_counter() - started
    raise RuntimeError("stream ended without text")


def gateway(home: Path, upstream_port: int, holdback: int) -> tuple[subprocess.Popen[bytes], str, str]:
    env = {**os.environ, "ACCORD_HOME": str(home)}
    home.mkdir(parents=True)
    (home / "accord.yaml").write_text(
        "gateway:\n"
        f"  stream_holdback_chars: {holdback}\n"
        "  rate_limit: {requests_per_minute: 100000, burst: 10000}\n"
        "models:\n"
        "  - name: paced\n"
        "    backend: openai_compatible\n"
        f"    base_url: http://127.0.0.1:{upstream_port}/v1\n",
        encoding="utf-8",
    )
    accord = str(VENV_BIN / "accord")
    subprocess.run([accord, "init", "--no-demo"], env=env, check=True, capture_output=True)
    created = subprocess.run(
        [accord, "keys", "create", "--nation", "NLD", "--organisation", "Defence Materiel Organisation",
         "--agency-kind", "military", "--role", "user"],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    key = created.stdout.strip().splitlines()[-1]
    port = free_port()
    process = subprocess.Popen(
        [accord, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process, f"http://127.0.0.1:{port}/v1", key
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("gateway did not start")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--token-ms", type=float, default=25.0, help="upstream pace per 4-character token")
    parser.add_argument("--requests", type=int, default=20, help="streams per configuration")
    parser.add_argument("--holdback", type=int, nargs="+", default=[64, 128, 192])
    args = parser.parse_args()

    results: dict[str, Any] = {"token_ms": args.token_ms, "requests": args.requests, "runs": []}
    with PacedUpstream(args.token_ms / 1000) as upstream, tempfile.TemporaryDirectory() as tmp:
        direct = [ttft(f"http://127.0.0.1:{upstream.port}/v1", "none", "paced") for _ in range(args.requests)]
        direct_ms = statistics.median(direct) * 1000
        results["direct_ttft_ms"] = round(direct_ms, 1)
        print(f"upstream pace {args.token_ms:.0f} ms per 4-char token; direct TTFT p50 {direct_ms:.1f} ms")
        print(f"{'holdback':>9} {'TTFT p50 ms':>12} {'added ms':>9} {'~tokens held':>13}")
        for holdback in args.holdback:
            process, base_url, key = gateway(Path(tmp) / f"home-{holdback}", upstream.port, holdback)
            try:
                ttft(base_url, key, "paced")  # warm the connection pool and the model registry
                samples = [ttft(base_url, key, "paced") for _ in range(args.requests)]
            finally:
                process.terminate()
                process.wait(timeout=10)
            median_ms = statistics.median(samples) * 1000
            added = median_ms - direct_ms
            held = added / args.token_ms
            print(f"{holdback:>9} {median_ms:>12.1f} {added:>9.1f} {held:>13.1f}")
            results["runs"].append(
                {"holdback_chars": holdback, "ttft_p50_ms": round(median_ms, 1), "added_ms": round(added, 1)}
            )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"results: {RESULTS}")


if __name__ == "__main__":
    main()

"""Gateway throughput and added latency against a fake upstream, each in its own process.

Measures chat completions (stream and non-stream) directly against the fake upstream and through one
``accord serve`` worker, at several concurrencies, and reports the latency the gateway adds.
Targets: >= 1,500 req/s at concurrency 16 non-stream; <= 1 ms added p50 at concurrency 1.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadgen import LoadResult, run_load

VENV_BIN = Path(sys.executable).parent
PROMPTS = [
    "Draft a note confirming the fuel delivery on Tuesday.",
    "Summarise the agenda for the logistics coordination meeting.",
    "Write a polite reminder about the training room booking.",
]
RESULTS = Path(__file__).resolve().parent / "results" / "gateway.json"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited early with code {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listening on port {port} after {seconds}s")


def accord(home: Path, *args: str) -> str:
    env = {**os.environ, "ACCORD_HOME": str(home)}
    done = subprocess.run([str(VENV_BIN / "accord"), *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"accord {' '.join(args[:2])} failed: {done.stderr.strip()[-2000:]}")
    return done.stdout


def body(stream: bool, model: str) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": PROMPTS[0]}],
        "max_tokens": 64,
    }
    if stream:
        payload["stream"] = True
        payload["stream_options"] = {"include_usage": True}
    return payload


def measure(
    port: int, headers: dict[str, str], model: str, stream: bool, concurrency: int, duration: float
) -> LoadResult:
    path = "/v1/chat/completions"
    run_load("127.0.0.1", port, path, body(stream, model), headers, concurrency, min(1.0, duration))
    return run_load("127.0.0.1", port, path, body(stream, model), headers, concurrency, duration)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--concurrency", default="1,16,64")
    parser.add_argument("--keep", action="store_true", help="keep the temporary ACCORD_HOME")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` stops the child processes

    home = Path(tempfile.mkdtemp(prefix="accord-bench-"))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        upstream_port = free_port()
        upstream = subprocess.Popen(
            [sys.executable, "-m", "accord.testing.fake_upstream", "--port", str(upstream_port), "--no-log"],
            stdout=subprocess.DEVNULL,
        )
        processes.append(upstream)
        wait_for_port(upstream_port, upstream)

        accord(home, "init", "--no-demo")
        accord(
            home, "models", "add", "bench-model", "--backend", "openai_compatible",
            "--base-url", f"http://127.0.0.1:{upstream_port}/v1",
        )  # fmt: skip
        key = accord(
            home, "keys", "create", "--nation", "USA", "--organisation", "Army Materiel Command",
            "--agency-kind", "military", "--role", "user",
        ).strip().splitlines()[-1]  # fmt: skip
        gateway_port = free_port()
        gateway_log = open(home / "gateway.log", "wb")  # noqa: SIM115 - lives as long as the process
        gateway = subprocess.Popen(
            [str(VENV_BIN / "accord"), "serve", "--host", "127.0.0.1", "--port", str(gateway_port)],
            env={**os.environ, "ACCORD_HOME": str(home)},
            stdout=gateway_log,
            stderr=subprocess.STDOUT,
        )
        processes.append(gateway)
        wait_for_port(gateway_port, gateway)

        rows: list[dict[str, Any]] = []
        auth = {"Authorization": f"Bearer {key}"}
        for stream in (False, True):
            for concurrency in levels:
                direct = measure(upstream_port, {}, "bench-model", stream, concurrency, args.duration)
                via = measure(gateway_port, auth, "bench-model", stream, concurrency, args.duration)
                rows.append(
                    {
                        "stream": stream,
                        "concurrency": concurrency,
                        "direct": asdict(direct),
                        "gateway": asdict(via),
                        "added_p50_ms": via.p50_ms - direct.p50_ms,
                    }
                )
        print_table(rows)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps({"duration": args.duration, "rows": rows}, indent=2))
        print(f"wrote {RESULTS}")
    finally:
        for process in reversed(processes):
            stop(process)
        if args.keep:
            print(f"kept ACCORD_HOME at {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)


def print_table(rows: list[dict[str, Any]]) -> None:
    header = (
        f"{'mode':<10}{'conc':>5}  {'target':<8}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
        f"{'+p50 ms':>9}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        mode = "stream" if row["stream"] else "json"
        for target in ("direct", "gateway"):
            r = row[target]
            added = f"{row['added_p50_ms']:>9.2f}" if target == "gateway" else ""
            print(
                f"{mode:<10}{row['concurrency']:>5}  {target:<8}{r['rps']:>10.0f}{r['p50_ms']:>9.2f}"
                f"{r['p99_ms']:>9.2f}{r['errors']:>8}{added}"
            )
    for row in rows:
        if not row["stream"] and row["concurrency"] == 16:
            print(f"target >= 1500 req/s at c=16 non-stream: {row['gateway']['rps']:.0f}")
        if not row["stream"] and row["concurrency"] == 1:
            print(f"target <= 1 ms added p50 at c=1 non-stream: {row['added_p50_ms']:.2f}")


if __name__ == "__main__":
    main()

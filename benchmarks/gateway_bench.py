"""Gateway throughput and added latency against the fake upstream, each side in its own process.

    .venv/bin/python benchmarks/gateway_bench.py            # full run: ~4 minutes
    .venv/bin/python benchmarks/gateway_bench.py --quick    # one short run per cell: ~1 minute

For chat completions (non-stream and stream) at each concurrency it measures three targets:

- ``direct``: the fake upstream alone (the baseline the added latency is measured against);
- ``gateway``: ``accord serve`` (one uvicorn worker) with every protection on: kill switches,
  markings, personal data, intent, volume, the Cedar policy, output inspection / stream hold-back,
  and a durable ledger leaf per request before the answer is released (SQLite, WAL, synchronous=FULL);
- ``core``: the same process shape and `Pipeline` with the protections replaced by a pass-through
  object defined in benchmarks/core_app.py, to show what the protections cost. The product has no
  such switch.

Cores: with two or more CPUs the server under test is pinned to CPU 0 and the fake upstream and the
load generator to CPU 1 (``--no-pin`` leaves placement to the OS). Each cell is warmed up for 1 s and
then measured ``--repeats`` times; the table shows the best and the median run, and the JSON in
benchmarks/results/gateway.json keeps every run with each process's CPU time per request.

Targets: gateway >= 1,500 req/s (issue 2) and >= 1,300 req/s (issue 4, protections on) non-stream at
concurrency 16; <= 1 ms added p50 over the direct call at concurrency 1, checked for both stream modes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadgen import LoadResult, run_load

HERE = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent
PROMPTS = [
    "Draft a note confirming the fuel delivery on Tuesday.",
    "Explain the difference between a purchase order and an invoice.",
    "Write a polite reminder about the training room booking.",
]
RESULTS = HERE / "results" / "gateway.json"
MODEL = "bench-model"
TARGETS = ("direct", "gateway", "core")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], seconds: float = 120.0) -> None:
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


def bodies(stream: bool) -> list[dict[str, Any]]:
    """The prompts take turns, so consecutive requests do not carry identical text."""
    out = []
    for prompt in PROMPTS:
        payload: dict[str, Any] = {
            "model": MODEL,
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": 64,
        }
        if stream:
            payload["stream"] = True
            payload["stream_options"] = {"include_usage": True}
        out.append(payload)
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pinned(cpus: set[int] | None) -> Callable[[], None] | None:
    if not cpus:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Server:
    """A process under test and the port it serves."""

    def __init__(self, name: str, port: int, process: subprocess.Popen[bytes], headers: dict[str, str]):
        self.name = name
        self.port = port
        self.process = process
        self.headers = headers


def measure(
    server: Server, stream: bool, concurrency: int, duration: float, client_cpus: set[int] | None
) -> dict[str, Any]:
    path = "/v1/chat/completions"
    before = cpu_seconds(server.process.pid)
    result: LoadResult = run_load(
        "127.0.0.1",
        server.port,
        path,
        bodies(stream),
        server.headers,
        concurrency,
        duration,
        cpus=client_cpus,
    )
    used = cpu_seconds(server.process.pid) - before
    row = asdict(result)
    row["server_cpu_ms_per_request"] = used * 1000 / result.requests if result.requests else None
    row["server_cpu_share"] = used / result.seconds if result.seconds else None
    row["loadgen_cpu_ms_per_request"] = (
        result.cpu_seconds * 1000 / result.requests if result.requests else None
    )
    return row


def preflight(server: Server) -> None:
    """Every prompt must be answered 200 (allowed by the policy), or the figures would mix in refusals."""
    for stream in (False, True):
        for payload in bodies(stream):
            data = json.dumps(payload).encode()
            with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
                head = (
                    f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
                    + "".join(f"{name}: {value}\r\n" for name, value in server.headers.items())
                    + "\r\n"
                )
                sock.sendall(head.encode() + data)
                answer = b""
                while chunk := sock.recv(65536):
                    answer += chunk
            status = answer.split(b" ", 2)[1].decode()
            if status != "200":
                body = answer.partition(b"\r\n\r\n")[2][:300].decode(errors="replace")
                raise RuntimeError(f"{server.name} answered {status} to {payload['messages']}: {body}")


def run_cell(
    server: Server, stream: bool, concurrency: int, args: argparse.Namespace, client_cpus: set[int] | None
) -> dict[str, Any]:
    """A warm-up, then ``args.repeats`` measured runs of one target, mode and concurrency."""
    measure(server, stream, concurrency, min(1.0, args.duration), client_cpus)
    runs = [measure(server, stream, concurrency, args.duration, client_cpus) for _ in range(args.repeats)]
    summary = summarise(runs)
    mode = "stream" if stream else "json"
    rps, p50 = summary["median_rps"], summary["median_p50_ms"]
    print(f"  {server.name:8} {mode:6} c={concurrency:<3} {rps:8.0f} req/s  p50 {p50:.2f} ms", flush=True)
    return summary


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def med(key: str) -> float:
        values = [r[key] for r in runs if r[key] is not None]
        return statistics.median(values) if values else float("nan")

    return {
        "best_rps": max(r["rps"] for r in runs),
        "median_rps": med("rps"),
        "best_p50_ms": min(r["p50_ms"] for r in runs),
        "median_p50_ms": med("p50_ms"),
        "median_p99_ms": med("p99_ms"),
        "errors": sum(r["errors"] for r in runs),
        "median_server_cpu_ms_per_request": med("server_cpu_ms_per_request"),
        "runs": runs,
    }


def prepare_home(home: Path, upstream_port: int) -> str:
    accord(home, "init", "--no-demo")
    accord(
        home, "models", "add", MODEL, "--backend", "openai_compatible",
        "--base-url", f"http://127.0.0.1:{upstream_port}/v1",
    )  # fmt: skip
    # One key drives all the load, so its per-principal rate limit is raised out of the way (the
    # limiter still runs on every request; only its numbers change).
    deployment_file = home / "accord.yaml"
    deployment = yaml.safe_load(deployment_file.read_text(encoding="utf-8"))
    deployment["gateway"]["rate_limit"] = {"requests_per_minute": 100_000_000, "burst": 1_000_000}
    deployment_file.write_text(yaml.safe_dump(deployment, sort_keys=False), encoding="utf-8")
    return accord(
        home, "keys", "create", "--nation", "USA", "--organisation", "Army Materiel Command",
        "--agency-kind", "military", "--role", "user",
    ).strip().splitlines()[-1]  # fmt: skip


def start_server(
    name: str, home: Path, server_cpus: set[int] | None, key: str, processes: list[subprocess.Popen[bytes]]
) -> Server:
    port = free_port()
    if name == "gateway":
        command = [str(VENV_BIN / "accord"), "serve", "--host", "127.0.0.1", "--port", str(port)]
        command += ["--log-level", "info"]  # as operators run it: the access log line is measured too
    else:
        command = [sys.executable, str(HERE / "core_app.py"), "--port", str(port)]
    log = open(home / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the process
    process = subprocess.Popen(
        command,
        env={**os.environ, "ACCORD_HOME": str(home)},
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=pinned(server_cpus),
    )
    processes.append(process)
    wait_for_port(port, process)
    return Server(name, port, process, {"Authorization": f"Bearer {key}"})


def machine() -> dict[str, Any]:
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {
        "cpu": model,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_at_start": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measured run")
    parser.add_argument("--repeats", type=int, default=3, help="measured runs per cell")
    parser.add_argument("--concurrency", default="1,16,64")
    parser.add_argument("--modes", default="json,stream", help="json, stream or both")
    parser.add_argument("--targets", default=",".join(TARGETS), help="subset of direct,gateway,core")
    parser.add_argument("--quick", action="store_true", help="2 s runs, one repeat")
    parser.add_argument("--no-pin", action="store_true", help="let the OS place the processes")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--keep", action="store_true", help="keep the temporary ACCORD_HOME")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.repeats = 2.0, 1
    levels = [int(c) for c in args.concurrency.split(",")]
    modes = [m.strip() == "stream" for m in args.modes.split(",")]
    targets = [t for t in TARGETS if t in args.targets.split(",")]
    pin = not args.no_pin and (os.cpu_count() or 1) >= 2
    server_cpus, client_cpus = ({0}, {1}) if pin else (None, None)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` stops the child processes

    home = Path(tempfile.mkdtemp(prefix="accord-bench-"))
    processes: list[subprocess.Popen[bytes]] = []
    results: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "settings": {
            "duration": args.duration,
            "repeats": args.repeats,
            "pinned": {
                "servers": sorted(server_cpus or []),
                "upstream_and_loadgen": sorted(client_cpus or []),
            },
            "ledger": "SQLite in ACCORD_HOME, WAL, synchronous=FULL",
            "prompts": PROMPTS,
        },
        "cells": [],
    }
    try:
        upstream_port = free_port()
        upstream = subprocess.Popen(
            [sys.executable, "-m", "accord.testing.fake_upstream", "--port", str(upstream_port), "--no-log"],
            stdout=subprocess.DEVNULL,
            preexec_fn=pinned(client_cpus),
        )
        processes.append(upstream)
        wait_for_port(upstream_port, upstream)
        key = prepare_home(home, upstream_port)
        direct = Server("direct", upstream_port, upstream, {})

        cells: dict[tuple[bool, int], dict[str, Any]] = {}
        for name in targets:
            server = direct
            if name != "direct":
                server = start_server(name, home, server_cpus, key, processes)
                preflight(server)
            try:
                for stream in modes:
                    for concurrency in levels:
                        cell = cells.setdefault(
                            (stream, concurrency), {"stream": stream, "concurrency": concurrency}
                        )
                        cell[name] = run_cell(server, stream, concurrency, args, client_cpus)
            finally:
                if server is not direct:
                    stop(server.process)
        for cell in cells.values():
            if "direct" in cell:
                for name in ("gateway", "core"):
                    if name in cell:
                        cell[name]["added_p50_ms"] = (
                            cell[name]["median_p50_ms"] - cell["direct"]["median_p50_ms"]
                        )
            results["cells"].append(cell)
        results["machine"]["load_average_at_end"] = os.getloadavg()
        results["checks"] = checks(results["cells"])
        print_table(results)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2))
        print(f"wrote {args.out}")
    finally:
        for process in reversed(processes):
            stop(process)
        if args.keep:
            print(f"kept ACCORD_HOME at {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)


def checks(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for cell in cells:
        if "gateway" not in cell:
            continue
        gateway = cell["gateway"]
        mode = "stream" if cell["stream"] else "non-stream"
        if cell["concurrency"] == 16 and not cell["stream"]:
            for issue, target in (("issue 2", 1500), ("issue 4", 1300)):
                out.append(
                    {
                        "check": f"{issue}: gateway (protections on) >= {target} req/s, non-stream, c=16",
                        "best": gateway["best_rps"],
                        "median": gateway["median_rps"],
                        "met": gateway["median_rps"] >= target,
                    }
                )
        if cell["concurrency"] == 1 and "added_p50_ms" in gateway:
            out.append(
                {
                    "check": f"issue 2: <= 1 ms added p50 over direct, {mode}, c=1",
                    "median": gateway["added_p50_ms"],
                    "best": gateway["best_p50_ms"] - cell["direct"]["best_p50_ms"],
                    "met": gateway["added_p50_ms"] <= 1.0,
                }
            )
    return out


def print_table(results: dict[str, Any]) -> None:
    header = (
        f"{'mode':<7}{'conc':>5}  {'target':<8}{'req/s best':>11}{'median':>9}{'p50 ms':>8}{'median':>8}"
        f"{'p99 ms':>8}{'errors':>7}{'+p50 ms':>8}{'cpu ms/req':>11}"
    )
    print()
    print(header)
    print("-" * len(header))
    for cell in sorted(results["cells"], key=lambda c: (c["stream"], c["concurrency"])):
        mode = "stream" if cell["stream"] else "json"
        for name in TARGETS:
            if name not in cell:
                continue
            r = cell[name]
            added = f"{r['added_p50_ms']:>8.2f}" if "added_p50_ms" in r else f"{'':>8}"
            print(
                f"{mode:<7}{cell['concurrency']:>5}  {name:<8}{r['best_rps']:>11.0f}{r['median_rps']:>9.0f}"
                f"{r['best_p50_ms']:>8.2f}{r['median_p50_ms']:>8.2f}{r['median_p99_ms']:>8.2f}"
                f"{r['errors']:>7}{added}{r['median_server_cpu_ms_per_request']:>11.3f}"
            )
    print()
    for check in results["checks"]:
        verdict = "met" if check["met"] else "NOT met"
        print(f"{check['check']}: median {check['median']:.2f}, best {check['best']:.2f} -> {verdict}")
    pinned = results["settings"]["pinned"]
    where = "processes placed by the OS"
    if pinned["servers"]:
        clients = pinned["upstream_and_loadgen"]
        where = f"servers on CPU {pinned['servers']}, fake upstream + load generator on CPU {clients}"
    load = results["machine"]
    print(f"{where}; load average at start {load['load_average_at_start'][0]:.2f}, at end "
          f"{load['load_average_at_end'][0]:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()

"""Issue 5 acceptance, live: SIGKILL `accord serve` under load and lose no acknowledged decision.

Eight client threads send chat requests to an echo model through a real gateway process; when enough
answers have come back the server is killed with SIGKILL while requests are in flight. The gateway
is restarted on the same home (SQLite) or database (PostgreSQL), the ledger is exported and verified
by the overseer's commands, and every request id a client received with a ``200`` must have its leaf.
The number acknowledged before the kill is printed (run with ``-s`` to see it).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from accord.testing.fake_upstream import FakeUpstream
from tests.conftest import LiveGateway, launch_gateway, live_deployment
from tests.e2e.ledger_support import export_and_verify, request_leaves

pytestmark = pytest.mark.slow

THREADS = 8
KILL_AFTER = 400  # answers received before the kill; enough that the server is busy, not warming up
LOAD_DEADLINE = 180.0  # seconds to reach KILL_AFTER on a busy two-core machine


@dataclass
class Load:
    """What the clients saw: request ids answered with 200, and requests that failed in flight."""

    acknowledged: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    in_flight_failures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)


def client_loop(gateway: LiveGateway, worker: int, load: Load) -> None:
    """Send requests until the server dies (or the test says stop); record each 200 by request id."""
    headers = {"authorization": f"Bearer {gateway.keys['user']}"}
    with httpx.Client(base_url=gateway.base_url, headers=headers, timeout=30) as http:
        n = 0
        while not load.stop.is_set():
            text = f"Confirm delivery {worker}-{n} to depot seven."
            body = {"model": "fake-chat", "messages": [{"role": "user", "content": text}]}
            try:
                response = http.post("/chat/completions", json=body)
            except httpx.HTTPError:
                with load.lock:
                    load.in_flight_failures += 1
                return  # the server is gone
            with load.lock:
                if (
                    response.status_code == 200
                    and response.json()["choices"][0]["message"]["content"] == text
                ):
                    load.acknowledged.append(response.headers["x-request-id"])
                else:
                    load.unexpected.append(f"{response.status_code} {response.text[:200]}")
            n += 1


def load_then_kill(gateway: LiveGateway) -> Load:
    """Drive THREADS clients and SIGKILL the server once KILL_AFTER answers came back."""
    assert gateway.process is not None
    load = Load()
    workers = [
        threading.Thread(target=client_loop, args=(gateway, worker, load), daemon=True)
        for worker in range(THREADS)
    ]
    for worker in workers:
        worker.start()
    deadline = time.monotonic() + LOAD_DEADLINE
    try:
        while len(load.acknowledged) < KILL_AFTER and not load.unexpected:
            assert time.monotonic() < deadline, f"only {len(load.acknowledged)} answers in {LOAD_DEADLINE} s"
            assert all(w.is_alive() for w in workers), "a client stopped before the kill"
            time.sleep(0.01)
        os.kill(gateway.process.pid, signal.SIGKILL)
        gateway.process.wait(timeout=30)
    finally:
        load.stop.set()
        for worker in workers:
            worker.join(timeout=60)
    assert not load.unexpected, load.unexpected[:5]
    assert gateway.process.returncode == -signal.SIGKILL
    return load


def crash_and_recover(tmp_path: Path, extra_env: Mapping[str, str], label: str) -> None:
    home = tmp_path / "home"
    with FakeUpstream() as upstream:
        deployment = live_deployment(upstream.base_url)
        with launch_gateway(home, deployment, upstream=upstream, extra_env=extra_env) as gateway:
            load = load_then_kill(gateway)
        acknowledged = set(load.acknowledged)
        assert len(acknowledged) == len(load.acknowledged) >= KILL_AFTER
        # Killed mid-load: some clients had a request on the wire when the process died.
        assert load.in_flight_failures >= 1, "the kill did not interrupt any request"

        with launch_gateway(
            home, deployment, upstream=upstream, extra_env=extra_env, keys=gateway.keys
        ) as restarted:
            after = httpx.post(
                f"{restarted.base_url}/chat/completions",
                headers={"authorization": f"Bearer {restarted.keys['user']}"},
                json={"model": "fake-chat", "messages": [{"role": "user", "content": "Back up?"}]},
                timeout=30,
            )
            assert after.status_code == 200, after.text
            summary, entries = export_and_verify(home, tmp_path / "bundle", extra_env)

    leaves = request_leaves(entries)
    missing = acknowledged - set(leaves)
    assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged requests have no leaf"
    for request_id in acknowledged:
        (record,) = leaves[request_id]
        assert (record["decision"], record["outcome"]) == ("allow", "answered"), record
    assert after.headers["x-request-id"] in leaves
    starts = [e for e in entries if e.record["kind"] == "admin" and e.record["act"] == "gateway.start"]
    assert len(starts) == 2, "both the killed and the restarted process recorded their start"
    print(
        f"\n[{label}] {len(acknowledged)} requests acknowledged before SIGKILL, "
        f"{load.in_flight_failures} in flight; ledger after restart: {summary['entries']} entries, "
        f"all acknowledged present"
    )


def test_sigkill_under_load_loses_no_acknowledged_request_sqlite(tmp_path: Path) -> None:
    crash_and_recover(tmp_path, {}, "SQLite")


def test_sigkill_under_load_loses_no_acknowledged_request_postgres(tmp_path: Path, postgres_url: str) -> None:
    crash_and_recover(tmp_path, {"ACCORD_DATABASE_URL": postgres_url}, "PostgreSQL")

"""Issue 4 item 7, live: two `accord serve` replicas on one PostgreSQL database and one Redis (and,
as a second variant, without Redis: the database poll alone).

A kill switch engaged on replica A (global, per model, per nation, per organisation) makes replica B
refuse within one second of the engage call returning, while callers the switch does not concern are
still served; released on A, B serves again within a second. Both replicas append to one ledger,
which the overseer's `accord ledger export` / `verify` accept as one consistent log. The measured
delays are printed (run with ``-s``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from accord.testing.fake_upstream import FakeUpstream
from tests.conftest import LiveGateway, launch_gateway, live_deployment
from tests.e2e.ledger_support import export_and_verify, request_leaves

pytestmark = pytest.mark.slow

WITHIN = 1.0  # seconds: "effective within a second on every replica"
POLL_PAUSE = 0.02  # between probes, so the probes stay far below the rate limit


@dataclass(frozen=True)
class Case:
    scope: str
    target: str
    status: int
    blocked: tuple[str, str]  # (key, model) that the switch must stop
    spared: tuple[str, str] | None  # (key, model) it must not stop


CASES = [
    Case("global", "", 503, ("user", "fake-chat"), None),
    Case("model", "fake-chat", 503, ("user", "fake-chat"), ("user", "fake-cloud")),
    Case("nation", "USA", 403, ("user", "fake-chat"), ("deu_user", "fake-chat")),
    Case("organisation", "Army Materiel Command", 403, ("user", "fake-chat"), ("intel", "fake-chat")),
]


@dataclass
class Replicas:
    a: LiveGateway
    b: LiveGateway
    env: dict[str, str]
    label: str


@pytest.fixture(params=["redis", "database-poll"])
def replicas(request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str) -> Iterator[Replicas]:
    """Two gateway processes sharing the home (keys, deployment), the database and (first variant)
    Redis; the second variant has no Redis, so the replicas rely on polling the database alone."""
    env = {"ACCORD_DATABASE_URL": postgres_url}
    if request.param == "redis":
        env["ACCORD_REDIS_URL"] = request.getfixturevalue("redis_url")
    home = tmp_path / "home"
    with FakeUpstream() as upstream:
        deployment = live_deployment(upstream.base_url)
        with (
            launch_gateway(home, deployment, upstream=upstream, extra_env=env) as a,
            launch_gateway(home, deployment, upstream=upstream, extra_env=env, keys=a.keys) as b,
        ):
            assert a.base_url != b.base_url
            yield Replicas(a, b, env, str(request.param))


def ask(gateway: LiveGateway, key: str, model: str) -> httpx.Response:
    return httpx.post(
        f"{gateway.base_url}/chat/completions",
        headers={"authorization": f"Bearer {gateway.keys[key]}"},
        json={"model": model, "messages": [{"role": "user", "content": "Status of order 4471?"}]},
        timeout=30,
    )


def served(response: httpx.Response) -> bool:
    return response.status_code == 200 and bool(response.json()["choices"][0]["message"]["content"])


def operator(gateway: LiveGateway) -> httpx.Client:
    return httpx.Client(
        base_url=gateway.root, headers={"authorization": f"Bearer {gateway.keys['operator']}"}, timeout=30
    )


def first_within(
    probe: Iterator[httpx.Response], wanted: str, check: Callable[[httpx.Response], bool]
) -> tuple[float, httpx.Response]:
    """Probe until ``check`` holds; it must hold for a probe sent before WITHIN seconds are up."""
    started = time.monotonic()
    last: httpx.Response | None = None
    while time.monotonic() - started <= WITHIN:
        sent_at = time.monotonic() - started
        last = next(probe)
        if check(last):
            return sent_at, last
        time.sleep(POLL_PAUSE)
    detail = "no probe" if last is None else f"{last.status_code} {last.text[:200]}"
    pytest.fail(f"replica B did not {wanted} within {WITHIN} s; last answer: {detail}")


def probes(gateway: LiveGateway, key: str, model: str) -> Iterator[httpx.Response]:
    while True:
        yield ask(gateway, key, model)


def test_kill_switch_on_one_replica_stops_the_other_within_a_second(
    replicas: Replicas, tmp_path: Path
) -> None:
    a, b = replicas.a, replicas.b
    acknowledged: dict[str, str] = {}  # request id -> replica that answered it
    delays: list[str] = []
    with operator(a) as admin:
        for case in CASES:
            key, model = case.blocked
            before = ask(b, key, model)
            assert served(before), before.text
            acknowledged[before.headers["x-request-id"]] = "B"

            engaged = admin.post(
                "/admin/killswitches",
                json={"scope": case.scope, "target": case.target, "reason": f"replica drill {case.scope}"},
            )
            assert engaged.status_code == 201, engaged.text
            code = f"killswitch_{case.scope}"

            def refused(response: httpx.Response, code: str = code, status: int = case.status) -> bool:
                if response.status_code == 200:
                    return False
                assert response.status_code == status, response.text
                return bool(response.json()["error"]["code"] == code)

            on_after, refusal = first_within(probes(b, key, model), "refuse", refused)
            assert refusal.headers.get("x-should-retry") == "false"
            assert refused(ask(a, key, model)), "replica A, where it was engaged, does not refuse"
            if case.spared is not None:
                spared = ask(b, *case.spared)
                assert served(spared), (
                    f"{case.scope} switch stopped a caller it does not concern: {spared.text}"
                )
                acknowledged[spared.headers["x-request-id"]] = "B"

            released = admin.delete(f"/admin/killswitches/{engaged.json()['id']}")
            assert released.status_code == 200, released.text
            off_after, answer = first_within(probes(b, key, model), "serve again", served)
            acknowledged[answer.headers["x-request-id"]] = "B"
            again = ask(a, key, model)
            assert served(again), again.text
            acknowledged[again.headers["x-request-id"]] = "A"
            delays.append(f"{case.scope}: refused {on_after * 1000:.0f} ms, served {off_after * 1000:.0f} ms")

    # One ledger for both replicas: it verifies, and holds what each of them answered and decided.
    summary, entries = export_and_verify(a.home, tmp_path / "bundle", replicas.env)
    leaves = request_leaves(entries)
    assert set(acknowledged.values()) == {"A", "B"}
    for request_id, replica in acknowledged.items():
        assert request_id in leaves, f"replica {replica}'s answer {request_id} has no leaf"
    refusals = {c: sum(r[0]["codes"] == [f"killswitch_{c.scope}"] for r in leaves.values()) for c in CASES}
    assert all(count >= 2 for count in refusals.values()), refusals  # on B and on A
    acts = [(e.record["act"], e.record["target"]) for e in entries if e.record["kind"] == "admin"]
    for case in CASES:
        assert ("killswitch.engaged", f"{case.scope}:{case.target}") in acts
    assert sum(act == "killswitch.released" for act, _ in acts) == len(CASES)
    assert sum(act == "gateway.start" for act, _ in acts) == 2, "both replicas started on this ledger"
    seen, size = "; ".join(delays), summary["entries"]
    print(f"\n[{replicas.label}] switch engaged on A, seen on B after: {seen}; ledger {size} entries")

from __future__ import annotations

import asyncio
import hashlib
import hmac
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest
import sqlalchemy as sa

from accord.config import Settings
from accord.incidents.alerts import SIGNATURE_HEADER, AlertDispatcher, WebhookConfig
from accord.incidents.models import AlertRow
from accord.incidents.service import IncidentService
from accord.principal import Principal

from .fakes import FakeHit, FakeResult

SECRET = b"webhook-shared-secret"


@dataclass
class Receiver:
    """A webhook endpoint that fails with 500 a set number of times before accepting."""

    failures: int
    url: str = ""
    statuses: list[int] = field(default_factory=list)
    accepted: list[tuple[bytes, str | None]] = field(default_factory=list)
    delivered: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(failures=2)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            status = 500 if len(state.statuses) < state.failures else 200
            state.statuses.append(status)
            if status == 200:
                state.accepted.append((body, self.headers.get(SIGNATURE_HEADER)))
                state.delivered.set()
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/alerts"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


async def open_spill(service: IncidentService, user: Principal) -> str:
    incident = await service.open(
        request_id="req_alert",
        principal=user,
        route="/v1/chat/completions",
        model="m",
        direction="response",
        result=FakeResult("TOP SECRET", 4, "us", (FakeHit(0, 10, "TOP SECRET", level="TOP SECRET", rank=4),)),
        segments=[("choices[0].message.content", "TOP SECRET convoy leaves Tuesday at dawn")],
    )
    return incident.id


async def until_settled(engine: sa.Engine) -> None:
    """The worker records the delivery just after the receiver answers; wait for that write."""
    for _ in range(200):
        with engine.connect() as connection:
            if connection.execute(sa.select(AlertRow.status)).scalar_one() != "pending":
                return
        await asyncio.sleep(0.05)


async def test_alert_arrives_signed_after_webhook_failures(
    service: IncidentService, engine: sa.Engine, receiver: Receiver, user: Principal
) -> None:
    incident_id = await open_spill(service, user)
    dispatcher = AlertDispatcher(engine, WebhookConfig(receiver.url, SECRET), base_delay=0.05)
    worker = asyncio.create_task(dispatcher.run())
    try:
        assert await asyncio.to_thread(receiver.delivered.wait, 20)
        await until_settled(engine)
    finally:
        worker.cancel()

    assert receiver.statuses == [500, 500, 200]
    [(body, signature)] = receiver.accepted
    assert signature == "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    alert = orjson.loads(body)
    assert alert["incident_id"] == incident_id
    assert (alert["nation"], alert["organisation"], alert["direction"]) == ("DEU", "BMVg", "response")
    assert (alert["level"], alert["scheme"], alert["markings"]) == ("TOP SECRET", "us", ["TOP SECRET"])
    assert b"convoy" not in body
    with engine.connect() as connection:
        row = connection.execute(sa.select(AlertRow)).one()
    assert (row.status, row.attempts, row.last_error) == ("sent", 3, None)


async def test_pending_alert_survives_an_outage_and_a_restart(
    settings: Settings, service: IncidentService, engine: sa.Engine, receiver: Receiver, user: Principal
) -> None:
    await open_spill(service, user)
    # First process: the webhook is down (nothing listens on the port).
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as closed:
        dead_url = f"http://127.0.0.1:{closed.server_address[1]}/"
    down = AlertDispatcher(engine, WebhookConfig(dead_url, SECRET), base_delay=0.0)
    assert await down.deliver_due() == 1
    with engine.connect() as connection:
        row = connection.execute(sa.select(AlertRow)).one()
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "ConnectError")

    # A new dispatcher (as after a restart) delivers it once the webhook is back.
    receiver.failures = 0
    restarted = AlertDispatcher(engine, WebhookConfig(receiver.url, SECRET), base_delay=0.0)
    assert await restarted.deliver_due() == 1
    assert receiver.statuses == [200]
    with engine.connect() as connection:
        assert connection.execute(sa.select(AlertRow.status)).scalar_one() == "sent"


async def test_attempts_are_bounded(
    service: IncidentService, engine: sa.Engine, receiver: Receiver, user: Principal
) -> None:
    receiver.failures = 100
    await open_spill(service, user)
    dispatcher = AlertDispatcher(engine, WebhookConfig(receiver.url, None), max_attempts=2, base_delay=0.0)
    assert await dispatcher.deliver_due() == 1
    assert await dispatcher.deliver_due() == 1
    assert await dispatcher.deliver_due() == 0
    with engine.connect() as connection:
        row = connection.execute(sa.select(AlertRow)).one()
    assert (row.status, row.attempts, row.last_error) == ("failed", 2, "HTTP 500")
    assert receiver.statuses == [500, 500]


async def test_backoff_defers_the_next_attempt(
    service: IncidentService, engine: sa.Engine, receiver: Receiver, user: Principal
) -> None:
    await open_spill(service, user)
    dispatcher = AlertDispatcher(engine, WebhookConfig(receiver.url, None), base_delay=3600)
    assert await dispatcher.deliver_due() == 1
    # The retry is an hour away, so nothing is due now.
    assert await dispatcher.deliver_due() == 0
    assert receiver.statuses == [500]


def test_webhook_config_reads_the_environment() -> None:
    config = WebhookConfig.from_env(
        {"ACCORD_INCIDENT_WEBHOOK_URL": "https://soc.example/hook", "ACCORD_INCIDENT_WEBHOOK_SECRET": "s"}
    )
    assert config == WebhookConfig("https://soc.example/hook", b"s")
    assert WebhookConfig.from_env({}) == WebhookConfig(None, None)

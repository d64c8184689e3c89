"""Out-of-band spillage alerts (NIST SP 800-53 IR-9c): a webhook fed from a durable outbox.

The alert row is written in the same transaction as the incident, so an alert cannot be lost to a
crash or a webhook outage; a worker delivers due rows with exponential backoff and a bounded number
of attempts. Alerts carry metadata only, never the spilled text.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import httpx
import orjson
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from accord.incidents.models import AlertRow
from accord.incidents.records import Incident

logger = logging.getLogger("accord.incidents.alerts")

SIGNATURE_HEADER = "X-Accord-Signature"
URL_ENV = "ACCORD_INCIDENT_WEBHOOK_URL"
SECRET_ENV = "ACCORD_INCIDENT_WEBHOOK_SECRET"


class AlertStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


def alert_payload(incident: Incident) -> bytes:
    return orjson.dumps(
        {
            "type": "accord.incident.spillage",
            "incident_id": incident.id,
            "created_at": incident.created_at.isoformat(),
            "nation": incident.nation,
            "organisation": incident.organisation,
            "level": incident.level,
            "rank": incident.rank,
            "scheme": incident.scheme,
            "markings": sorted({hit.marking for hit in incident.hits}),
            "request_id": incident.request_id,
            "direction": incident.direction.value,
        },
        option=orjson.OPT_SORT_KEYS,
    )


def sign(secret: bytes, body: bytes) -> str:
    """The header value a receiver recomputes over the raw body to authenticate the alert."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    url: str | None
    secret: bytes | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WebhookConfig:
        env = os.environ if environ is None else environ
        secret = env.get(SECRET_ENV) or None
        return cls(url=env.get(URL_ENV) or None, secret=secret.encode() if secret else None)


@dataclass(frozen=True, slots=True)
class _Claimed:
    id: int
    payload: str
    attempts: int


class AlertDispatcher:
    """Delivers pending alerts; safe to run on several replicas (rows are leased before sending)."""

    def __init__(
        self,
        engine: Engine,
        config: WebhookConfig,
        *,
        max_attempts: int = 10,
        base_delay: float = 2.0,
        max_delay: float = 900.0,
        lease: float = 60.0,
        poll_interval: float = 30.0,
        timeout: float = 10.0,
        batch_size: int = 20,
    ) -> None:
        self._engine = engine
        self._config = config
        self._max_attempts = max_attempts
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._lease = timedelta(seconds=lease)
        self._poll_interval = poll_interval
        self._timeout = timeout
        self._batch_size = batch_size
        self._wake = asyncio.Event()
        self._warned_unconfigured = False

    def wake(self) -> None:
        """Called after an incident commits so its alert goes out now rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        """Deliver until cancelled; an error in one round is logged and retried at the next."""
        while True:
            self._wake.clear()
            try:
                await self.deliver_due()
            except Exception as exc:
                logger.error("incident alert delivery round failed: %s", type(exc).__name__)
            if self._config.url is None:  # nothing can be delivered: do not spin on the queued alerts
                wait = self._poll_interval
            else:
                try:
                    wait = await asyncio.to_thread(self._next_wait)
                except Exception as exc:
                    logger.error("incident alert outbox unreadable: %s", type(exc).__name__)
                    wait = self._poll_interval
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)

    async def deliver_due(self) -> int:
        """Attempt every alert that is due now; returns how many were attempted."""
        if self._config.url is None:
            if not self._warned_unconfigured:  # once per process: the alerts stay queued until it is set
                logger.warning("incident alerts are queued but %s is not set", URL_ENV)
                self._warned_unconfigured = True
            return 0
        claimed = await asyncio.to_thread(self._claim_due)
        if not claimed:
            return 0
        async with httpx.AsyncClient(timeout=self._timeout) as client:
            for alert in claimed:
                error = await self._post(client, self._config.url, alert.payload.encode())
                await asyncio.to_thread(self._settle, alert, error)
        return len(claimed)

    async def _post(self, client: httpx.AsyncClient, url: str, body: bytes) -> str | None:
        headers = {"Content-Type": "application/json"}
        if self._config.secret is not None:
            headers[SIGNATURE_HEADER] = sign(self._config.secret, body)
        try:
            response = await client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return type(exc).__name__
        if response.is_success:
            return None
        return f"HTTP {response.status_code}"

    def _claim_due(self) -> list[_Claimed]:
        now = _now()
        with Session(self._engine) as session, session.begin():
            rows = session.scalars(
                select(AlertRow)
                .where(AlertRow.status == AlertStatus.PENDING, AlertRow.next_attempt_at <= now)
                .order_by(AlertRow.next_attempt_at)
                .limit(self._batch_size)
                .with_for_update(skip_locked=True)
            ).all()
            claimed = []
            for row in rows:
                row.attempts += 1
                row.next_attempt_at = now + self._lease
                claimed.append(_Claimed(id=row.id, payload=row.payload, attempts=row.attempts))
            return claimed

    def _settle(self, alert: _Claimed, error: str | None) -> None:
        now = _now()
        with Session(self._engine) as session, session.begin():
            row = session.get_one(AlertRow, alert.id)
            row.last_error = error
            if error is None:
                row.status = AlertStatus.SENT
                row.sent_at = now
            elif alert.attempts >= self._max_attempts:
                row.status = AlertStatus.FAILED
                logger.error("incident alert %s failed after %s attempts", alert.id, alert.attempts)
            else:
                delay = min(self._base_delay * 2 ** (alert.attempts - 1), self._max_delay)
                row.next_attempt_at = now + timedelta(seconds=delay)

    def _next_wait(self) -> float:
        with Session(self._engine) as session:
            due = session.scalar(
                select(AlertRow.next_attempt_at)
                .where(AlertRow.status == AlertStatus.PENDING)
                .order_by(AlertRow.next_attempt_at)
                .limit(1)
            )
        if due is None:
            return self._poll_interval
        seconds = (_as_utc(due) - _now()).total_seconds()
        return max(0.0, min(seconds, self._poll_interval))


def _now() -> datetime:
    return datetime.now(UTC)


def _as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

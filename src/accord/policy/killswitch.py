"""Kill switches: an operator stops all traffic, one model, one nation or one organisation.

The hot path reads an in-memory snapshot. Every replica refreshes it when a version counter in the
database moves (polled every 250 ms) and, when Redis is configured, as soon as a message arrives on
``accord:killswitch``, so a switch takes effect everywhere within a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from accord.audit import AdminAudit
from accord.policy.tables import KillSwitchRow, KillSwitchVersion
from accord.principal import Principal

logger = logging.getLogger(__name__)
Scope = Literal["global", "model", "nation", "organisation"]
SCOPES: tuple[Scope, ...] = ("global", "model", "nation", "organisation")
CHANNEL = "accord:killswitch"
HTTP_STATUS: dict[str, int] = {"global": 503, "model": 503, "nation": 403, "organisation": 403}


class KillSwitchError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class KillSwitch:
    id: str
    scope: Scope
    target: str
    reason: str
    engaged_by: str | None
    engaged_at: datetime

    @property
    def code(self) -> str:
        return f"killswitch_{self.scope}"

    @property
    def message(self) -> str:
        where = "all traffic" if self.scope == "global" else f"{self.scope} {self.target}"
        return f"An operator has switched off {where}: {self.reason}"

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.scope]

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "scope": self.scope,
            "target": self.target,
            "reason": self.reason,
            "engaged_by": self.engaged_by,
            "engaged_at": self.engaged_at.isoformat(),
            "code": self.code,
        }


class KillSwitchBoard:
    def __init__(self, engine: Engine, audit: AdminAudit, redis_url: str | None = None) -> None:
        self._engine = engine
        self._audit = audit
        self._redis_url = redis_url
        self._by_key: dict[tuple[str, str], KillSwitch] = {}
        self._version = -1
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Load the snapshot (raises if the database is unreachable) and keep it current in the background."""
        await asyncio.to_thread(self.refresh)
        self._task = asyncio.create_task(self.run(), name="killswitch-refresh")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def blocked(self, principal: Principal, model: str) -> KillSwitch | None:
        """In-memory only: safe on the hot path."""
        snapshot = self._by_key
        for key in (
            ("global", ""),
            ("nation", principal.nation),
            ("organisation", principal.organisation),
            ("model", model),
        ):
            found = snapshot.get(key)
            if found is not None:
                return found
        return None

    def active(self) -> list[KillSwitch]:
        return sorted(self._by_key.values(), key=lambda s: s.engaged_at)

    def refresh(self) -> bool:
        """Reload the snapshot if the version counter moved; returns whether it did."""
        with Session(self._engine) as session:
            version = session.scalar(select(KillSwitchVersion.version).where(KillSwitchVersion.id == 1)) or 0
            if version == self._version:
                return False
            rows = session.scalars(select(KillSwitchRow).where(KillSwitchRow.active.is_(True))).all()
        self._by_key = {(r.scope, r.target): _switch(r) for r in rows}
        self._version = version
        return True

    def engage_sync(self, scope: str, target: str, reason: str, actor: Principal | None) -> KillSwitch:
        if scope not in SCOPES:
            raise KillSwitchError(f"scope must be one of {', '.join(SCOPES)}")
        target = "" if scope == "global" else target.strip()
        if scope != "global" and not target:
            raise KillSwitchError(f"a {scope} kill switch needs a target")
        row = KillSwitchRow(
            id="ks_" + secrets.token_hex(8),
            scope=scope,
            target=target,
            reason=reason,
            engaged_by=actor.id if actor else None,
            engaged_at=datetime.now(UTC),
            active=True,
        )
        with Session(self._engine) as session, session.begin():
            session.add(row)
            _bump(session)
            switch = _switch(row)
        self._publish()
        self.refresh()
        return switch

    def release_sync(self, switch_id: str, actor: Principal | None) -> KillSwitch:
        with Session(self._engine) as session, session.begin():
            row = session.get(KillSwitchRow, switch_id)
            if row is None or not row.active:
                raise KillSwitchError(f"no engaged kill switch {switch_id}")
            row.active = False
            row.released_by = actor.id if actor else None
            row.released_at = datetime.now(UTC)
            _bump(session)
            switch = _switch(row)
        self._publish()
        self.refresh()
        return switch

    async def engage(self, scope: str, target: str, reason: str, actor: Principal | None) -> KillSwitch:
        """Audited before it is engaged: if the record fails, the switch is not changed."""
        await self._audit.record_admin_act(
            actor, "killswitch.engaged", f"{scope}:{target}", {"reason": reason}
        )
        return await asyncio.to_thread(self.engage_sync, scope, target, reason, actor)

    async def release(self, switch_id: str, actor: Principal | None) -> KillSwitch:
        # The record names what is released (scope, target), not only the id, so a reader of the
        # ledger (a tenant's transparency report) can tell whom the release concerns.
        row = await asyncio.to_thread(self._row, switch_id)
        details: dict[str, object] = {} if row is None else {"scope": row.scope, "target": row.target}
        if row is not None and row.scope == "nation":
            details["nation"] = row.target
        await self._audit.record_admin_act(actor, "killswitch.released", switch_id, details)
        return await asyncio.to_thread(self.release_sync, switch_id, actor)

    def _row(self, switch_id: str) -> KillSwitchRow | None:
        with Session(self._engine, expire_on_commit=False) as session:
            return session.get(KillSwitchRow, switch_id)

    def _publish(self) -> None:
        if not self._redis_url:
            return
        import redis

        try:
            client = redis.Redis.from_url(self._redis_url)
            client.publish(CHANNEL, b"changed")
            client.close()
        except redis.RedisError as exc:
            logger.warning("kill switch notification not published, replicas rely on polling: %s", exc)

    async def run(self, poll_interval: float = 0.25) -> None:
        """Keep the snapshot current: DB poll plus Redis pub/sub; run as an asyncio task, cancel to stop."""
        await asyncio.to_thread(self.refresh)
        listener = asyncio.create_task(self._listen()) if self._redis_url else None
        try:
            while True:
                await asyncio.sleep(poll_interval)
                try:
                    await asyncio.to_thread(self.refresh)
                except Exception as exc:
                    logger.warning("kill switch refresh failed: %s", type(exc).__name__)
        finally:
            if listener is not None:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener

    async def _listen(self) -> None:
        import redis.asyncio as aioredis

        assert self._redis_url is not None
        while True:
            try:
                client = aioredis.Redis.from_url(self._redis_url)
                pubsub = client.pubsub()
                await pubsub.subscribe(CHANNEL)
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        await asyncio.to_thread(self.refresh)
            except aioredis.RedisError as exc:
                logger.warning("kill switch subscription lost, retrying: %s", exc)
                await asyncio.sleep(1.0)


def _bump(session: Session) -> None:
    updated = session.execute(
        update(KillSwitchVersion)
        .where(KillSwitchVersion.id == 1)
        .values(version=KillSwitchVersion.version + 1)
    )
    if updated.rowcount == 0:  # type: ignore[attr-defined]
        session.add(KillSwitchVersion(id=1, version=1))


def _switch(row: KillSwitchRow) -> KillSwitch:
    scope: Scope = row.scope  # type: ignore[assignment]
    return KillSwitch(row.id, scope, row.target, row.reason, row.engaged_by, row.engaged_at)

"""Recording and handling spillage incidents (NIST SP 800-53 IR-9, CNSSI 1001).

`open` is called by the gateway before it answers 403, and returns only once the incident, its
sealed text and its alert are committed together; any failure raises `IncidentError` so the gateway
refuses the request. Everything else is for security officers, and every act that reveals or
destroys something is recorded through `AdminAudit` before it takes effect.
"""

from __future__ import annotations

import asyncio
import base64
import builtins
import contextlib
import dataclasses
import os
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import ParamSpec, TypeVar

import orjson
from cryptography.hazmat.primitives.asymmetric import x25519
from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from accord.audit import AdminAudit
from accord.config import Settings
from accord.incidents import quarantine
from accord.incidents.alerts import AlertDispatcher, AlertStatus, alert_payload
from accord.incidents.errors import (
    IncidentAccessDenied,
    IncidentError,
    IncidentInputError,
    IncidentKeyMismatch,
    IncidentNotFound,
    IncidentStateError,
)
from accord.incidents.message import spillage_message
from accord.incidents.models import AlertRow, IncidentNoteRow, IncidentRow, QuarantineRow
from accord.incidents.records import (
    Classification,
    Direction,
    HitLocation,
    Incident,
    IncidentNote,
    IncidentStatus,
    MarkingHit,
    QuarantinedText,
)
from accord.inspect.text import Segment, TextView
from accord.principal import Principal, Role

__all__ = ["IncidentService", "new_incident_id", "spillage_message"]

MAX_NOTE_LENGTH = 10_000
DECRYPT_KEY_ENV = "ACCORD_INCIDENT_DECRYPT_KEY"
DECRYPT_PASSPHRASE_ENV = "ACCORD_INCIDENT_DECRYPT_KEY_PASSPHRASE"

P = ParamSpec("P")
T = TypeVar("T")


def new_incident_id() -> str:
    """128 random bits in lower-case base32: unguessable, and easy to read out over the phone."""
    return "inc_" + base64.b32encode(secrets.token_bytes(16)).decode().rstrip("=").lower()


class IncidentService:
    def __init__(
        self,
        engine: Engine,
        audit: AdminAudit,
        *,
        public_key: x25519.X25519PublicKey,
        hash_key: bytes,
        alerts: AlertDispatcher | None = None,
        server_private_key: x25519.X25519PrivateKey | None = None,
    ) -> None:
        self._engine = engine
        self.server_private_key = server_private_key
        self._audit = audit
        self._public_key = public_key
        self._key_id = quarantine.key_id(public_key)
        self._hash_key = hash_key
        self._alerts = alerts

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        engine: Engine,
        audit: AdminAudit,
        *,
        alerts: AlertDispatcher | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> IncidentService:
        """Build from keys_dir; raises `QuarantineKeyError` when the quarantine keys are missing.

        The private key is loaded only when the deployment sets ``ACCORD_INCIDENT_DECRYPT_KEY``,
        which lets security officers decrypt through the HTTP API on this server.
        """
        env = os.environ if environ is None else environ
        private_key = None
        if env.get(DECRYPT_KEY_ENV):
            passphrase = env.get(DECRYPT_PASSPHRASE_ENV)
            private_key = quarantine.load_private_key(
                Path(env[DECRYPT_KEY_ENV]), passphrase.encode() if passphrase else None
            )
        return cls(
            engine,
            audit,
            public_key=quarantine.load_public_key(settings.keys_dir / quarantine.PUBLIC_KEY_FILE),
            hash_key=quarantine.load_hash_key(settings),
            alerts=alerts,
            server_private_key=private_key,
        )

    async def open(
        self,
        *,
        request_id: str,
        principal: Principal,
        route: str,
        model: str | None,
        direction: Direction | str,
        result: Classification,
        segments: Sequence[tuple[str, str]],
    ) -> Incident:
        """Quarantine the text and record the incident; durable when this returns.

        `segments` are the (path, text) pieces the scanner saw, in order: the hits' offsets are
        taken to be into their texts joined by blank lines, as `TextView.joined` does.
        """
        try:
            content_hash = quarantine.content_hash(self._hash_key, _joined(segments))
            incident = _new_incident(
                request_id, principal, route, model, Direction(direction), result, segments, content_hash
            )
            incident = dataclasses.replace(incident, quarantine_key_id=self._key_id)
            plaintext = orjson.dumps({"segments": [{"path": path, "text": text} for path, text in segments]})
            sealed = quarantine.seal(self._public_key, incident.id, plaintext)
            await asyncio.to_thread(self._insert, incident, sealed)
        except IncidentError:
            raise
        except Exception as exc:
            raise IncidentError(f"could not record spillage incident ({type(exc).__name__})") from exc
        if self._alerts is not None:
            self._alerts.wake()
        return incident

    async def list(
        self,
        actor: Principal,
        *,
        status: IncidentStatus | str | None = None,
        since: datetime | None = None,
        limit: int = 200,
    ) -> builtins.list[Incident]:
        _require_officer(actor)
        try:
            wanted = IncidentStatus(status) if status else None
        except ValueError:
            raise IncidentInputError(f"unknown incident status {status!r}") from None
        return await self._run(self._select, wanted, since, limit)

    async def get(self, incident_id: str, actor: Principal) -> Incident:
        _require_officer(actor)
        return await self._run(self._load, incident_id)

    async def decrypt(
        self, incident_id: str, private_key: x25519.X25519PrivateKey, actor: Principal
    ) -> QuarantinedText:
        _require_officer(actor)
        key_id, sealed = await self._run(self._load_sealed, incident_id)
        await self._record(actor, "incident.decrypt", incident_id, {"key_id": key_id})
        try:
            plaintext = quarantine.unseal(private_key, incident_id, sealed)
        except quarantine.UnsealError as exc:
            raise IncidentKeyMismatch(str(exc)) from None
        await self._run(self._mark_investigating, incident_id)
        data = orjson.loads(plaintext)
        return QuarantinedText(
            incident_id=incident_id,
            segments=tuple(Segment(path=item["path"], text=item["text"]) for item in data["segments"]),
        )

    async def annotate(self, incident_id: str, actor: Principal, text: str) -> Incident:
        _require_officer(actor)
        text = text.strip()
        if not text or len(text) > MAX_NOTE_LENGTH:
            raise IncidentInputError(f"a note must have 1 to {MAX_NOTE_LENGTH} characters")
        await self._run(self._load, incident_id)
        await self._record(actor, "incident.annotate", incident_id, {"length": len(text)})
        await self._run(self._insert_note, incident_id, actor.id, text)
        return await self._run(self._load, incident_id)

    async def close(self, incident_id: str, actor: Principal, resolution: str) -> Incident:
        _require_officer(actor)
        resolution = resolution.strip()
        if not resolution or len(resolution) > MAX_NOTE_LENGTH:
            raise IncidentInputError(f"a resolution must have 1 to {MAX_NOTE_LENGTH} characters")
        incident = await self._run(self._load, incident_id)
        if incident.status in (IncidentStatus.CLOSED, IncidentStatus.PURGED):
            raise IncidentStateError(f"incident {incident_id} is already {incident.status.value}")
        await self._record(actor, "incident.close", incident_id, {"previous_status": incident.status.value})
        await self._run(self._set_closed, incident_id, actor.id, resolution)
        return await self._run(self._load, incident_id)

    async def purge(self, incident_id: str, actor: Principal) -> Incident:
        """Destroy the sealed text (overwritten, then deleted); the metadata record stays."""
        _require_officer(actor)
        incident = await self._run(self._load, incident_id)
        if incident.status is IncidentStatus.PURGED:
            raise IncidentStateError(f"incident {incident_id} is already purged")
        await self._record(actor, "incident.purge", incident_id, {"previous_status": incident.status.value})
        await self._run(self._destroy_sealed, incident_id, actor.id)
        return await self._run(self._load, incident_id)

    async def _record(self, actor: Principal, act: str, target: str, details: Mapping[str, object]) -> None:
        try:
            await self._audit.record_admin_act(actor, act, target, details)
        except Exception as exc:
            raise IncidentError(f"could not record {act} in the audit ledger; nothing was done") from exc

    async def _run(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await asyncio.to_thread(function, *args, **kwargs)
        except IncidentError:
            raise
        except SQLAlchemyError as exc:
            raise IncidentError(f"incident store failed ({type(exc).__name__})") from exc

    def _insert(self, incident: Incident, sealed: bytes) -> None:
        with self._engine.connect() as connection, _fully_synchronous(connection):
            with Session(bind=connection) as session, session.begin():
                self._add_incident(session, incident, sealed)
            connection.commit()

    def _add_incident(self, session: Session, incident: Incident, sealed: bytes) -> None:
        session.add(_row_from(incident))
        session.flush()  # the parent row first: its children reference it by foreign key
        session.add(QuarantineRow(incident_id=incident.id, key_id=self._key_id, sealed=sealed))
        session.add(
            AlertRow(
                incident_id=incident.id,
                created_at=incident.created_at,
                payload=alert_payload(incident).decode(),
                status=AlertStatus.PENDING,
                attempts=0,
                next_attempt_at=incident.created_at,
            )
        )

    def _select(
        self, status: IncidentStatus | None, since: datetime | None, limit: int
    ) -> builtins.list[Incident]:
        query = select(IncidentRow).order_by(IncidentRow.created_at.desc()).limit(limit)
        if status is not None:
            query = query.where(IncidentRow.status == status.value)
        if since is not None:
            query = query.where(IncidentRow.created_at >= since.astimezone(UTC))
        with Session(self._engine) as session:
            rows = session.scalars(query).all()
            sealed = select(QuarantineRow.incident_id, QuarantineRow.key_id).where(
                QuarantineRow.incident_id.in_([row.id for row in rows])
            )
            key_ids = {incident_id: key_id for incident_id, key_id in session.execute(sealed)}
            return [_incident_from(row, key_ids.get(row.id), ()) for row in rows]

    def _load(self, incident_id: str) -> Incident:
        with Session(self._engine) as session:
            row = session.get(IncidentRow, incident_id)
            if row is None:
                raise IncidentNotFound(incident_id)
            key_id = session.scalar(
                select(QuarantineRow.key_id).where(QuarantineRow.incident_id == incident_id)
            )
            notes = session.scalars(
                select(IncidentNoteRow)
                .where(IncidentNoteRow.incident_id == incident_id)
                .order_by(IncidentNoteRow.created_at, IncidentNoteRow.id)
            ).all()
            return _incident_from(
                row,
                key_id,
                tuple(IncidentNote(note.author_id, _as_utc(note.created_at), note.text) for note in notes),
            )

    def _load_sealed(self, incident_id: str) -> tuple[str, bytes]:
        with Session(self._engine) as session:
            status = session.scalar(select(IncidentRow.status).where(IncidentRow.id == incident_id))
            if status is None:
                raise IncidentNotFound(incident_id)
            blob = session.get(QuarantineRow, incident_id)
            if blob is None:
                raise IncidentStateError(f"incident {incident_id} has no quarantined text (status {status})")
            return blob.key_id, blob.sealed

    def _mark_investigating(self, incident_id: str) -> None:
        with Session(self._engine) as session, session.begin():
            session.execute(
                update(IncidentRow)
                .where(IncidentRow.id == incident_id, IncidentRow.status == IncidentStatus.OPEN.value)
                .values(status=IncidentStatus.INVESTIGATING.value, updated_at=_now())
            )

    def _insert_note(self, incident_id: str, author_id: str, text: str) -> None:
        now = _now()
        with Session(self._engine) as session, session.begin():
            session.add(
                IncidentNoteRow(incident_id=incident_id, created_at=now, author_id=author_id, text=text)
            )
            session.execute(
                update(IncidentRow)
                .where(IncidentRow.id == incident_id, IncidentRow.status == IncidentStatus.OPEN.value)
                .values(status=IncidentStatus.INVESTIGATING.value)
            )
            session.execute(update(IncidentRow).where(IncidentRow.id == incident_id).values(updated_at=now))

    def _set_closed(self, incident_id: str, actor_id: str, resolution: str) -> None:
        now = _now()
        with Session(self._engine) as session, session.begin():
            session.execute(
                update(IncidentRow)
                .where(IncidentRow.id == incident_id)
                .values(
                    status=IncidentStatus.CLOSED.value,
                    resolution=resolution,
                    closed_at=now,
                    closed_by=actor_id,
                    updated_at=now,
                )
            )

    def _destroy_sealed(self, incident_id: str, actor_id: str) -> None:
        now = _now()
        sqlite = self._engine.dialect.name == "sqlite"
        with Session(self._engine) as session, session.begin():
            if sqlite:
                # Zero freed pages so the deleted blob does not linger in the database file.
                session.connection().exec_driver_sql("PRAGMA secure_delete = ON")
            blob = session.get(QuarantineRow, incident_id)
            if blob is not None:
                blob.sealed = bytes(len(blob.sealed))
                session.flush()
                session.delete(blob)
            session.execute(
                update(IncidentRow)
                .where(IncidentRow.id == incident_id)
                .values(status=IncidentStatus.PURGED.value, purged_at=now, purged_by=actor_id, updated_at=now)
            )
        if sqlite:
            # In WAL mode the old page images stay in the -wal file until a checkpoint truncates it.
            with self._engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


@contextlib.contextmanager
def _fully_synchronous(connection: Connection) -> Iterator[None]:
    """On SQLite, sync the commit to disk even where the engine runs WAL with synchronous=NORMAL.

    NORMAL can lose the last commits on power loss; an incident must be durable once `open`
    returns. The connection's previous setting is restored before it goes back to the pool.
    """
    if connection.dialect.name != "sqlite":
        yield
        return
    previous = int(connection.exec_driver_sql("PRAGMA synchronous").scalar_one())
    connection.exec_driver_sql("PRAGMA synchronous = FULL")
    connection.commit()
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA synchronous = {previous}")
        connection.commit()


def _require_officer(actor: Principal) -> None:
    if not actor.has_role(Role.SECURITY_OFFICER):
        raise IncidentAccessDenied(f"principal {actor.id} is not a security officer")


def _new_incident(
    request_id: str,
    principal: Principal,
    route: str,
    model: str | None,
    direction: Direction,
    result: Classification,
    segments: Sequence[tuple[str, str]],
    content_hash: str,
) -> Incident:
    if not segments:
        raise IncidentError("a spillage incident needs the text that carried the marking")
    hits = tuple(_locate(hit, segments) for hit in result.hits)
    top = max(hits, key=lambda hit: hit.rank, default=None)
    return Incident(
        id=new_incident_id(),
        created_at=_now(),
        request_id=request_id,
        principal_id=principal.id,
        nation=principal.nation,
        organisation=principal.organisation,
        agency_kind=principal.agency_kind.value,
        route=route,
        model=model,
        direction=direction,
        marking=top.marking if top is not None else str(result.level),
        level=str(result.level),
        rank=int(result.rank),
        scheme=str(result.scheme),
        hits=hits,
        content_hash=content_hash,
        status=IncidentStatus.OPEN,
    )


def _locate(hit: MarkingHit, segments: Sequence[tuple[str, str]]) -> HitLocation:
    view = TextView(tuple(Segment(path=path, text=text) for path, text in segments))
    path: str | None
    try:
        path, start = view.locate(int(hit.start))
        end = start + int(hit.end) - int(hit.start)
    except ValueError:
        path, start, end = None, int(hit.start), int(hit.end)
    evasion = hit.evasion if isinstance(hit.evasion, str | bool) or hit.evasion is None else str(hit.evasion)
    return HitLocation(
        path=path,
        start=start,
        end=end,
        marking=str(hit.marking),
        scheme=str(hit.scheme),
        level=str(hit.level),
        rank=int(hit.rank),
        kind=str(hit.kind),
        evasion=evasion,
    )


def _joined(segments: Sequence[tuple[str, str]]) -> str:
    return "\n\n".join(text for _, text in segments)


def _row_from(incident: Incident) -> IncidentRow:
    return IncidentRow(
        id=incident.id,
        created_at=incident.created_at,
        updated_at=incident.created_at,
        request_id=incident.request_id,
        principal_id=incident.principal_id,
        nation=incident.nation,
        organisation=incident.organisation,
        agency_kind=incident.agency_kind,
        route=incident.route,
        model=incident.model,
        direction=incident.direction.value,
        marking=incident.marking,
        level=incident.level,
        rank=incident.rank,
        scheme=incident.scheme,
        hits=[hit.to_json() for hit in incident.hits],
        content_hash=incident.content_hash,
        status=incident.status.value,
    )


def _incident_from(row: IncidentRow, key_id: str | None, notes: tuple[IncidentNote, ...]) -> Incident:
    return Incident(
        id=row.id,
        created_at=_as_utc(row.created_at),
        request_id=row.request_id,
        principal_id=row.principal_id,
        nation=row.nation,
        organisation=row.organisation,
        agency_kind=row.agency_kind,
        route=row.route,
        model=row.model,
        direction=Direction(row.direction),
        marking=row.marking,
        level=row.level,
        rank=row.rank,
        scheme=row.scheme,
        hits=tuple(HitLocation.from_json(hit) for hit in row.hits),
        content_hash=row.content_hash,
        status=IncidentStatus(row.status),
        resolution=row.resolution,
        closed_at=_as_utc(row.closed_at) if row.closed_at else None,
        closed_by=row.closed_by,
        purged_at=_as_utc(row.purged_at) if row.purged_at else None,
        purged_by=row.purged_by,
        quarantine_key_id=key_id,
        notes=notes,
    )


def _now() -> datetime:
    return datetime.now(UTC)


def _as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

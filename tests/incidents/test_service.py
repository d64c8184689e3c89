from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import x25519

from accord.audit import MemoryAudit
from accord.config import Settings
from accord.incidents.errors import (
    IncidentAccessDenied,
    IncidentError,
    IncidentKeyMismatch,
    IncidentNotFound,
    IncidentStateError,
)
from accord.incidents.models import AlertRow, QuarantineRow
from accord.incidents.quarantine import PRIVATE_KEY_FILE, ensure_quarantine_keys, load_private_key
from accord.incidents.records import Direction, Incident, IncidentStatus
from accord.incidents.service import IncidentService
from accord.principal import Principal
from accord.store.database import create_engine_for

from .fakes import FakeHit, FakeResult, apply_incident_migration

SPILLED = "SECRET//NOFORN\nOperation GLASS HERON moves at 0400 from grid 38SMB4484."
SEGMENTS = [("messages[0].content", "hello there"), ("messages[1].content", SPILLED)]
RESULT = FakeResult(
    level="SECRET",
    rank=3,
    scheme="us",
    hits=(FakeHit(start=13, end=27, marking="SECRET//NOFORN"),),
)


async def open_spill(service: IncidentService, user: Principal) -> Incident:
    return await service.open(
        request_id="req_123",
        principal=user,
        route="/v1/chat/completions",
        model="llama-3-8b",
        direction="request",
        result=RESULT,
        segments=SEGMENTS,
    )


def _database_bytes(settings: Settings) -> bytes:
    """The SQLite file and its write-ahead log, wherever a page image could be."""
    files = [Path(settings.home) / name for name in ("accord.db", "accord.db-wal", "accord.db-journal")]
    data = b"".join(path.read_bytes() for path in files if path.exists())
    assert len(data) > 0
    return data


def private_key(settings: Settings) -> x25519.X25519PrivateKey:
    return load_private_key(settings.keys_dir / PRIVATE_KEY_FILE)


async def test_open_records_metadata_and_hit_locations(
    service: IncidentService, user: Principal, officer: Principal
) -> None:
    incident = await open_spill(service, user)
    assert incident.id.startswith("inc_") and len(incident.id) == 30

    stored = await service.get(incident.id, officer)
    assert stored.status is IncidentStatus.OPEN
    assert (stored.nation, stored.organisation, stored.agency_kind) == ("DEU", "BMVg", "military")
    assert (stored.level, stored.rank, stored.scheme, stored.marking) == ("SECRET", 3, "us", "SECRET//NOFORN")
    assert stored.direction is Direction.REQUEST
    assert stored.quarantine_key_id is not None
    [hit] = stored.hits
    # The offset into the joined view maps back to the second message.
    assert (hit.path, hit.start, hit.end) == ("messages[1].content", 0, 14)
    assert SPILLED[hit.start : hit.end] == "SECRET//NOFORN"
    assert "GLASS HERON" not in str(stored.to_json())


async def test_plaintext_never_reaches_the_database_file(
    settings: Settings, audit: MemoryAudit, user: Principal, officer: Principal
) -> None:
    engine = create_engine_for(settings.database_url)
    apply_incident_migration(engine)
    service = IncidentService.from_settings(settings, engine, audit, environ={})
    await open_spill(service, user)

    database = _database_bytes(settings)
    engine.dispose()
    assert b"GLASS HERON" not in database
    assert b"38SMB4484" not in database
    assert "GLASS HERON".encode("utf-16-le") not in database


async def test_decrypt_needs_the_right_private_key(
    service: IncidentService, settings: Settings, user: Principal, officer: Principal
) -> None:
    incident = await open_spill(service, user)

    text = await service.decrypt(incident.id, private_key(settings), officer)
    assert [(segment.path, segment.text) for segment in text.segments] == SEGMENTS
    assert (await service.get(incident.id, officer)).status is IncidentStatus.INVESTIGATING

    with pytest.raises(IncidentKeyMismatch, match="wrong private key"):
        await service.decrypt(incident.id, x25519.X25519PrivateKey.generate(), officer)


async def test_decrypt_is_audited_before_plaintext_is_returned(
    service: IncidentService, settings: Settings, audit: MemoryAudit, user: Principal, officer: Principal
) -> None:
    incident = await open_spill(service, user)
    await service.decrypt(incident.id, private_key(settings), officer)
    assert audit.acts[-1][:3] == ("so-1", "incident.decrypt", incident.id)
    assert "GLASS HERON" not in str(audit.acts)


class RefusingAudit:
    def __init__(self) -> None:
        self.calls = 0

    async def record_admin_act(
        self, actor: Principal | None, act: str, target: str, details: Mapping[str, object]
    ) -> None:
        self.calls += 1
        raise ConnectionError("ledger unavailable")


async def test_decrypt_fails_when_the_audit_cannot_record(
    settings: Settings, engine: sa.Engine, user: Principal, officer: Principal
) -> None:
    refusing = RefusingAudit()
    service = IncidentService.from_settings(settings, engine, refusing, environ={})
    incident = await open_spill(service, user)
    with pytest.raises(IncidentError, match="audit ledger"):
        await service.decrypt(incident.id, private_key(settings), officer)
    assert refusing.calls == 1
    # Nothing was revealed, so the incident was not marked as being read either.
    assert (await service.get(incident.id, officer)).status is IncidentStatus.OPEN


async def test_only_security_officers_may_act(
    service: IncidentService, settings: Settings, user: Principal, audit: MemoryAudit
) -> None:
    incident = await open_spill(service, user)
    with pytest.raises(IncidentAccessDenied):
        await service.decrypt(incident.id, private_key(settings), user)
    with pytest.raises(IncidentAccessDenied):
        await service.list(user)
    with pytest.raises(IncidentAccessDenied):
        await service.get(incident.id, user)
    with pytest.raises(IncidentAccessDenied):
        await service.annotate(incident.id, user, "mine now")
    with pytest.raises(IncidentAccessDenied):
        await service.close(incident.id, user, "nothing to see")
    with pytest.raises(IncidentAccessDenied):
        await service.purge(incident.id, user)
    assert audit.acts == []


async def test_annotate_close_and_list(service: IncidentService, user: Principal, officer: Principal) -> None:
    first = await open_spill(service, user)
    second = await open_spill(service, user)

    annotated = await service.annotate(first.id, officer, "Called the user; marking was a training slide.")
    assert annotated.status is IncidentStatus.INVESTIGATING
    assert [(note.author_id, note.text) for note in annotated.notes] == [
        ("so-1", "Called the user; marking was a training slide.")
    ]
    closed = await service.close(first.id, officer, "False positive: exercise material, no spill.")
    assert closed.status is IncidentStatus.CLOSED
    assert (closed.closed_by, closed.resolution) == ("so-1", "False positive: exercise material, no spill.")
    with pytest.raises(IncidentStateError):
        await service.close(first.id, officer, "again")

    assert [incident.id for incident in await service.list(officer, status="open")] == [second.id]
    assert {incident.id for incident in await service.list(officer)} == {first.id, second.id}
    future = datetime.now(UTC) + timedelta(minutes=5)
    assert await service.list(officer, since=future) == []


async def test_purge_destroys_the_ciphertext_and_keeps_the_record(
    service: IncidentService,
    engine: sa.Engine,
    settings: Settings,
    audit: MemoryAudit,
    user: Principal,
    officer: Principal,
) -> None:
    incident = await open_spill(service, user)
    with engine.connect() as connection:
        sealed = connection.execute(sa.select(QuarantineRow.sealed)).scalar_one()

    purged = await service.purge(incident.id, officer)
    assert purged.status is IncidentStatus.PURGED
    assert purged.purged_by == "so-1" and purged.quarantine_key_id is None
    assert audit.acts[-1][1:3] == ("incident.purge", incident.id)
    with engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(QuarantineRow)).scalar_one() == 0
    with pytest.raises(IncidentStateError, match="no quarantined text"):
        await service.decrypt(incident.id, private_key(settings), officer)
    with pytest.raises(IncidentStateError):
        await service.purge(incident.id, officer)
    if engine.dialect.name == "sqlite":
        assert sealed[-64:] not in _database_bytes(settings)


async def test_incidents_survive_a_new_service_instance(
    settings: Settings, engine: sa.Engine, user: Principal, officer: Principal
) -> None:
    incident = await open_spill(
        IncidentService.from_settings(settings, engine, MemoryAudit(), environ={}), user
    )
    reopened = create_engine_for(engine.url.render_as_string(hide_password=False))
    try:
        fresh = IncidentService.from_settings(settings, reopened, MemoryAudit(), environ={})
        assert (await fresh.get(incident.id, officer)).content_hash == incident.content_hash
        text = await fresh.decrypt(incident.id, private_key(settings), officer)
        assert text.segments[1].text == SPILLED
    finally:
        reopened.dispose()


async def test_open_queues_an_alert_without_content(
    service: IncidentService, engine: sa.Engine, user: Principal
) -> None:
    incident = await open_spill(service, user)
    with engine.connect() as connection:
        alert = connection.execute(sa.select(AlertRow)).one()
    assert alert.incident_id == incident.id and alert.status == "pending"
    assert "SECRET//NOFORN" in alert.payload
    assert "GLASS HERON" not in alert.payload


async def test_same_text_with_another_salt_hashes_differently(
    tmp_path: Path, engine: sa.Engine, service: IncidentService, user: Principal
) -> None:
    other_home = Settings(home=tmp_path / "other", database_url="sqlite://", redis_url=None)
    ensure_quarantine_keys(other_home)
    other = IncidentService.from_settings(other_home, engine, MemoryAudit(), environ={})
    first, again = await open_spill(service, user), await open_spill(service, user)
    salted = await open_spill(other, user)
    assert first.content_hash == again.content_hash
    assert salted.content_hash != first.content_hash


async def test_open_fails_closed_when_the_store_is_missing(settings: Settings, user: Principal) -> None:
    bare = sa.create_engine(f"sqlite:///{settings.home / 'empty.db'}")
    service = IncidentService.from_settings(settings, bare, MemoryAudit(), environ={})
    with pytest.raises(IncidentError, match="could not record"):
        await open_spill(service, user)


async def test_unknown_incident(service: IncidentService, officer: Principal) -> None:
    with pytest.raises(IncidentNotFound):
        await service.get("inc_doesnotexist", officer)


async def test_open_syncs_fully_on_sqlite_and_restores_the_pool_setting(
    settings: Settings, audit: MemoryAudit, user: Principal
) -> None:
    engine = create_engine_for(settings.database_url)  # WAL with synchronous=NORMAL
    apply_incident_migration(engine)
    statements: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    await open_spill(IncidentService.from_settings(settings, engine, audit, environ={}), user)

    first_insert = next(i for i, sql in enumerate(statements) if sql.startswith("INSERT"))
    assert "PRAGMA synchronous = FULL" in statements[:first_insert]
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar_one() == 1
    engine.dispose()

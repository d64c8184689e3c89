from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from accord.audit import MemoryAudit
from accord.config import Settings
from accord.incidents.quarantine import ensure_quarantine_keys
from accord.incidents.service import IncidentService
from accord.principal import AgencyKind, Principal, Role
from accord.store.database import create_engine_for

from .fakes import apply_incident_migration


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = Settings(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'accord.db'}", redis_url=None)
    ensure_quarantine_keys(settings)
    return settings


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, settings: Settings) -> Iterator[sa.Engine]:
    if request.param == "sqlite":
        engine = create_engine_for(settings.database_url)
        apply_incident_migration(engine)
        yield engine
        engine.dispose()
        return
    # `postgres_url` (tests/conftest.py) is a fresh database, dropped after the test.
    engine = create_engine_for(request.getfixturevalue("postgres_url"))
    apply_incident_migration(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def audit() -> MemoryAudit:
    return MemoryAudit()


@pytest.fixture
def service(settings: Settings, engine: sa.Engine, audit: MemoryAudit) -> IncidentService:
    return IncidentService.from_settings(settings, engine, audit, environ={})


@pytest.fixture
def officer() -> Principal:
    return Principal(
        id="so-1",
        nation="NOR",
        organisation="NOR-MOD",
        agency_kind=AgencyKind.MILITARY,
        roles=frozenset({Role.SECURITY_OFFICER}),
    )


@pytest.fixture
def user() -> Principal:
    return Principal(id="u-1", nation="DEU", organisation="BMVg", agency_kind=AgencyKind.MILITARY)

"""Stand-ins for the marking scanner's result, and the schema built from the real migration."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations

import accord

MIGRATION = Path(accord.__file__).parent / "store" / "migrations" / "versions" / "0002_incidents.py"


@dataclass(frozen=True)
class FakeHit:
    start: int
    end: int
    marking: str
    scheme: str = "us"
    level: str = "SECRET"
    rank: int = 3
    kind: str = "banner"
    evasion: str | None = None


@dataclass(frozen=True)
class FakeResult:
    level: str
    rank: int
    scheme: str
    hits: tuple[FakeHit, ...] = field(default_factory=tuple)


def apply_incident_migration(engine: sa.Engine) -> None:
    """Build the schema with the real revision, so every store test also exercises the migration."""
    spec = importlib.util.spec_from_file_location("incidents_migration", MIGRATION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with engine.begin() as connection:
        operations = Operations(MigrationContext.configure(connection))
        with Operations.context(operations.migration_context):
            module.upgrade()

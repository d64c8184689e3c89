from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import accord.incidents.models  # noqa: F401  (registers the tables on Base)
from accord.store.base import Base

from .fakes import apply_incident_migration


def test_migration_builds_exactly_the_incident_tables(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    apply_incident_migration(engine)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    ours = [difference for difference in differences if "incident_" in repr(difference)]
    assert ours == []
    assert set(sa.inspect(engine).get_table_names()) == {
        "incident_records",
        "incident_notes",
        "incident_quarantine",
        "incident_alerts",
    }

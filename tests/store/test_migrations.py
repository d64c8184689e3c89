"""The Alembic migrations build exactly the schema the code's tables declare, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import accord.identity.tables
import accord.incidents.models
import accord.ledger.store
import accord.policy.tables  # noqa: F401  (each import registers its tables on Base.metadata)
from accord.store.base import Base
from accord.store.database import create_engine_for, migrate


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'accord.db'}"
    else:
        yield request.getfixturevalue("postgres_url")


def test_migrations_match_the_declared_tables_and_are_idempotent(database_url: str) -> None:
    migrate(database_url)
    migrate(database_url)  # a second run (every replica runs it at start) changes nothing
    engine = create_engine_for(database_url)
    try:
        with engine.connect() as connection:
            tables = set(sa.inspect(connection).get_table_names())
            assert set(Base.metadata.tables) <= tables
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    # Index and type differences between the migration and the models are schema drift.
    assert differences == []

import importlib.util
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import create_engine

from accord.config import Settings
from accord.ledger.log import Ledger

MIGRATION = Path(__file__).parents[2] / "src/accord/store/migrations/versions/0004_ledger.py"


def apply_ledger_migration(url: str) -> None:
    """Build the tables with the real revision, so every store test also exercises the migration."""
    spec = importlib.util.spec_from_file_location("ledger_migration", MIGRATION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            operations = Operations(MigrationContext.configure(connection))
            with Operations.context(operations.migration_context):
                module.upgrade()
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Settings on a fresh SQLite file or a fresh PostgreSQL database, with the ledger tables made."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'accord.db'}"
        apply_ledger_migration(url)
        yield Settings(home=tmp_path, database_url=url, redis_url=None)
        return
    url = request.getfixturevalue("postgres_url")  # a fresh database, dropped afterwards
    apply_ledger_migration(url)
    yield Settings(home=tmp_path, database_url=url, redis_url=None)


@pytest.fixture
async def ledger(settings: Settings) -> AsyncIterator[Ledger]:
    opened = await Ledger.open(settings, run_sequencer=False)
    try:
        yield opened
    finally:
        await opened.close()

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, create_engine

from accord.config import Settings
from accord.ledger.store import LEDGER_TABLES


def test_migration_builds_exactly_the_tables_the_code_uses(settings: Settings) -> None:
    ours = MetaData(naming_convention=LEDGER_TABLES[0].metadata.naming_convention)
    for table in LEDGER_TABLES:
        table.to_metadata(ours)
    engine = create_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = [
                diff
                for diff in compare_metadata(context, ours)
                # Other components' tables are not ours to compare.
                if not (diff[0] == "remove_table" and not diff[1].name.startswith("ledger_"))
            ]
    finally:
        engine.dispose()
    assert differences == []

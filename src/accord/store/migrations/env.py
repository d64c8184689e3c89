"""Alembic environment: runs Accord's hand-written revisions against the configured URL."""

from __future__ import annotations

from alembic import context

from accord.store.base import Base
from accord.store.database import create_engine_for

url = context.config.get_main_option("sqlalchemy.url")
assert url is not None, "sqlalchemy.url must be set by accord.store.database.alembic_config"

engine = create_engine_for(url)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()

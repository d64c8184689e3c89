"""Relational storage: SQLite by default, PostgreSQL by URL, one schema managed by Alembic."""

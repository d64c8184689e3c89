"""The decision ledger: durable queue, sequenced leaves, Merkle node hashes, signed checkpoints.

Revision ID: 0004_ledger
Depends on: 0001_core
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_ledger"
down_revision = None
branch_labels = ("ledger",)
depends_on = "0001_core"


def upgrade() -> None:
    op.create_table(
        "ledger_queue",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True),
        sa.Column("entry_id", sa.String(32), nullable=False),
        sa.Column("request_id", sa.String(200), nullable=True),
        sa.Column("record", sa.LargeBinary(), nullable=False),
        sa.Column("queued_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_queue"),
        sa.UniqueConstraint("entry_id", name="uq_ledger_queue_entry_id"),
    )
    op.create_table(
        "ledger_entry",
        sa.Column("idx", sa.BigInteger(), autoincrement=False),
        sa.Column("entry_id", sa.String(32), nullable=False),
        sa.Column("request_id", sa.String(200), nullable=True),
        sa.Column("leaf", sa.LargeBinary(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("queued_at_us", sa.BigInteger(), nullable=False),
        sa.Column("sequenced_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("idx", name="pk_ledger_entry"),
        sa.UniqueConstraint("entry_id", name="uq_ledger_entry_entry_id"),
    )
    op.create_index("ix_ledger_entry_request_id", "ledger_entry", ["request_id", "idx"])
    op.create_table(
        "ledger_node",
        sa.Column("id", sa.BigInteger(), autoincrement=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_node"),
    )
    op.create_table(
        "ledger_checkpoint",
        sa.Column("seq", sa.BigInteger(), autoincrement=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("timestamp_us", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_ledger_checkpoint"),
    )


def downgrade() -> None:
    op.drop_table("ledger_checkpoint")
    op.drop_table("ledger_node")
    op.drop_index("ix_ledger_entry_request_id", table_name="ledger_entry")
    op.drop_table("ledger_entry")
    op.drop_table("ledger_queue")

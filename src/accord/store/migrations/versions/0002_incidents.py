"""Spillage incidents: records, officers' notes, sealed quarantine blobs and the alert outbox.

Revision ID: 0002_incidents
Depends on: 0001_core
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_incidents"
down_revision = None
branch_labels = ("incidents",)
depends_on = "0001_core"

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "incident_records",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("principal_id", sa.String(255), nullable=False),
        sa.Column("nation", sa.String(16), nullable=False),
        sa.Column("organisation", sa.String(255), nullable=False),
        sa.Column("agency_kind", sa.String(32), nullable=False),
        sa.Column("route", sa.String(255), nullable=False),
        sa.Column("model", sa.String(255), nullable=True),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("marking", sa.String(255), nullable=False),
        sa.Column("level", sa.String(64), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("scheme", sa.String(64), nullable=False),
        sa.Column("hits", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("closed_at", _TIME, nullable=True),
        sa.Column("closed_by", sa.String(255), nullable=True),
        sa.Column("purged_at", _TIME, nullable=True),
        sa.Column("purged_by", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_incident_records"),
    )
    op.create_index("ix_incident_records_created_at", "incident_records", ["created_at"])
    op.create_index("ix_incident_records_request_id", "incident_records", ["request_id"])
    op.create_index("ix_incident_records_status", "incident_records", ["status"])

    op.create_table(
        "incident_notes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(40), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("author_id", sa.String(255), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident_records.id"],
            name="fk_incident_notes_incident_id_incident_records",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_incident_notes"),
    )
    op.create_index("ix_incident_notes_incident_id", "incident_notes", ["incident_id"])

    op.create_table(
        "incident_quarantine",
        sa.Column("incident_id", sa.String(40), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident_records.id"],
            name="fk_incident_quarantine_incident_id_incident_records",
        ),
        sa.PrimaryKeyConstraint("incident_id", name="pk_incident_quarantine"),
    )

    op.create_table(
        "incident_alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(40), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _TIME, nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", _TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident_records.id"],
            name="fk_incident_alerts_incident_id_incident_records",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_incident_alerts"),
    )
    op.create_index("ix_incident_alerts_incident_id", "incident_alerts", ["incident_id"])
    op.create_index("ix_incident_alerts_due", "incident_alerts", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_table("incident_alerts")
    op.drop_table("incident_quarantine")
    op.drop_table("incident_notes")
    op.drop_table("incident_records")

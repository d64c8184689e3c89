"""Policy services: parked reviews (encrypted bodies) and kill switches.

Revision ID: 0003_policy
Depends on: 0001_core
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_policy"
down_revision = None
branch_labels = ("policy",)
depends_on = "0001_core"

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "policy_reviews",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("principal_id", sa.String(40), nullable=False, index=True),
        sa.Column("nation", sa.String(16), nullable=False, index=True),
        sa.Column("organisation", sa.String(200), nullable=False),
        sa.Column("agency_kind", sa.String(32), nullable=False),
        sa.Column("route", sa.String(40), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("codes", sa.Text, nullable=False),
        sa.Column("policy_ids", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("approver", sa.String(40), nullable=True),
        sa.Column("comment", sa.Text, nullable=True),
        sa.Column("decided_at", _TIME, nullable=True),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("result", sa.LargeBinary, nullable=True),
    )
    op.create_table(
        "policy_killswitches",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("engaged_by", sa.String(40), nullable=True),
        sa.Column("engaged_at", _TIME, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, index=True),
        sa.Column("released_by", sa.String(40), nullable=True),
        sa.Column("released_at", _TIME, nullable=True),
    )
    op.create_table(
        "policy_killswitch_version",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("version", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("policy_killswitch_version")
    op.drop_table("policy_killswitches")
    op.drop_table("policy_reviews")

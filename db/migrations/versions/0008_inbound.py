"""inbound webhooks: the inbox and log of deliveries received per integration

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 17:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.types

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbound_delivery",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("integration_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("dedup_id", sa.String(length=255), nullable=True),
        sa.Column("received_at", db.types.UTCDateTime(), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=500), nullable=False),
        sa.Column("instructions", sa.JSON(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", db.types.UTCDateTime(), nullable=True),
        sa.Column("claimed_until", db.types.UTCDateTime(), nullable=True),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("finished_at", db.types.UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'done', 'ignored', 'failed', 'refused')", name=op.f("ck_inbound_delivery_status")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incident.id"], name=op.f("fk_inbound_delivery_incident_id_incident"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integration.id"],
            name=op.f("fk_inbound_delivery_integration_id_integration"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_delivery")),
        sa.UniqueConstraint("integration_id", "dedup_id", name=op.f("uq_inbound_delivery_integration_id_dedup_id")),
    )
    op.create_index("ix_inbound_delivery_due", "inbound_delivery", ["status", "next_attempt_at"])
    op.create_index("ix_inbound_delivery_log", "inbound_delivery", ["integration_id", "id"])


def downgrade() -> None:
    op.drop_table("inbound_delivery")

"""integrations, their links to incidents, and the delivery outbox

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 13:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.types

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = "'pagerduty', 'opsgenie', 'jira', 'linear', 'servicenow', 'github', 'teams', 'webhook'"
STATUSES = "'pending', 'retrying', 'success', 'failed', 'cancelled'"


def upgrade() -> None:
    op.create_table(
        "integration",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("secrets", sa.Text(), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("min_severity", sa.String(length=2), nullable=True),
        sa.Column("component_ids", sa.JSON(), nullable=False),
        sa.Column("include_private", sa.Boolean(), nullable=False),
        sa.Column("previous_secret_until", db.types.UTCDateTime(), nullable=True),
        sa.Column("created_by", sa.String(length=32), nullable=True),
        sa.Column("created_at", db.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", db.types.UTCDateTime(), nullable=False),
        sa.CheckConstraint(f"kind IN ({KINDS})", name=op.f("ck_integration_kind")),
        sa.ForeignKeyConstraint(
            ["team_id"], ["workspace.team_id"], name=op.f("fk_integration_team_id_workspace"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integration")),
        sa.UniqueConstraint("team_id", "name", name=op.f("uq_integration_team_id_name")),
    )
    op.create_index("ix_integration_active", "integration", ["team_id", "active"])
    op.create_index("ix_integration_key_id", "integration", ["key_id"])

    op.create_table(
        "integration_link",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("integration_id", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("external_url", sa.String(length=1024), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", db.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incident.id"], name=op.f("fk_integration_link_incident_id_incident"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integration.id"],
            name=op.f("fk_integration_link_integration_id_integration"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integration_link")),
        sa.UniqueConstraint("incident_id", "integration_id", name=op.f("uq_integration_link_incident_id_integration_id")),
    )
    op.create_index("ix_integration_link_external", "integration_link", ["integration_id", "external_id"])

    op.create_table(
        "delivery",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("delivery_id", sa.String(length=36), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("integration_id", sa.String(length=32), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("occurred_at", db.types.UTCDateTime(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", db.types.UTCDateTime(), nullable=True),
        sa.Column("last_attempt_at", db.types.UTCDateTime(), nullable=True),
        sa.Column("claimed_until", db.types.UTCDateTime(), nullable=True),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.Column("created_at", db.types.UTCDateTime(), nullable=False),
        sa.CheckConstraint(f"status IN ({STATUSES})", name=op.f("ck_delivery_status")),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incident.id"], name=op.f("fk_delivery_incident_id_incident"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["integration_id"], ["integration.id"], name=op.f("fk_delivery_integration_id_integration"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery")),
        sa.UniqueConstraint("delivery_id", name=op.f("uq_delivery_delivery_id")),
    )
    op.create_index("ix_delivery_due", "delivery", ["status", "next_attempt_at"])
    op.create_index("ix_delivery_pair", "delivery", ["integration_id", "incident_id", "id"])
    op.create_index("ix_delivery_team", "delivery", ["team_id", "id"])


def downgrade() -> None:
    op.drop_table("delivery")
    op.drop_table("integration_link")
    op.drop_table("integration")

"""PagerDuty: the directory the sync keeps, pages per incident and target, a component's service and routing key

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 16:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.types

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DIRECTORY = ("pagerduty_service", "pagerduty_user", "pagerduty_policy", "pagerduty_schedule")


def _directory_table(name: str, *columns: sa.Column) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("integration_id", sa.String(length=32), nullable=False),
        sa.Column("pd_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        *columns,
        sa.Column("html_url", sa.String(length=1024), nullable=True),
        sa.Column("synced_at", db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"], ["integration.id"], name=op.f(f"fk_{name}_integration_id_integration"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
        sa.UniqueConstraint("integration_id", "pd_id", name=op.f(f"uq_{name}_integration_id_pd_id")),
    )


def upgrade() -> None:
    with op.batch_alter_table("component") as batch:
        batch.add_column(sa.Column("pagerduty_service_id", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("pagerduty_routing_key", sa.Text(), nullable=True))
        batch.add_column(sa.Column("pagerduty_key_id", sa.String(length=64), nullable=True))

    _directory_table("pagerduty_service", sa.Column("escalation_policy_id", sa.String(length=32), nullable=True))
    op.create_index("ix_pagerduty_service_team", "pagerduty_service", ["team_id"])
    _directory_table(
        "pagerduty_user",
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("time_zone", sa.String(length=64), nullable=True),
    )
    op.create_index("ix_pagerduty_user_email", "pagerduty_user", ["team_id", "email"])
    _directory_table("pagerduty_policy")
    _directory_table(
        "pagerduty_schedule",
        sa.Column("version", sa.String(length=8), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=True),
    )
    with op.batch_alter_table("pagerduty_schedule") as batch:
        batch.create_check_constraint("version", "version IN ('classic', 'v3')")

    op.create_table(
        "pagerduty_oncall",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("integration_id", sa.String(length=32), nullable=False),
        sa.Column("escalation_policy_id", sa.String(length=32), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("schedule_id", sa.String(length=32), nullable=True),
        sa.Column("starts_at", db.types.UTCDateTime(), nullable=True),
        sa.Column("ends_at", db.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integration.id"],
            name=op.f("fk_pagerduty_oncall_integration_id_integration"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pagerduty_oncall")),
    )
    op.create_index("ix_pagerduty_oncall_policy", "pagerduty_oncall", ["integration_id", "escalation_policy_id", "level"])
    op.create_index("ix_pagerduty_oncall_user", "pagerduty_oncall", ["team_id", "user_id"])

    op.create_table(
        "pagerduty_sync",
        sa.Column("integration_id", sa.String(length=32), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("started_at", db.types.UTCDateTime(), nullable=False),
        sa.Column("synced_at", db.types.UTCDateTime(), nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integration.id"],
            name=op.f("fk_pagerduty_sync_integration_id_integration"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("integration_id", name=op.f("pk_pagerduty_sync")),
    )

    op.create_table(
        "incident_page",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("integration_id", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("service_id", sa.String(length=32), nullable=True),
        sa.Column("dedup_key", sa.String(length=255), nullable=False),
        sa.Column("pd_incident_id", sa.String(length=32), nullable=True),
        sa.Column("pd_incident_url", sa.String(length=1024), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("paged_by", sa.String(length=32), nullable=True),
        sa.Column("created_at", db.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", db.types.UTCDateTime(), nullable=False),
        sa.CheckConstraint("method IN ('events', 'rest')", name=op.f("ck_incident_page_method")),
        sa.CheckConstraint("status IN ('triggered', 'acknowledged', 'resolved')", name=op.f("ck_incident_page_status")),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incident.id"], name=op.f("fk_incident_page_incident_id_incident"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integration.id"],
            name=op.f("fk_incident_page_integration_id_integration"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_page")),
        sa.UniqueConstraint(
            "integration_id", "incident_id", "target", name=op.f("uq_incident_page_integration_id_incident_id_target")
        ),
    )
    op.create_index("ix_incident_page_dedup", "incident_page", ["integration_id", "dedup_key"])


def downgrade() -> None:
    op.drop_table("incident_page")
    op.drop_table("pagerduty_sync")
    op.drop_table("pagerduty_oncall")
    for name in reversed(DIRECTORY):
        op.drop_table(name)
    with op.batch_alter_table("component") as batch:
        batch.drop_column("pagerduty_key_id")
        batch.drop_column("pagerduty_routing_key")
        batch.drop_column("pagerduty_service_id")

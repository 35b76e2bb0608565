"""Scheduled jobs: schedules, runs and leases; reminder state per incident; members of tagged conversations

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.types

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_schedule",
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("interval_minutes", sa.Integer(), nullable=True),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.String(length=32), nullable=True),
        sa.Column("updated_at", db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["workspace.team_id"], name=op.f("fk_job_schedule_team_id_workspace"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("team_id", "name", name=op.f("pk_job_schedule")),
    )

    op.create_table(
        "job_run",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("started_at", db.types.UTCDateTime(), nullable=False),
        sa.Column("finished_at", db.types.UTCDateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint("outcome IN ('running', 'ok', 'failed', 'abandoned')", name=op.f("ck_job_run_outcome")),
        sa.CheckConstraint("trigger IN ('schedule', 'cli', 'admin')", name=op.f("ck_job_run_trigger")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_run")),
    )
    op.create_index("ix_job_run_last", "job_run", ["team_id", "name", "id"])
    op.create_index("ix_job_run_started", "job_run", ["started_at"])

    op.create_table(
        "job_lease",
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("acquired_at", db.types.UTCDateTime(), nullable=False),
        sa.Column("expires_at", db.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("team_id", "name", name=op.f("pk_job_lease")),
    )

    op.create_table(
        "incident_reminder",
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("reminded_at", db.types.UTCDateTime(), nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.Column("message_ts", sa.String(length=32), nullable=True),
        sa.Column("snoozed_until", db.types.UTCDateTime(), nullable=True),
        sa.Column("snoozed_by", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incident.id"], name=op.f("fk_incident_reminder_incident_id_incident"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_incident_reminder")),
    )

    op.create_table(
        "conversation_member",
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("team_id", "conversation_id", "user_id", name=op.f("pk_conversation_member")),
    )


def downgrade() -> None:
    op.drop_table("conversation_member")
    op.drop_table("incident_reminder")
    op.drop_table("job_lease")
    op.drop_index("ix_job_run_started", table_name="job_run")
    op.drop_index("ix_job_run_last", table_name="job_run")
    op.drop_table("job_run")
    op.drop_table("job_schedule")

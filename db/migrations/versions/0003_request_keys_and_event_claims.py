"""declare request keys and two-phase event claims

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 12:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.types

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("incident") as batch:
        batch.add_column(sa.Column("request_key", sa.String(length=64), nullable=True))
        batch.create_unique_constraint("uq_incident_team_id_request_key", ["team_id", "request_key"])
    with op.batch_alter_table("processed_event") as batch:
        batch.add_column(sa.Column("claimed_at", db.types.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("done_at", db.types.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("processed_event") as batch:
        batch.drop_column("done_at")
        batch.drop_column("claimed_at")
    with op.batch_alter_table("incident") as batch:
        batch.drop_constraint("uq_incident_team_id_request_key", type_="unique")
        batch.drop_column("request_key")

"""Identities: a Slack user's accounts in other tools. One per (user, kind); a manual link wins over an
email match, so a sync that matches by email never overwrites what a person set with `/incident link`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Identity

KINDS = ("pagerduty", "github", "jira", "linear", "email")
MANUAL = "manual"
EMAIL_MATCH = "email-match"


async def identities_of(session: AsyncSession, *, team_id: str, user_id: str) -> list[Identity]:
    stmt = select(Identity).where(Identity.team_id == team_id, Identity.user_id == user_id)
    rows = list((await session.scalars(stmt)).all())
    return sorted(rows, key=lambda row: KINDS.index(row.kind) if row.kind in KINDS else len(KINDS))


async def get_identity(session: AsyncSession, *, team_id: str, user_id: str, kind: str) -> Identity | None:
    stmt = select(Identity).where(Identity.team_id == team_id, Identity.user_id == user_id, Identity.kind == kind)
    return (await session.scalars(stmt)).first()


async def link_identity(
    session: AsyncSession,
    *,
    team_id: str,
    user_id: str,
    kind: str,
    external_id: str,
    source: str,
    by: str | None,
    at: datetime,
) -> Identity | None:
    """Record a link. A manual link replaces whatever was there; an email match only fills a gap or refreshes an
    earlier match. Returns the row as stored, or None when an email match was ignored because of a manual link."""
    if source not in (MANUAL, EMAIL_MATCH):
        raise ValueError(f"unknown identity source {source!r}")
    # One upsert, so two links landing at once both succeed; the manual-wins rule is its WHERE.
    changes = {"external_id": external_id, "source": source, "updated_by": by, "updated_at": at}
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(Identity).values(team_id=team_id, user_id=user_id, kind=kind, **changes)
    stmt = stmt.on_conflict_do_update(
        index_elements=["team_id", "user_id", "kind"],
        set_=changes,
        where=(Identity.source != MANUAL) if source == EMAIL_MATCH else None,
    )
    rows = await session.scalars(stmt.returning(Identity), execution_options={"populate_existing": True})
    return rows.one_or_none()


async def find_user_by_identity(session: AsyncSession, *, team_id: str, kind: str, external_id: str) -> str | None:
    """The Slack user behind an account in another tool (a manual link first)."""
    stmt = select(Identity).where(Identity.team_id == team_id, Identity.kind == kind, Identity.external_id == external_id)
    rows = list((await session.scalars(stmt)).all())
    rows.sort(key=lambda row: row.source != MANUAL)
    return rows[0].user_id if rows else None

"""Who is in each incident channel (private-incident visibility), from member_joined/left events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import IncidentMember


async def add_member(session: AsyncSession, *, team_id: str, incident_id: int, user_id: str, at: datetime) -> bool:
    """Record a member; False when already recorded (events may arrive twice)."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = (
        insert(IncidentMember)
        .values(team_id=team_id, incident_id=incident_id, user_id=user_id, joined_at=at)
        .on_conflict_do_nothing(index_elements=["team_id", "incident_id", "user_id"])
    )
    return bool((await session.execute(stmt)).rowcount)  # type: ignore[attr-defined]


async def remove_member(session: AsyncSession, *, team_id: str, incident_id: int, user_id: str) -> bool:
    stmt = delete(IncidentMember).where(
        IncidentMember.team_id == team_id, IncidentMember.incident_id == incident_id, IncidentMember.user_id == user_id
    )
    return bool((await session.execute(stmt)).rowcount)  # type: ignore[attr-defined]


async def members_of(session: AsyncSession, *, team_id: str, incident_id: int) -> set[str]:
    stmt = select(IncidentMember.user_id).where(IncidentMember.team_id == team_id, IncidentMember.incident_id == incident_id)
    return set((await session.scalars(stmt)).all())

"""Components: what an incident affects, with the usergroups to invite."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Component


async def list_components(session: AsyncSession, *, team_id: str) -> list[Component]:
    stmt = select(Component).where(Component.team_id == team_id).order_by(Component.name)
    return list((await session.scalars(stmt)).all())

"""Slack usergroups Vigil knows: imported by an admin (by id, the rest fetched from Slack) or synced."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Usergroup


async def list_usergroups(session: AsyncSession, *, team_id: str) -> list[Usergroup]:
    stmt = select(Usergroup).where(Usergroup.team_id == team_id).order_by(func.lower(Usergroup.handle), Usergroup.id)
    return list((await session.scalars(stmt)).all())


async def get_usergroup(session: AsyncSession, *, team_id: str, usergroup_id: str) -> Usergroup | None:
    return await session.get(Usergroup, (team_id, usergroup_id))


async def known_usergroup_ids(session: AsyncSession, *, team_id: str, ids: Sequence[str]) -> set[str]:
    if not ids:
        return set()
    stmt = select(Usergroup.id).where(Usergroup.team_id == team_id, Usergroup.id.in_(list(ids)))
    return set((await session.scalars(stmt)).all())


async def upsert_usergroup(
    session: AsyncSession,
    *,
    team_id: str,
    usergroup_id: str,
    handle: str,
    name: str,
    user_ids: Sequence[str],
    disabled: bool,
    at: datetime,
) -> Usergroup:
    group = await get_usergroup(session, team_id=team_id, usergroup_id=usergroup_id)
    if group is None:
        group = Usergroup(team_id=team_id, id=usergroup_id)
        session.add(group)
    group.handle, group.name, group.user_ids = handle, name, list(user_ids)
    group.disabled, group.fetched_at = disabled, at
    await session.flush()
    return group


async def delete_usergroup(session: AsyncSession, *, team_id: str, usergroup_id: str) -> bool:
    group = await get_usergroup(session, team_id=team_id, usergroup_id=usergroup_id)
    if group is None:
        return False
    await session.delete(group)
    await session.flush()
    return True

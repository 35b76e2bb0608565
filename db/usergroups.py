"""Slack usergroups Vigil knows: imported by an admin (by id, the rest fetched from Slack) or synced."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class SlackGroup:
    """A usergroup as Slack lists it."""

    handle: str
    name: str
    user_ids: tuple[str, ...]
    disabled: bool


async def refresh_usergroups(
    session: AsyncSession, *, team_id: str, found: Mapping[str, SlackGroup], at: datetime
) -> tuple[int, int]:
    """Bring every imported usergroup in line with Slack's list, in one flush: (refreshed, marked disabled). A group
    Slack no longer lists is marked disabled; groups Vigil has not imported are left alone (admins choose those)."""
    refreshed = disabled = 0
    for group in await list_usergroups(session, team_id=team_id):
        slack = found.get(group.id)
        if slack is None:
            if not group.disabled:
                disabled += 1
            group.disabled, group.fetched_at = True, at
            continue
        if slack.disabled and not group.disabled:
            disabled += 1
        group.handle, group.name, group.user_ids = slack.handle, slack.name, list(slack.user_ids)
        group.disabled, group.fetched_at = slack.disabled, at
        refreshed += 1
    await session.flush()
    return refreshed, disabled

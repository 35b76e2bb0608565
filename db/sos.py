"""SOS targets: where `/incident sos` asks for help. Names are unique per workspace, case-insensitively."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import SosTarget


async def list_sos_targets(session: AsyncSession, *, team_id: str) -> list[SosTarget]:
    stmt = select(SosTarget).where(SosTarget.team_id == team_id).order_by(func.lower(SosTarget.name), SosTarget.id)
    return list((await session.scalars(stmt)).all())


async def get_sos_target(session: AsyncSession, *, team_id: str, target_id: int) -> SosTarget | None:
    target = await session.get(SosTarget, target_id)
    return target if target is not None and target.team_id == team_id else None


async def find_sos_target_by_name(
    session: AsyncSession, *, team_id: str, name: str, except_id: int | None = None
) -> SosTarget | None:
    stmt = select(SosTarget).where(SosTarget.team_id == team_id, func.lower(SosTarget.name) == name.lower())
    if except_id is not None:
        stmt = stmt.where(SosTarget.id != except_id)
    return (await session.scalars(stmt.limit(1))).first()


async def save_sos_target(
    session: AsyncSession,
    *,
    team_id: str,
    target_id: int | None,
    name: str,
    conversation_id: str,
    usergroup_id: str | None,
    by: str | None,
) -> SosTarget | None:
    """Create (`target_id` None) or update a target; None when the target to update is gone."""
    if target_id is None:
        target = SosTarget(team_id=team_id)
        session.add(target)
    else:
        found = await get_sos_target(session, team_id=team_id, target_id=target_id)
        if found is None:
            return None
        target = found
    target.name, target.conversation_id, target.usergroup_id, target.updated_by = name, conversation_id, usergroup_id, by
    await session.flush()
    return target


async def delete_sos_target(session: AsyncSession, *, team_id: str, target_id: int) -> bool:
    target = await get_sos_target(session, team_id=team_id, target_id=target_id)
    if target is None:
        return False
    await session.delete(target)
    await session.flush()
    return True


async def usergroup_in_sos_targets(session: AsyncSession, *, team_id: str, usergroup_id: str) -> list[str]:
    """Names of the targets mentioning a usergroup (it cannot be removed while they do)."""
    stmt = select(SosTarget.name).where(SosTarget.team_id == team_id, SosTarget.usergroup_id == usergroup_id)
    return list((await session.scalars(stmt)).all())

"""Components: what an incident affects, with the usergroups to invite. Names are unique per workspace,
case-insensitively."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Component


async def list_components(session: AsyncSession, *, team_id: str) -> list[Component]:
    stmt = select(Component).where(Component.team_id == team_id).order_by(Component.name)
    return list((await session.scalars(stmt)).all())


async def get_component(session: AsyncSession, *, team_id: str, component_id: int) -> Component | None:
    component = await session.get(Component, component_id)
    return component if component is not None and component.team_id == team_id else None


async def find_component_by_name(
    session: AsyncSession, *, team_id: str, name: str, except_id: int | None = None
) -> Component | None:
    stmt = select(Component).where(Component.team_id == team_id, func.lower(Component.name) == name.lower())
    if except_id is not None:
        stmt = stmt.where(Component.id != except_id)
    return (await session.scalars(stmt.limit(1))).first()


async def save_component(
    session: AsyncSession, *, team_id: str, component_id: int | None, name: str, usergroup_ids: Sequence[str]
) -> Component | None:
    """Create (`component_id` None) or update a component; None when the one to update is gone."""
    if component_id is None:
        component = Component(team_id=team_id)
        session.add(component)
    else:
        found = await get_component(session, team_id=team_id, component_id=component_id)
        if found is None:
            return None
        component = found
    component.name, component.usergroup_ids = name, list(dict.fromkeys(usergroup_ids))
    await session.flush()
    return component


async def delete_component(session: AsyncSession, *, team_id: str, component_id: int) -> bool:
    """Remove a component; its incidents keep their history and lose the reference (ON DELETE SET NULL)."""
    result = await session.execute(delete(Component).where(Component.team_id == team_id, Component.id == component_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def components_using_usergroup(session: AsyncSession, *, team_id: str, usergroup_id: str) -> list[str]:
    """Names of the components that invite a usergroup (a JSON list, so filtered here rather than in SQL)."""
    return [c.name for c in await list_components(session, team_id=team_id) if usergroup_id in (c.usergroup_ids or [])]

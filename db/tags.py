"""Conversation and usergroup tags: one conversation or usergroup per tag per workspace."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ConversationTag, UsergroupTag
from db.types import utcnow

TECH_INCIDENTS = "tech_incidents"
DEV_FIREFIGHTER = "dev_firefighter"
IT_DEPLOY = "it_deploy"
CONVERSATION_TAGS = (TECH_INCIDENTS, DEV_FIREFIGHTER, IT_DEPLOY)
INVITED_FOR_ALL_PUBLIC_P1 = "invited_for_all_public_p1"
USERGROUP_TAGS = (INVITED_FOR_ALL_PUBLIC_P1,)


async def tagged_conversation(session: AsyncSession, *, team_id: str, tag: str) -> str | None:
    row = await session.get(ConversationTag, (team_id, tag))
    return row.conversation_id if row else None


async def tagged_usergroup(session: AsyncSession, *, team_id: str, tag: str) -> str | None:
    row = await session.get(UsergroupTag, (team_id, tag))
    return row.usergroup_id if row else None


async def _upsert(
    session: AsyncSession, model: type[ConversationTag | UsergroupTag], *, team_id: str, tag: str, changes: dict[str, Any]
) -> None:
    """Set a tag with one `INSERT … ON CONFLICT DO UPDATE`: two admins saving at once both succeed, the last wins
    (a read then an insert would fail the slower one on the primary key). A copy the session holds is refreshed."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(model).values(team_id=team_id, tag=tag, **changes)
    stmt = stmt.on_conflict_do_update(index_elements=["team_id", "tag"], set_=changes)
    await session.scalars(stmt.returning(model), execution_options={"populate_existing": True})


async def set_conversation_tag(
    session: AsyncSession, *, team_id: str, tag: str, conversation_id: str, by: str | None
) -> None:
    changes = {"conversation_id": conversation_id, "set_by": by, "updated_at": utcnow()}
    await _upsert(session, ConversationTag, team_id=team_id, tag=tag, changes=changes)


async def set_usergroup_tag(session: AsyncSession, *, team_id: str, tag: str, usergroup_id: str, by: str | None) -> None:
    changes = {"usergroup_id": usergroup_id, "set_by": by, "updated_at": utcnow()}
    await _upsert(session, UsergroupTag, team_id=team_id, tag=tag, changes=changes)


async def clear_conversation_tag(session: AsyncSession, *, team_id: str, tag: str) -> None:
    row = await session.get(ConversationTag, (team_id, tag))
    if row is not None:
        await session.delete(row)
        await session.flush()


async def clear_usergroup_tag(session: AsyncSession, *, team_id: str, tag: str) -> None:
    row = await session.get(UsergroupTag, (team_id, tag))
    if row is not None:
        await session.delete(row)
        await session.flush()

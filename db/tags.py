"""Conversation and usergroup tags (SPEC §5): one conversation or usergroup per tag per workspace."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ConversationTag, UsergroupTag

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


async def set_conversation_tag(
    session: AsyncSession, *, team_id: str, tag: str, conversation_id: str, by: str | None
) -> None:
    row = await session.get(ConversationTag, (team_id, tag))
    if row is None:
        session.add(ConversationTag(team_id=team_id, tag=tag, conversation_id=conversation_id, set_by=by))
    else:
        row.conversation_id, row.set_by = conversation_id, by
    await session.flush()


async def set_usergroup_tag(session: AsyncSession, *, team_id: str, tag: str, usergroup_id: str, by: str | None) -> None:
    row = await session.get(UsergroupTag, (team_id, tag))
    if row is None:
        session.add(UsergroupTag(team_id=team_id, tag=tag, usergroup_id=usergroup_id, set_by=by))
    else:
        row.usergroup_id, row.set_by = usergroup_id, by
    await session.flush()


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

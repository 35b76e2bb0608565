"""Who is in each incident channel (private-incident visibility), from member_joined/left events and the periodic
sync; members of tagged conversations; the conversations themselves as the sync last saw them."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Conversation, ConversationMember, Incident, IncidentMember

REPLACE_BATCH = 1000  # ids per statement when a member list is replaced (stays far below any bind-parameter limit)


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


async def _replace_set(
    session: AsyncSession,
    model: type[IncidentMember] | type[ConversationMember],
    *,
    scope: Mapping[str, Any],
    user_ids: Collection[str],
    extra: Mapping[str, Any],
) -> tuple[int, int]:
    """Make the members recorded under `scope` exactly `user_ids`, in bulk: (added, removed)."""
    where = [getattr(model, column) == value for column, value in scope.items()]
    stored = set((await session.scalars(select(model.user_id).where(*where))).all())
    wanted = set(user_ids)
    added, removed = sorted(wanted - stored), sorted(stored - wanted)
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    for start in range(0, len(added), REPLACE_BATCH):
        rows = [{**scope, **extra, "user_id": user_id} for user_id in added[start : start + REPLACE_BATCH]]
        await session.execute(insert(model).on_conflict_do_nothing(), rows)
    for start in range(0, len(removed), REPLACE_BATCH):
        batch = removed[start : start + REPLACE_BATCH]
        await session.execute(delete(model).where(*where, model.user_id.in_(batch)))
    return len(added), len(removed)


async def replace_members(
    session: AsyncSession, *, team_id: str, incident_id: int, user_ids: Collection[str], at: datetime
) -> tuple[int, int]:
    """Record an incident channel's members as Slack lists them now, repairing joins and leaves whose events were
    lost: (added, removed)."""
    scope = {"team_id": team_id, "incident_id": incident_id}
    return await _replace_set(session, IncidentMember, scope=scope, user_ids=user_ids, extra={"joined_at": at})


async def replace_conversation_members(
    session: AsyncSession, *, team_id: str, conversation_id: str, user_ids: Collection[str]
) -> tuple[int, int]:
    scope = {"team_id": team_id, "conversation_id": conversation_id}
    return await _replace_set(session, ConversationMember, scope=scope, user_ids=user_ids, extra={})


async def conversation_members(session: AsyncSession, *, team_id: str, conversation_id: str) -> set[str]:
    stmt = select(ConversationMember.user_id).where(
        ConversationMember.team_id == team_id, ConversationMember.conversation_id == conversation_id
    )
    return set((await session.scalars(stmt)).all())


async def upsert_conversation(
    session: AsyncSession, *, team_id: str, conversation_id: str, info: Mapping[str, Any], at: datetime
) -> None:
    """Record a conversation from a Slack conversation object (conversations.info)."""
    values = {
        "name": str(info.get("name") or ""),
        "is_private": bool(info.get("is_private")),
        "is_archived": bool(info.get("is_archived")),
        "fetched_at": at,
    }
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(Conversation).values(team_id=team_id, id=conversation_id, **values)
    await session.execute(stmt.on_conflict_do_update(index_elements=["team_id", "id"], set_=values))


async def incident_channels(session: AsyncSession, *, team_id: str) -> list[tuple[int, str, bool]]:
    """(incident id, channel id, private) of every incident channel not archived yet: the channels whose members the
    sync keeps."""
    stmt = (
        select(Incident.id, Incident.channel_id, Incident.private)
        .where(Incident.team_id == team_id, Incident.channel_id.is_not(None), Incident.archived_at.is_(None))
        .order_by(Incident.id)
    )
    return [(row[0], str(row[1]), bool(row[2])) for row in (await session.execute(stmt)).all()]

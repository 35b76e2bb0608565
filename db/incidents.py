"""Incident rows: numbering, lookups and the timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Incident, IncidentMember, TimelineEvent, Workspace

ACTIVE_STATUSES = ("open", "investigating", "mitigating")


async def allocate_number(session: AsyncSession, *, team_id: str) -> int:
    """The next incident number of the workspace: one atomic UPDATE … RETURNING, so concurrent declarations
    (other tasks, other replicas) each get their own number."""
    stmt = (
        update(Workspace)
        .where(Workspace.team_id == team_id)
        .values(last_incident_number=Workspace.last_incident_number + 1)
        .returning(Workspace.last_incident_number)
    )
    number = (await session.execute(stmt)).scalar_one_or_none()
    if number is None:
        raise LookupError(f"workspace {team_id} is not recorded; run `vigil check` or start `vigil run` once")
    return int(number)


async def find_active_by_dedup_key(session: AsyncSession, *, team_id: str, dedup_key: str) -> Incident | None:
    stmt = (
        select(Incident)
        .where(Incident.team_id == team_id, Incident.dedup_key == dedup_key, Incident.status.in_(ACTIVE_STATUSES))
        .order_by(Incident.number.desc())
        .limit(1)
    )
    return (await session.scalars(stmt)).first()


async def get_by_number(session: AsyncSession, *, team_id: str, number: int) -> Incident | None:
    stmt = select(Incident).where(Incident.team_id == team_id, Incident.number == number)
    return (await session.scalars(stmt)).first()


async def get_by_channel(session: AsyncSession, *, team_id: str, channel_id: str) -> Incident | None:
    stmt = select(Incident).where(Incident.team_id == team_id, Incident.channel_id == channel_id)
    return (await session.scalars(stmt)).first()


async def add_timeline(
    session: AsyncSession,
    incident: Incident,
    *,
    kind: str,
    source: str,
    at: datetime,
    actor_id: str | None = None,
    text: str = "",
    data: dict[str, Any] | None = None,
    message_ts: str | None = None,
) -> TimelineEvent:
    event = TimelineEvent(
        team_id=incident.team_id,
        incident_id=incident.id,
        kind=kind,
        source=source,
        at=at,
        actor_id=actor_id,
        text=text,
        data=data or {},
        message_ts=message_ts,
    )
    session.add(event)
    await session.flush()
    return event


async def timeline_of(session: AsyncSession, incident: Incident) -> list[TimelineEvent]:
    stmt = select(TimelineEvent).where(TimelineEvent.incident_id == incident.id).order_by(TimelineEvent.at, TimelineEvent.id)
    return list((await session.scalars(stmt)).all())


async def visible_incidents(
    session: AsyncSession,
    *,
    team_id: str,
    user_id: str,
    is_admin: bool,
    is_guest: bool = False,
    statuses: tuple[str, ...] | None = None,
    limit: int = 50,
) -> list[Incident]:
    """Incidents `user_id` may see, newest first: every public one and private ones they are a member of (all for
    admins); guests see only incidents whose channels they are in."""
    stmt = select(Incident).where(Incident.team_id == team_id)
    if statuses:
        stmt = stmt.where(Incident.status.in_(statuses))
    if not is_admin:
        member_of = select(IncidentMember.incident_id).where(
            IncidentMember.team_id == team_id, IncidentMember.user_id == user_id
        )
        if is_guest:
            stmt = stmt.where(Incident.id.in_(member_of))
        else:
            stmt = stmt.where((Incident.private.is_(False)) | (Incident.id.in_(member_of)))
    stmt = stmt.order_by(Incident.number.desc()).limit(limit)
    return list((await session.scalars(stmt)).all())


async def get_by_request_key(session: AsyncSession, *, team_id: str, request_key: str) -> Incident | None:
    stmt = select(Incident).where(Incident.team_id == team_id, Incident.request_key == request_key)
    return (await session.scalars(stmt)).first()

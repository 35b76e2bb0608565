"""What the incident housekeeping jobs read and keep: reminder state per incident, and closed channels to archive."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Incident, IncidentReminder


async def reminder_candidates(
    session: AsyncSession, *, team_id: str, statuses: Collection[str], severities: Collection[str]
) -> list[tuple[Incident, IncidentReminder | None]]:
    """Incidents that may need a reminder (in one of `statuses` and `severities`, with a channel), with their state."""
    if not severities:
        return []
    stmt = (
        select(Incident, IncidentReminder)
        .outerjoin(IncidentReminder, IncidentReminder.incident_id == Incident.id)
        .where(
            Incident.team_id == team_id,
            Incident.status.in_(list(statuses)),
            Incident.severity.in_(list(severities)),
            Incident.channel_id.is_not(None),
        )
        .order_by(Incident.id)
    )
    return [(row[0], row[1]) for row in (await session.execute(stmt)).all()]


def _insert(session: AsyncSession) -> type[postgresql.Insert] | type[sqlite.Insert]:
    return postgresql.Insert if session.get_bind().dialect.name == "postgresql" else sqlite.Insert


async def claim_reminder(
    session: AsyncSession, *, team_id: str, incident_id: int, expected: datetime | None, now: datetime
) -> int | None:
    """Record that a reminder goes out now, if the last one is still `expected` (nobody sent one meanwhile): the
    reminder's number, or None. Claimed before the post, so a crash in between loses this reminder rather than
    sending it twice."""
    stmt = _insert(session)(IncidentReminder).values(
        incident_id=incident_id, team_id=team_id, reminded_at=now, count=1, channel_id=None, message_ts=None
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["incident_id"],
        set_={"reminded_at": now, "count": IncidentReminder.count + 1, "channel_id": None, "message_ts": None},
        where=IncidentReminder.reminded_at.is_not_distinct_from(expected),
    )
    row = (await session.execute(stmt.returning(IncidentReminder.count))).first()
    return int(row[0]) if row is not None else None


async def record_reminder_message(session: AsyncSession, *, incident_id: int, channel_id: str, ts: str) -> None:
    stmt = update(IncidentReminder).where(IncidentReminder.incident_id == incident_id)
    await session.execute(stmt.values(channel_id=channel_id, message_ts=ts))


async def snooze_reminders(
    session: AsyncSession, *, team_id: str, incident_id: int, until: datetime, by: str
) -> IncidentReminder:
    values = {"snoozed_until": until, "snoozed_by": by}
    stmt = _insert(session)(IncidentReminder).values(incident_id=incident_id, team_id=team_id, count=0, **values)
    stmt = stmt.on_conflict_do_update(index_elements=["incident_id"], set_=values)
    return (await session.scalars(stmt.returning(IncidentReminder), execution_options={"populate_existing": True})).one()


async def archive_candidates(session: AsyncSession, *, team_id: str, closed_before: datetime) -> list[Incident]:
    """Closed incidents whose channel is not archived yet and which closed before `closed_before`."""
    stmt = (
        select(Incident)
        .where(
            Incident.team_id == team_id,
            Incident.status == "closed",
            Incident.channel_id.is_not(None),
            Incident.archived_at.is_(None),
            Incident.closed_at.is_not(None),
            Incident.closed_at <= closed_before,
        )
        .order_by(Incident.closed_at, Incident.id)
    )
    return list((await session.scalars(stmt)).all())

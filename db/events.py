"""Slack event ids, claimed in two phases across replicas and kept for a TTL.

A claim is taken before handling and finished after it. A re-sent event is skipped when its claim is finished, or
when it is unfinished but recent (another replica is on it); an unfinished claim older than the grace period is taken
again, because whoever held it died or failed before handling it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ProcessedEvent
from db.types import utcnow

CLAIM_GRACE = timedelta(seconds=30)


async def claim_event(
    session: AsyncSession,
    *,
    team_id: str,
    event_id: str,
    expires_at: datetime,
    now: datetime | None = None,
    grace: timedelta = CLAIM_GRACE,
) -> bool:
    """True if this call claimed the event id: it was new, or its unfinished claim is older than `grace`.

    One statement (an upsert whose update is conditional), so two replicas racing for the same id cannot both win:
    PostgreSQL re-checks the condition on the row the winner wrote, and SQLite runs writers one at a time.
    A row without `claimed_at` predates two-phase claims and counts as finished.
    """
    now = now or utcnow()
    values = {"team_id": team_id, "event_id": event_id, "expires_at": expires_at, "claimed_at": now, "done_at": None}
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(ProcessedEvent).values(**values)
    upsert = stmt.on_conflict_do_update(
        index_elements=["team_id", "event_id"],
        set_={"claimed_at": stmt.excluded.claimed_at, "expires_at": stmt.excluded.expires_at},
        where=(
            ProcessedEvent.done_at.is_(None)
            & ProcessedEvent.claimed_at.is_not(None)
            & (ProcessedEvent.claimed_at <= now - grace)
        ),
    )
    result = await session.execute(upsert.returning(ProcessedEvent.event_id))
    return result.first() is not None


async def finish_event(session: AsyncSession, *, team_id: str, event_id: str, now: datetime) -> bool:
    """Mark a claimed event handled: from now on every re-send of it is skipped."""
    stmt = (
        update(ProcessedEvent)
        .where(ProcessedEvent.team_id == team_id, ProcessedEvent.event_id == event_id, ProcessedEvent.done_at.is_(None))
        .values(done_at=now)
    )
    result = await session.execute(stmt)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def purge_expired_events(session: AsyncSession, *, now: datetime) -> int:
    result = await session.execute(delete(ProcessedEvent).where(ProcessedEvent.expires_at < now))
    return int(result.rowcount)  # type: ignore[attr-defined]

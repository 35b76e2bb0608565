"""Slack event ids already handled (SPEC §1): claimed once, across replicas, kept for a TTL."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ProcessedEvent


async def claim_event(session: AsyncSession, *, team_id: str, event_id: str, expires_at: datetime) -> bool:
    """True if this call claimed the event id; False if someone (this replica or another) already had."""
    values = {"team_id": team_id, "event_id": event_id, "expires_at": expires_at}
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(ProcessedEvent).values(**values).on_conflict_do_nothing(index_elements=["team_id", "event_id"])
    result = await session.execute(stmt)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def purge_expired_events(session: AsyncSession, *, now: datetime) -> int:
    result = await session.execute(delete(ProcessedEvent).where(ProcessedEvent.expires_at < now))
    return int(result.rowcount)  # type: ignore[attr-defined]

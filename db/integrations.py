"""Integration rows: found by id or by name, the active ones of a workspace, and rows sealed under an old key."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Integration


async def active_integrations(session: AsyncSession, *, team_id: str) -> Sequence[Integration]:
    return (
        await session.scalars(
            select(Integration)
            .where(Integration.team_id == team_id, Integration.active.is_(True))
            .order_by(Integration.name)
        )
    ).all()


async def team_integrations(session: AsyncSession, *, team_id: str) -> Sequence[Integration]:
    return (
        await session.scalars(select(Integration).where(Integration.team_id == team_id).order_by(Integration.name))
    ).all()


async def find_integration(session: AsyncSession, *, team_id: str, ref: str, lock: bool = False) -> Integration | None:
    """By id, else by name (names compare without regard to case, as people type them)."""
    ref = ref.strip()
    stmt = select(Integration).where(
        Integration.team_id == team_id, or_(Integration.id == ref, func.lower(Integration.name) == ref.lower())
    )
    if lock:
        stmt = stmt.with_for_update()
    rows = (await session.scalars(stmt.limit(2))).all()
    by_id = [r for r in rows if r.id == ref]
    return by_id[0] if by_id else (rows[0] if len(rows) == 1 else None)


async def name_in_use(session: AsyncSession, *, team_id: str, name: str, other_than: str | None = None) -> bool:
    stmt = select(Integration.id).where(Integration.team_id == team_id, func.lower(Integration.name) == name.strip().lower())
    if other_than:
        stmt = stmt.where(Integration.id != other_than)
    return (await session.scalars(stmt.limit(1))).first() is not None


async def sealed_elsewhere(session: AsyncSession, *, primary_kid: str, limit: int) -> Sequence[Integration]:
    """Rows whose secrets are sealed under another key than the primary (what `vigil keys rotate` moves)."""
    stmt = (
        select(Integration)
        .where(Integration.secrets != "", or_(Integration.key_id.is_(None), Integration.key_id != primary_kid))
        .order_by(Integration.id)
        .limit(limit)
        .with_for_update()
    )
    return (await session.scalars(stmt)).all()


async def count_sealed(session: AsyncSession, *, primary_kid: str | None = None) -> int:
    stmt = select(func.count()).select_from(Integration).where(Integration.secrets != "")
    if primary_kid is not None:
        stmt = stmt.where(or_(Integration.key_id.is_(None), Integration.key_id != primary_kid))
    return int((await session.scalar(stmt)) or 0)


async def with_expired_previous_secret(session: AsyncSession, *, now: datetime) -> Sequence[Integration]:
    stmt = (
        select(Integration)
        .where(Integration.previous_secret_until.is_not(None), Integration.previous_secret_until <= now)
        .with_for_update()
    )
    return (await session.scalars(stmt)).all()

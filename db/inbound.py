"""The inbound inbox and log: a row per request of a known integration, claimed and finished like deliveries.

A verified delivery is inserted with its dedup id; a vendor's retry of the same delivery hits the unique index and
is answered as a duplicate without a second row. Claims are leases, as for deliveries and Slack steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import InboundDelivery, Incident, IntegrationLink

FINISHED = ("done", "ignored", "failed", "refused")


async def store(session: AsyncSession, values: dict[str, Any]) -> int | None:
    """Insert a row; None when a row with the same (integration, dedup id) exists already (a re-sent delivery)."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (
        insert(InboundDelivery)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["integration_id", "dedup_id"])
        .returning(InboundDelivery.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def duplicate_of(session: AsyncSession, *, integration_id: str, dedup_id: str) -> InboundDelivery | None:
    stmt = select(InboundDelivery).where(
        InboundDelivery.integration_id == integration_id, InboundDelivery.dedup_id == dedup_id
    )
    return (await session.scalars(stmt)).first()


def _due(now: datetime) -> Any:
    return (
        InboundDelivery.status == "pending",
        InboundDelivery.next_attempt_at <= now,
        or_(InboundDelivery.claimed_until.is_(None), InboundDelivery.claimed_until < now),
    )


async def claim(
    session: AsyncSession, *, now: datetime, until: datetime, token: str, limit: int, ids: Sequence[int] | None = None
) -> list[InboundDelivery]:
    """Claim due rows (or only `ids` among them), oldest first."""
    pick = select(InboundDelivery.id).where(*_due(now)).order_by(InboundDelivery.id).limit(limit)
    if ids is not None:
        pick = pick.where(InboundDelivery.id.in_(ids))
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    claimed = (
        await session.scalars(
            update(InboundDelivery)
            .where(InboundDelivery.id.in_(pick.scalar_subquery()))
            .values(claimed_until=until, claim_token=token)
            .returning(InboundDelivery.id)
            .execution_options(synchronize_session=False)
        )
    ).all()
    if not claimed:
        return []
    rows = await session.scalars(
        select(InboundDelivery)
        .where(InboundDelivery.id.in_(claimed))
        .order_by(InboundDelivery.id)
        .execution_options(populate_existing=True)
    )
    return list(rows.all())


async def settle(session: AsyncSession, *, row_id: int, token: str, values: dict[str, Any]) -> bool:
    """Write an attempt's outcome on a claimed row and give the claim back; False when the claim had passed on."""
    result = await session.execute(
        update(InboundDelivery)
        .where(InboundDelivery.id == row_id, InboundDelivery.claim_token == token)
        .values(claimed_until=None, claim_token=None, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def inbound_log(session: AsyncSession, *, integration_id: str, limit: int) -> list[InboundDelivery]:
    stmt = (
        select(InboundDelivery)
        .where(InboundDelivery.integration_id == integration_id)
        .order_by(InboundDelivery.id.desc())
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())


async def incident_by_link(session: AsyncSession, *, integration_id: str, external_id: str) -> Incident | None:
    stmt = (
        select(Incident)
        .join(IntegrationLink, IntegrationLink.incident_id == Incident.id)
        .where(IntegrationLink.integration_id == integration_id, IntegrationLink.external_id == external_id)
    )
    return (await session.scalars(stmt)).first()


async def purge_finished(session: AsyncSession, *, before: datetime) -> int:
    result = await session.execute(
        delete(InboundDelivery).where(InboundDelivery.status.in_(FINISHED), InboundDelivery.received_at < before)
    )
    return int(getattr(result, "rowcount", 0) or 0)

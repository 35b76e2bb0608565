"""The delivery outbox: claiming due rows, recording attempts, the log the CLI and App Home read.

Claims are one `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING id` on PostgreSQL, so two workers
never take the same row; SQLite serialises writers with `BEGIN IMMEDIATE`, which gives the same guarantee. A row
waits while an earlier delivery of the same (incident, integration) is still pending or retrying: vendors see
events in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, and_, bindparam, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from db.models import Delivery, Incident, Integration, IntegrationLink

OPEN_STATUSES = ("pending", "retrying")


def _due(now: datetime) -> Any:
    earlier = aliased(Delivery)
    return and_(
        Delivery.status.in_(OPEN_STATUSES),
        Delivery.next_attempt_at <= now,
        or_(Delivery.claimed_until.is_(None), Delivery.claimed_until < now),
        ~exists().where(
            earlier.integration_id == Delivery.integration_id,
            earlier.incident_id == Delivery.incident_id,
            earlier.id < Delivery.id,
            earlier.status.in_(OPEN_STATUSES),
        ),
    )


async def claim_due(session: AsyncSession, *, now: datetime, until: datetime, token: str, limit: int) -> list[int]:
    """Claim up to `limit` due deliveries for this worker (until `until`); their ids, oldest first."""
    pick = select(Delivery.id).where(_due(now)).order_by(Delivery.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True, of=Delivery)
    stmt = (
        update(Delivery)
        .where(Delivery.id.in_(pick.scalar_subquery()))
        .values(claimed_until=until, claim_token=token)
        .returning(Delivery.id)
        .execution_options(synchronize_session=False)
    )
    return sorted((await session.scalars(stmt)).all())


async def claimed(
    session: AsyncSession, ids: Sequence[int]
) -> tuple[list[Delivery], dict[str, Integration], dict[int, Incident], dict[tuple[int, str], IntegrationLink]]:
    """The claimed rows with their integrations, incidents and links, in four queries whatever the batch size."""
    rows = list((await session.scalars(select(Delivery).where(Delivery.id.in_(ids)).order_by(Delivery.id))).all())
    integration_ids = {d.integration_id for d in rows}
    incident_ids = {d.incident_id for d in rows if d.incident_id is not None}
    integrations = {i.id: i for i in (await session.scalars(select(Integration).where(Integration.id.in_(integration_ids))))}
    incidents = {i.id: i for i in (await session.scalars(select(Incident).where(Incident.id.in_(incident_ids))))}
    links = {
        (link.incident_id, link.integration_id): link
        for link in await session.scalars(
            select(IntegrationLink).where(
                IntegrationLink.incident_id.in_(incident_ids), IntegrationLink.integration_id.in_(integration_ids)
            )
        )
    }
    return rows, integrations, incidents, links


RESULT_KEYS = (
    "status",
    "attempts",
    "next_attempt_at",
    "last_attempt_at",
    "http_status",
    "duration_ms",
    "external_id",
    "error",
    "payload",
    "history",
)


async def record(session: AsyncSession, results: Sequence[dict[str, Any]]) -> int:
    """Write attempt results (each: `id`, `token` and RESULT_KEYS) in one executemany; a row whose claim passed to
    another worker meanwhile is left to that worker. Returns how many rows were written."""
    if not results:
        return 0
    table = Delivery.__table__
    assert isinstance(table, Table)
    stmt = (
        update(table)
        .where(table.c.id == bindparam("b_id"), table.c.claim_token == bindparam("b_token"))
        .values({key: bindparam(f"b_{key}") for key in RESULT_KEYS} | {"claimed_until": None, "claim_token": None})
    )
    params = [{"b_id": r["id"], "b_token": r["token"], **{f"b_{k}": r[k] for k in RESULT_KEYS}} for r in results]
    result = await session.execute(stmt, params)
    return int(getattr(result, "rowcount", 0) or 0)


async def release(session: AsyncSession, *, ids: Sequence[int], token: str) -> None:
    """Give back claims without an attempt (a delivery that waits for its incident's channel)."""
    if ids:
        await session.execute(
            update(Delivery)
            .where(Delivery.id.in_(ids), Delivery.claim_token == token)
            .values(claimed_until=None, claim_token=None)
            .execution_options(synchronize_session=False)
        )


async def renew(session: AsyncSession, *, ids: Sequence[int], token: str, until: datetime) -> None:
    """Extend the claims a live worker still holds (its attempts are still running)."""
    await session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids), Delivery.claim_token == token)
        .values(claimed_until=until)
        .execution_options(synchronize_session=False)
    )


async def fail_followers(session: AsyncSession, *, integration_id: str, incident_id: int, after_id: int, error: str) -> int:
    """Fail the later deliveries of a pair whose earlier one failed: they would arrive out of order."""
    result = await session.execute(
        update(Delivery)
        .where(
            Delivery.integration_id == integration_id,
            Delivery.incident_id == incident_id,
            Delivery.id > after_id,
            Delivery.status.in_(OPEN_STATUSES),
        )
        .values(status="failed", next_attempt_at=None, error=error, claimed_until=None, claim_token=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def cancel_open(session: AsyncSession, *, integration_id: str, reason: str) -> int:
    """Cancel what an integration still had to send (it was disabled)."""
    result = await session.execute(
        update(Delivery)
        .where(Delivery.integration_id == integration_id, Delivery.status.in_(OPEN_STATUSES))
        .values(status="cancelled", next_attempt_at=None, error=reason, claimed_until=None, claim_token=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def upsert_link(
    session: AsyncSession,
    *,
    team_id: str,
    incident_id: int,
    integration_id: str,
    external_id: str | None,
    external_url: str | None,
    data: dict[str, Any] | None,
) -> bool:
    """Record what the incident is in the integration's tool; True when its address is new (the incident's opening
    message links to it)."""
    link = (
        await session.scalars(
            select(IntegrationLink).where(
                IntegrationLink.incident_id == incident_id, IntegrationLink.integration_id == integration_id
            )
        )
    ).one_or_none()
    if link is None:
        link = IntegrationLink(team_id=team_id, incident_id=incident_id, integration_id=integration_id, data={})
        session.add(link)
    known = link.external_url
    if external_id:
        link.external_id = external_id
    if external_url:
        link.external_url = external_url
    if data:
        link.data = {**(link.data or {}), **data}
    await session.flush()
    return link.external_url != known


async def list_deliveries(
    session: AsyncSession,
    *,
    team_id: str,
    integration_id: str | None = None,
    status: str | None = None,
    incident_id: int | None = None,
    limit: int = 50,
) -> list[Delivery]:
    stmt = select(Delivery).where(Delivery.team_id == team_id)
    if integration_id:
        stmt = stmt.where(Delivery.integration_id == integration_id)
    if status:
        stmt = stmt.where(Delivery.status == status)
    if incident_id is not None:
        stmt = stmt.where(Delivery.incident_id == incident_id)
    return list((await session.scalars(stmt.order_by(Delivery.id.desc()).limit(limit))).all())


async def get_delivery(session: AsyncSession, *, team_id: str, ref: str) -> Delivery | None:
    """A delivery by its UUID, or by a unique prefix of at least 8 characters (what `deliveries list` shows)."""
    ref = ref.strip().lower()
    exact = (
        await session.scalars(select(Delivery).where(Delivery.team_id == team_id, Delivery.delivery_id == ref))
    ).one_or_none()
    if exact is not None or len(ref) < 8:
        return exact
    rows = (
        await session.scalars(
            select(Delivery)
            .where(Delivery.team_id == team_id, Delivery.delivery_id.startswith(ref, autoescape=True))
            .limit(2)
        )
    ).all()
    return rows[0] if len(rows) == 1 else None


async def count_by_status(session: AsyncSession, *, integration_id: str) -> dict[str, int]:
    rows = await session.execute(
        select(Delivery.status, func.count()).where(Delivery.integration_id == integration_id).group_by(Delivery.status)
    )
    return {str(status): int(n) for status, n in rows.all()}


async def purge_finished(session: AsyncSession, *, before: datetime) -> int:
    """Delete finished deliveries created before `before` (the log is kept 30 days)."""
    result = await session.execute(
        delete(Delivery)
        .where(Delivery.status.in_(("success", "failed", "cancelled")), Delivery.created_at < before)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)

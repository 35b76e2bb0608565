"""Durable Slack steps of incident changes: written with the change, claimed by whoever runs them, finished or
retried, and found again after a crash.

A step is ready when its parent (`after_id`) is done. Claims are leases (`claim_token`, `claimed_until`): a runner
that dies leaves its steps to be claimed again when the lease ends. Steps that only bring a surface in line with
the incident (an edit of the opening message, the topic, the announcement) are coalesced: a new one is not written
while one of the same kind is still waiting, since the one that runs reads the incident as it is then.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from db.models import SurfaceStep


def _ready(now: datetime, skip: Collection[int] = ()) -> Any:
    """Ready to run: pending, due, not claimed (or the claim's lease is over), its parent done; and not in `skip`, the
    steps this process is running (their lease is renewed while they run, but a clock may jump)."""
    parent = aliased(SurfaceStep)
    return and_(
        SurfaceStep.id.not_in(list(skip)) if skip else true(),
        SurfaceStep.status == "pending",
        SurfaceStep.next_attempt_at <= now,
        or_(SurfaceStep.claimed_until.is_(None), SurfaceStep.claimed_until < now),
        or_(
            SurfaceStep.after_id.is_(None),
            exists().where(parent.id == SurfaceStep.after_id, parent.status == "done"),
        ),
    )


async def waiting_of_kind(session: AsyncSession, *, incident_id: int, kind: str, now: datetime) -> SurfaceStep | None:
    """A step of `kind` for the incident that has not started (pending, not claimed): a new one of the same kind
    would do the same work.

    On PostgreSQL the row is locked until the caller's change commits, so no worker claims it (`SKIP LOCKED`) and
    runs it before the change it is meant to show; if a worker claimed it first, the lock waits for that claim and
    the row no longer counts as waiting (the caller then writes its own step)."""
    stmt = (
        select(SurfaceStep)
        .where(
            SurfaceStep.incident_id == incident_id,
            SurfaceStep.kind == kind,
            SurfaceStep.status == "pending",
            or_(SurfaceStep.claimed_until.is_(None), SurfaceStep.claimed_until < now),
        )
        .order_by(SurfaceStep.id.desc())
        .limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).first()


async def unfinished_of_kind(session: AsyncSession, *, incident_id: int, kind: str) -> SurfaceStep | None:
    """The newest step of `kind` not yet done (a later step that depends on its outcome waits for it)."""
    stmt = (
        select(SurfaceStep)
        .where(SurfaceStep.incident_id == incident_id, SurfaceStep.kind == kind, SurfaceStep.status != "done")
        .order_by(SurfaceStep.id.desc())
        .limit(1)
    )
    return (await session.scalars(stmt)).first()


async def claim_ready(
    session: AsyncSession,
    *,
    team_id: str,
    incident_id: int,
    now: datetime,
    until: datetime,
    token: str,
    skip: Collection[int] = (),
    limit: int = 50,
) -> list[SurfaceStep]:
    """Claim the incident's ready steps for this runner, oldest first; none if the incident is another workspace's."""
    pick = (
        select(SurfaceStep.id)
        .where(SurfaceStep.team_id == team_id, SurfaceStep.incident_id == incident_id, _ready(now, skip))
        .order_by(SurfaceStep.id)
    )
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True, of=SurfaceStep)
    ids = (
        await session.scalars(
            update(SurfaceStep)
            .where(SurfaceStep.id.in_(pick.limit(limit).scalar_subquery()))
            .values(claimed_until=until, claim_token=token)
            .returning(SurfaceStep.id)
            .execution_options(synchronize_session=False)
        )
    ).all()
    if not ids:
        return []
    rows = await session.scalars(
        select(SurfaceStep).where(SurfaceStep.id.in_(ids)).order_by(SurfaceStep.id).execution_options(populate_existing=True)
    )
    return list(rows.all())


async def incidents_with_ready_steps(
    session: AsyncSession, *, team_id: str, now: datetime, skip: Collection[int] = (), limit: int = 50
) -> list[int]:
    """The workspace's incidents with ready steps (another workspace's are its own bot's to run, with its token)."""
    stmt = (
        select(SurfaceStep.incident_id)
        .where(SurfaceStep.team_id == team_id, _ready(now, skip))
        .group_by(SurfaceStep.incident_id)
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())


async def renew(session: AsyncSession, *, step_ids: Sequence[int], token: str, until: datetime) -> int:
    """Extend the lease of the steps a live runner still holds; how many it still holds."""
    outcome = await session.execute(
        update(SurfaceStep)
        .where(SurfaceStep.id.in_(step_ids), SurfaceStep.claim_token == token, SurfaceStep.status == "pending")
        .values(claimed_until=until)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(outcome, "rowcount", 0) or 0)


async def finish(session: AsyncSession, *, step_id: int, token: str, now: datetime, result: dict[str, Any]) -> bool:
    """Mark a claimed step done; False when the claim had passed to another runner meanwhile."""
    outcome = await session.execute(
        update(SurfaceStep)
        .where(SurfaceStep.id == step_id, SurfaceStep.claim_token == token)
        .values(status="done", result=result, done_at=now, claimed_until=None, claim_token=None, error=None)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(outcome, "rowcount", 0))


async def postpone(
    session: AsyncSession, *, step_id: int, token: str, attempts: int, at: datetime | None, error: str
) -> None:
    """After a failed attempt: try again at `at`, or (None) give up: the step is `failed` until someone repairs it."""
    values: dict[str, Any] = {"attempts": attempts, "error": error[:255], "claimed_until": None, "claim_token": None}
    values |= {"next_attempt_at": at} if at is not None else {"status": "failed"}
    await session.execute(
        update(SurfaceStep)
        .where(SurfaceStep.id == step_id, SurfaceStep.claim_token == token)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


async def release(session: AsyncSession, *, step_ids: Sequence[int], token: str) -> None:
    """Give back claims without an attempt (a step whose parent did not finish)."""
    if step_ids:
        await session.execute(
            update(SurfaceStep)
            .where(SurfaceStep.id.in_(step_ids), SurfaceStep.claim_token == token)
            .values(claimed_until=None, claim_token=None)
            .execution_options(synchronize_session=False)
        )


async def unfinished_steps(session: AsyncSession, *, incident_id: int) -> list[SurfaceStep]:
    stmt = select(SurfaceStep).where(SurfaceStep.incident_id == incident_id, SurfaceStep.status != "done")
    return list((await session.scalars(stmt.order_by(SurfaceStep.id))).all())


async def failed_steps(session: AsyncSession, *, incident_id: int) -> list[SurfaceStep]:
    stmt = select(SurfaceStep).where(SurfaceStep.incident_id == incident_id, SurfaceStep.status == "failed")
    return list((await session.scalars(stmt.order_by(SurfaceStep.id))).all())


async def requeue(session: AsyncSession, *, team_id: str, incident_ids: Sequence[int] | None, now: datetime) -> list[int]:
    """A repair of the workspace's steps: failed steps back in the queue with a fresh count, and waiting ones (backing
    off, or left by a crash) due now; the incidents they belong to. Steps running elsewhere are left to their runner."""
    idle = or_(SurfaceStep.claimed_until.is_(None), SurfaceStep.claimed_until < now)
    where = [SurfaceStep.team_id == team_id, SurfaceStep.status != "done", idle]
    if incident_ids is not None:
        where.append(SurfaceStep.incident_id.in_(incident_ids))
    touched = (await session.scalars(select(SurfaceStep.incident_id).where(*where).distinct())).all()
    await session.execute(
        update(SurfaceStep)
        .where(*where)
        .values(status="pending", attempts=0, next_attempt_at=now, claimed_until=None, claim_token=None)
        .execution_options(synchronize_session=False)
    )
    return list(touched)


async def unfinished_incidents(session: AsyncSession, *, team_id: str) -> list[int]:
    """The workspace's incidents with steps not done (pending or failed): what `vigil incidents repair` without a
    number looks at."""
    stmt = select(SurfaceStep.incident_id).where(SurfaceStep.team_id == team_id, SurfaceStep.status != "done").distinct()
    return list((await session.scalars(stmt)).all())

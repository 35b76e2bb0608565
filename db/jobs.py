"""Scheduled jobs in the database: schedules admins set, a lease per job, and the record of every run.

The lease is what keeps a job from running twice at once, whichever process asks (the leader's scheduler, another
replica, `vigil jobs run`): it is taken with one conditional upsert, so of two racing takers exactly one wins, on
PostgreSQL (which re-checks the condition on the row the winner wrote) as on SQLite (one writer at a time).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import JobLease, JobRun, JobSchedule


def _insert(session: AsyncSession) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


# ---------------------------------------------------------------- leases


async def take_lease(session: AsyncSession, *, team_id: str, name: str, holder: str, now: datetime, until: datetime) -> bool:
    """True if `holder` now holds the job's lease: there was none, or the one there had expired."""
    stmt = _insert(session)(JobLease).values(team_id=team_id, name=name, holder=holder, acquired_at=now, expires_at=until)
    upsert = stmt.on_conflict_do_update(
        index_elements=["team_id", "name"],
        set_={"holder": holder, "acquired_at": now, "expires_at": until, "run_id": None},
        where=JobLease.expires_at <= now,
    )
    return (await session.execute(upsert.returning(JobLease.name))).first() is not None


async def lease_of(session: AsyncSession, *, team_id: str, name: str) -> JobLease | None:
    return await session.get(JobLease, (team_id, name), populate_existing=True)


async def bind_lease(session: AsyncSession, *, team_id: str, name: str, holder: str, run_id: int) -> None:
    stmt = update(JobLease).where(JobLease.team_id == team_id, JobLease.name == name, JobLease.holder == holder)
    await session.execute(stmt.values(run_id=run_id))


async def renew_lease(session: AsyncSession, *, team_id: str, name: str, holder: str, until: datetime) -> bool:
    """Extend a lease this holder still has; False when it has lost it (expired and taken by someone else)."""
    stmt = (
        update(JobLease)
        .where(JobLease.team_id == team_id, JobLease.name == name, JobLease.holder == holder)
        .values(expires_at=until)
    )
    return bool((await session.execute(stmt)).rowcount)  # type: ignore[attr-defined]


async def release_lease(session: AsyncSession, *, team_id: str, name: str, holder: str) -> None:
    await session.execute(
        delete(JobLease).where(JobLease.team_id == team_id, JobLease.name == name, JobLease.holder == holder)
    )


async def live_leases(session: AsyncSession, *, team_id: str, now: datetime) -> dict[str, JobLease]:
    rows = await session.scalars(select(JobLease).where(JobLease.team_id == team_id, JobLease.expires_at > now))
    return {row.name: row for row in rows}


# ---------------------------------------------------------------- runs


async def start_run(session: AsyncSession, *, team_id: str, name: str, trigger: str, holder: str, now: datetime) -> JobRun:
    """Record a run, under the lease its holder just took. Runs of this job still marked running belong to runners
    that died (the lease was free), so they are closed as abandoned first."""
    await session.execute(
        update(JobRun)
        .where(JobRun.team_id == team_id, JobRun.name == name, JobRun.outcome == "running")
        .values(outcome="abandoned", finished_at=now, error="its runner stopped before the end (the lease ran out)")
    )
    run = JobRun(team_id=team_id, name=name, trigger=trigger, holder=holder, started_at=now, outcome="running", counts={})
    session.add(run)
    await session.flush()
    await bind_lease(session, team_id=team_id, name=name, holder=holder, run_id=run.id)
    return run


async def finish_run(
    session: AsyncSession, *, run_id: int, outcome: str, counts: Mapping[str, Any], error: str | None, now: datetime
) -> None:
    stmt = update(JobRun).where(JobRun.id == run_id, JobRun.outcome == "running")
    await session.execute(stmt.values(outcome=outcome, counts=dict(counts), error=error, finished_at=now))


async def save_counts(session: AsyncSession, *, run_id: int, counts: Mapping[str, Any]) -> None:
    """Progress of a long run, so `vigil jobs list` shows how far it got."""
    stmt = update(JobRun).where(JobRun.id == run_id, JobRun.outcome == "running").values(counts=dict(counts))
    await session.execute(stmt)


async def get_run(session: AsyncSession, *, run_id: int) -> JobRun | None:
    return await session.get(JobRun, run_id, populate_existing=True)


async def last_runs(session: AsyncSession, *, team_id: str, names: Sequence[str] | None = None) -> dict[str, JobRun]:
    """The newest run of each job."""
    newest = select(func.max(JobRun.id)).where(JobRun.team_id == team_id).group_by(JobRun.name)
    if names is not None:
        newest = newest.where(JobRun.name.in_(list(names)))
    rows = await session.scalars(select(JobRun).where(JobRun.id.in_(newest)))
    return {row.name: row for row in rows}


async def recent_runs(session: AsyncSession, *, team_id: str, name: str | None = None, limit: int = 20) -> list[JobRun]:
    stmt = select(JobRun).where(JobRun.team_id == team_id)
    if name is not None:
        stmt = stmt.where(JobRun.name == name)
    return list((await session.scalars(stmt.order_by(JobRun.id.desc()).limit(limit))).all())


async def purge_runs(session: AsyncSession, *, before: datetime) -> int:
    """Finished runs started before `before` (a running one stays, whatever its age)."""
    stmt = delete(JobRun).where(JobRun.started_at < before, JobRun.outcome != "running")
    return int((await session.execute(stmt)).rowcount)  # type: ignore[attr-defined]


# ---------------------------------------------------------------- schedules


@dataclass(frozen=True)
class StoredSchedule:
    interval_minutes: int | None  # None: off
    options: Mapping[str, Any]


async def schedules(session: AsyncSession, *, team_id: str) -> dict[str, StoredSchedule]:
    rows = await session.scalars(select(JobSchedule).where(JobSchedule.team_id == team_id))
    return {row.name: StoredSchedule(row.interval_minutes, dict(row.options or {})) for row in rows}


async def save_schedule(
    session: AsyncSession,
    *,
    team_id: str,
    name: str,
    interval_minutes: int | None,
    options: Mapping[str, Any],
    by: str | None,
    now: datetime,
) -> None:
    changes = {"interval_minutes": interval_minutes, "options": dict(options), "updated_by": by, "updated_at": now}
    stmt = _insert(session)(JobSchedule).values(team_id=team_id, name=name, **changes)
    await session.execute(stmt.on_conflict_do_update(index_elements=["team_id", "name"], set_=changes))


# ---------------------------------------------------------------- the leader (PostgreSQL)


@dataclass(frozen=True)
class LeaderInfo:
    name: str  # the application_name of the leader's lock connection: "vigil-leader <host>:<pid>"
    since: datetime | None


async def advisory_lock_holder(session: AsyncSession, *, key: int) -> LeaderInfo | None:
    """Who holds the scheduler's advisory lock, from `pg_locks` (None on SQLite, or when nobody does)."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    # A bigint key is stored as two 32-bit halves: classid the high one, objid the low one, objsubid 1.
    row = (
        await session.execute(
            text(
                "SELECT a.application_name, a.backend_start FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
                "AND l.classid = :high AND l.objid = :low "
                # Advisory locks belong to a database: another Vigil's database on the same server has its own leader.
                "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) LIMIT 1"
            ),
            {"high": (key >> 32) & 0xFFFFFFFF, "low": key & 0xFFFFFFFF},
        )
    ).first()
    if row is None:
        return None
    return LeaderInfo(name=str(row[0] or ""), since=row[1])

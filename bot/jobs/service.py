"""Running a job: the lease first, then a run record, the job itself (its lease renewed while it lasts), and the
outcome, counts and sanitised error written at the end. The one path for every door: the leader's scheduler,
`vigil jobs run` and App Home.

Time comes from the injected clock (lease expiry, due times, run records); only the waits between renewals and
polls are real time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import SQLAlchemyError

from bot.clock import Clock
from bot.incidents.errors import InvalidInput, NotFound
from bot.incidents.ports import ChatError
from bot.jobs.forms import SCHEDULES_LABELS, JobsForm, check_jobs_form
from bot.jobs.names import DEFAULT_KEEP_DAYS, DEFAULT_MINUTES, JOB_NAMES, KEEP_DAYS, PURGE_LOGS
from bot.logs import redact
from bot.permissions import require_admin
from db import jobs as repo
from db.engine import database_unavailable, log_failure, outage_summary
from db.models import JobRun

if TYPE_CHECKING:
    from bot.container import Container

log = logging.getLogger(__name__)

DOING_SCHEDULES = "change job schedules"
ERROR_MAX = 500
STOPPED = "stopped before the end (Vigil stopped, or this replica is no longer the leader)"
LEASE_LOST = "stopped: its lease was lost (another runner took the job over)"


@dataclass(frozen=True)
class JobTiming:
    """How long things last. Leases are measured on the injected clock; the rest are real seconds between attempts."""

    lease: timedelta = timedelta(minutes=2)  # a runner that dies frees its job this long after its last renewal
    renew_every: float = 30.0
    heartbeat: float = 5.0  # the leader checks its lock connection this often
    heartbeat_timeout: float = 5.0
    leader_poll: float = 5.0  # a replica that is not the leader tries the lock this often
    reconcile: float = 30.0  # the leader re-reads schedules and runs this often (edits from other replicas, expiries)
    wait_poll: float = 1.0  # `vigil jobs run --wait` looks at the lease this often


Progress = Callable[[Mapping[str, int]], None]
Sleep = Callable[[float], Awaitable[None]]


@dataclass
class JobContext:
    """What a job gets: the wiring, its workspace, and its counts (which the run record keeps)."""

    container: Container
    team_id: str
    sleep: Sleep
    progress: Progress | None = None
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def clock(self) -> Clock:
        return self.container.clock

    def count(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def report(self) -> None:
        """Tell whoever watches (`vigil jobs run` prints it) how far the run got."""
        if self.progress is not None:
            self.progress(dict(self.counts))


JobFunc = Callable[[JobContext], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class JobSpec:
    name: str
    run: JobFunc | None  # None: not available in this installation (`unavailable` says why)
    summary: str
    unavailable: str = ""


@dataclass(frozen=True)
class RunView:
    id: int
    name: str
    trigger: str
    holder: str
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    counts: Mapping[str, Any]
    error: str | None

    @classmethod
    def of(cls, row: JobRun) -> RunView:
        return cls(
            id=row.id,
            name=row.name,
            trigger=row.trigger,
            holder=row.holder,
            started_at=row.started_at,
            finished_at=row.finished_at,
            outcome=row.outcome,
            counts=dict(row.counts or {}),
            error=row.error,
        )


@dataclass(frozen=True)
class JobLine:
    """One job as `vigil jobs list` and App Home show it."""

    name: str
    summary: str
    interval_minutes: int | None  # None: off
    default_minutes: int
    last: RunView | None
    next_run: datetime | None  # None: off, or not available
    running: str | None  # the holder of a live lease
    unavailable: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Planned:
    """What the leader's scheduler needs of a job: how often, and when it is next due (on the injected clock)."""

    name: str
    interval: timedelta
    due: datetime


class Busy(Exception):
    """The job's lease is held: it is running elsewhere (or its runner died less than a lease ago)."""

    def __init__(self, name: str, holder: str, since: datetime, until: datetime) -> None:
        super().__init__(f"{name} is already running ({holder}, since {since:%Y-%m-%d %H:%M:%S} UTC)")
        self.name, self.holder, self.since, self.until = name, holder, since, until


class LeaseLost(Exception):
    pass


def describe_error(exc: BaseException) -> str:
    """A run's error in one line, without secrets: Slack's error code, the database's complaint, or the exception."""
    if isinstance(exc, SlackApiError):
        code = exc.response.get("error") if isinstance(exc.response.data, dict) else None
        text = f"Slack answered {code or exc.response.status_code}"
    elif isinstance(exc, ChatError):
        text = f"Slack answered {exc.code}"
    elif database_unavailable(exc):
        text = f"database unavailable: {outage_summary(exc)}"
    elif isinstance(exc, SQLAlchemyError):
        cause = str(getattr(exc, "orig", None) or exc).splitlines()
        text = f"database: {type(exc).__name__}: {cause[0] if cause else ''}"
    else:
        lines = str(exc).splitlines()
        text = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    return redact(text)[:ERROR_MAX]


def early_allowance(interval: timedelta) -> timedelta:
    """How early a scheduled run may come and still count as due: the scheduler fires one interval after the previous
    fire, which is a moment before the previous run was recorded."""
    return min(interval / 20, timedelta(minutes=1))


def next_due(last: JobRun | None, interval: timedelta, *, now: datetime, lease_live: bool) -> datetime:
    """When a job is next due, from its last recorded run: one interval after that run started; at once when it never
    ran, or when its last run was left running by a runner whose lease is gone (so it did not finish)."""
    if last is None:
        return now
    if last.outcome == "running" and not lease_live:
        return now
    return last.started_at + interval


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class JobService:
    def __init__(self, container: Container, *, timing: JobTiming | None = None, sleep: Sleep | None = None) -> None:
        self.container = container
        self.timing = timing or JobTiming()
        self.sleep: Sleep = sleep or asyncio.sleep
        self._specs: dict[str, JobSpec] | None = None

    @property
    def clock(self) -> Clock:
        return self.container.clock

    @property
    def specs(self) -> dict[str, JobSpec]:
        if self._specs is None:
            from bot.jobs.registry import job_specs

            self._specs = job_specs()
        return self._specs

    def spec(self, name: str) -> JobSpec:
        spec = self.specs.get(name)
        if spec is None:
            raise InvalidInput(f"no job called {name}; the jobs are: {', '.join(JOB_NAMES)}")
        return spec

    # ---------------------------------------------------------------- running

    async def run(
        self,
        name: str,
        *,
        team_id: str,
        trigger: str = "cli",
        progress: Progress | None = None,
        wait: float | None = None,
    ) -> RunView:
        """Run a job now, whatever its schedule. Busy when it is running elsewhere; with `wait` (seconds), wait that
        long for it to finish first."""
        spec = self.spec(name)
        if spec.run is None:
            raise NotFound(f"{name} is not available: {spec.unavailable}")
        deadline = time.monotonic() + (wait or 0.0)
        while True:
            try:
                holder, run = await self._start(name, team_id=team_id, trigger=trigger, only_if_due=None)
            except Busy:
                if wait is None or time.monotonic() >= deadline:
                    raise
                await asyncio.sleep(self.timing.wait_poll)
                continue
            assert run is not None
            return await self._execute(spec, run, holder=holder, team_id=team_id, progress=progress)

    async def run_scheduled(self, name: str, *, team_id: str) -> RunView | None:
        """The scheduler's run: only if the job is due by its last recorded run (whoever ran it), and only if nobody
        runs it now. None when there was nothing to do."""
        spec = self.spec(name)
        if spec.run is None:
            return None
        interval = (await self._intervals(team_id)).get(name)
        if interval is None:
            return None
        try:
            holder, run = await self._start(name, team_id=team_id, trigger="schedule", only_if_due=interval)
        except Busy as busy:
            log.debug("%s not started: %s", name, busy)
            return None
        if run is None:
            return None
        return await self._execute(spec, run, holder=holder, team_id=team_id, progress=None)

    async def _start(
        self, name: str, *, team_id: str, trigger: str, only_if_due: timedelta | None
    ) -> tuple[str, JobRun | None]:
        """Take the lease and record the run, in one transaction. With `only_if_due`, a job that is not due yet is
        left alone (lease given back, nothing recorded)."""
        holder = f"{holder_name()}:{uuid.uuid4().hex[:8]}"
        now = self.clock.now()
        async with self.container.sessions() as session, session.begin():
            if not await repo.take_lease(
                session, team_id=team_id, name=name, holder=holder, now=now, until=now + self.timing.lease
            ):
                lease = await repo.lease_of(session, team_id=team_id, name=name)
                raise Busy(name, lease.holder if lease else "?", lease.acquired_at if lease else now, now)
            if only_if_due is not None:
                last = (await repo.last_runs(session, team_id=team_id, names=[name])).get(name)
                due = next_due(last, only_if_due, now=now, lease_live=False)
                if due - early_allowance(only_if_due) > now:
                    await repo.release_lease(session, team_id=team_id, name=name, holder=holder)
                    return holder, None
            run = await repo.start_run(session, team_id=team_id, name=name, trigger=trigger, holder=holder, now=now)
        log.info("job %s started (run %s, %s)", name, run.id, trigger)
        return holder, run

    async def _execute(self, spec: JobSpec, run: JobRun, *, holder: str, team_id: str, progress: Progress | None) -> RunView:
        assert spec.run is not None
        ctx = JobContext(container=self.container, team_id=team_id, sleep=self.sleep, progress=progress)
        work: asyncio.Task[None] = asyncio.create_task(spec.run(ctx), name=f"vigil-job-{spec.name}")
        done = asyncio.Event()
        renewing = asyncio.create_task(
            self._renew(spec.name, run.id, holder=holder, team_id=team_id, ctx=ctx, work=work, done=done)
        )
        outcome, error, stopping = "ok", None, False
        try:
            await work
        except asyncio.CancelledError:
            current = asyncio.current_task()
            stopping = current is not None and current.cancelling() > 0
            # Stopping: this runner was told to stop (shutdown, or the replica is no longer the leader). Otherwise the
            # renewal found the lease taken and stopped the job.
            outcome, error = "failed", STOPPED if stopping else LEASE_LOST
        except Exception as exc:
            outcome, error = "failed", describe_error(exc)
            # A traceback only for what may be a bug: Slack's refusals and a database outage say all in one line.
            expected = isinstance(exc, SlackApiError | ChatError) or database_unavailable(exc)
            log.warning("job %s failed: %s", spec.name, error, exc_info=not expected)
        finally:
            # Told, not cancelled: a renewal in the middle of its transaction finishes it first.
            done.set()
            with contextlib.suppress(asyncio.CancelledError, LeaseLost):
                await renewing
        await asyncio.shield(self._finish(spec.name, run.id, holder, team_id, outcome, ctx.counts, error))
        if stopping:
            raise asyncio.CancelledError
        log.info("job %s %s (run %s) %s", spec.name, outcome, run.id, dict(ctx.counts))
        async with self.container.sessions() as session:
            row = await repo.get_run(session, run_id=run.id)
        assert row is not None
        return RunView.of(row)

    async def _finish(
        self, name: str, run_id: int, holder: str, team_id: str, outcome: str, counts: Mapping[str, int], error: str | None
    ) -> None:
        try:
            async with self.container.sessions() as session, session.begin():
                # The lease row first, then the run's: the order the renewal takes them in, so the two never deadlock.
                await repo.release_lease(session, team_id=team_id, name=name, holder=holder)
                await repo.finish_run(
                    session, run_id=run_id, outcome=outcome, counts=counts, error=error, now=self.clock.now()
                )
        except Exception as exc:
            log_failure(log, exc, "job %s: run %s not recorded; its lease runs out on its own", name, run_id)

    async def _renew(
        self,
        name: str,
        run_id: int,
        *,
        holder: str,
        team_id: str,
        ctx: JobContext,
        work: asyncio.Task[None],
        done: asyncio.Event,
    ) -> None:
        """Keep the lease (and save the counts so far) while the job runs; a lease found taken stops the job."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), self.timing.renew_every)
            if done.is_set():
                return
            try:
                async with self.container.sessions() as session, session.begin():
                    kept = await repo.renew_lease(
                        session, team_id=team_id, name=name, holder=holder, until=self.clock.now() + self.timing.lease
                    )
                    if kept:
                        await repo.save_counts(session, run_id=run_id, counts=ctx.counts)
            except Exception as exc:
                log_failure(log, exc, "job %s: could not renew its lease; trying again", name)
                continue
            if not kept:
                log.error("job %s: its lease was taken over; stopping this run", name)
                work.cancel()
                raise LeaseLost(name)

    # ---------------------------------------------------------------- reading

    async def _intervals(self, team_id: str) -> dict[str, timedelta]:
        """Each available job's interval (a job switched off is absent)."""
        async with self.container.sessions() as session:
            stored = await repo.schedules(session, team_id=team_id)
        intervals = {}
        for name, spec in self.specs.items():
            minutes = stored[name].interval_minutes if name in stored else DEFAULT_MINUTES[name]
            if spec.run is not None and minutes:
                intervals[name] = timedelta(minutes=minutes)
        return intervals

    async def plan(self, *, team_id: str) -> list[Planned]:
        """For the leader's scheduler: every job that is on, with its interval and when it is next due."""
        intervals = await self._intervals(team_id)
        now = self.clock.now()
        async with self.container.sessions() as session:
            last = await repo.last_runs(session, team_id=team_id)
            leases = await repo.live_leases(session, team_id=team_id, now=now)
        return [
            Planned(name, interval, next_due(last.get(name), interval, now=now, lease_live=name in leases))
            for name, interval in intervals.items()
        ]

    async def overview(self, *, team_id: str) -> list[JobLine]:
        now = self.clock.now()
        async with self.container.sessions() as session:
            stored = await repo.schedules(session, team_id=team_id)
            last = await repo.last_runs(session, team_id=team_id)
            leases = await repo.live_leases(session, team_id=team_id, now=now)
        lines = []
        for name, spec in self.specs.items():
            schedule = stored.get(name)
            minutes = schedule.interval_minutes if schedule is not None else DEFAULT_MINUTES[name]
            run = last.get(name)
            lease = leases.get(name)
            due = None
            if minutes and spec.run is not None:
                due = max(now, next_due(run, timedelta(minutes=minutes), now=now, lease_live=lease is not None))
            lines.append(
                JobLine(
                    name=name,
                    summary=spec.summary,
                    interval_minutes=minutes,
                    default_minutes=DEFAULT_MINUTES[name],
                    last=RunView.of(run) if run is not None else None,
                    next_run=due,
                    running=lease.holder.rsplit(":", 1)[0] if lease is not None else None,
                    unavailable=spec.unavailable,
                    options=dict(schedule.options) if schedule is not None else {},
                )
            )
        return lines

    async def runs(self, *, team_id: str, name: str | None = None, limit: int = 20) -> list[RunView]:
        if name is not None:
            self.spec(name)
        async with self.container.sessions() as session:
            return [RunView.of(r) for r in await repo.recent_runs(session, team_id=team_id, name=name, limit=limit)]

    async def keep_days(self, *, team_id: str) -> int:
        """How long purge_logs keeps delivery, inbound and job-run logs (an admin may change it)."""
        async with self.container.sessions() as session:
            schedule = (await repo.schedules(session, team_id=team_id)).get(PURGE_LOGS)
        value = (schedule.options if schedule else {}).get(KEEP_DAYS)
        return int(value) if isinstance(value, int) and value > 0 else DEFAULT_KEEP_DAYS

    async def leader(self, *, key: int) -> repo.LeaderInfo | None:
        async with self.container.sessions() as session:
            return await repo.advisory_lock_holder(session, key=key)

    # ---------------------------------------------------------------- App Home (admins)

    async def schedules_form(self, *, team_id: str, user_id: str) -> list[JobLine]:
        await require_admin(self.container.directory, team_id=team_id, user_id=user_id, doing=DOING_SCHEDULES)
        return await self.overview(team_id=team_id)

    async def save_schedules(self, *, team_id: str, user_id: str, form: JobsForm) -> str:
        """Store the schedules an admin submitted; the leader picks them up at its next reconcile, whichever replica
        took the submission."""
        actor = await require_admin(self.container.directory, team_id=team_id, user_id=user_id, doing=DOING_SCHEDULES)
        checked = check_jobs_form(form, labels=SCHEDULES_LABELS)
        now = self.clock.now()
        async with self.container.sessions() as session, session.begin():
            stored = await repo.schedules(session, team_id=team_id)
            changed = 0
            for name, minutes in checked.minutes.items():
                if name not in self.specs:
                    continue
                options = dict(stored[name].options) if name in stored else {}
                if name == PURGE_LOGS and checked.keep_days is not None:
                    options[KEEP_DAYS] = checked.keep_days
                before = stored.get(name)
                if before is not None and before.interval_minutes == minutes and dict(before.options) == options:
                    continue
                if before is None and minutes == DEFAULT_MINUTES[name] and not options:
                    continue
                await repo.save_schedule(
                    session,
                    team_id=team_id,
                    name=name,
                    interval_minutes=minutes,
                    options=options,
                    by=actor.user_id,
                    now=now,
                )
                changed += 1
        return "Job schedules saved." if changed else "Job schedules unchanged."

"""APScheduler 3.x on the bot's loop (memory job store), run by the leader replica only.

Each job is an interval job whose first fire is when the job is next due by its last recorded run, whoever ran it
(another replica that led before, `vigil jobs run`): a new leader neither re-runs what just ran nor waits a whole
interval for what is overdue. Every fire goes through `JobService.run_scheduled`, which takes the job's lease and
checks again that it is due, so a job never runs twice at once nor twice in one interval.

A reconcile job re-reads schedules and runs every little while: schedules edited on another replica, a lease that
ran out under a dead runner, or a job switched off are picked up without a restart. Time is measured on the
injected clock and translated into the scheduler's wall-clock fire times.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.jobs.housekeeping import purge_logs, purge_rotated_secrets
from bot.jobs.service import JobService
from db.engine import log_failure

log = logging.getLogger(__name__)

__all__ = ["JobScheduler", "purge_logs", "purge_rotated_secrets"]

# A fire that comes late because the loop was busy (or a slow job held it up) still runs within this many seconds;
# later than that it is skipped, and the reconcile or the next interval runs the job.
MISFIRE_GRACE = 600
RECONCILE = "_reconcile"
EARLIER_BY = timedelta(seconds=1)  # a job due this much sooner than its planned fire is brought forward


class JobScheduler:
    def __init__(self, *, jobs: JobService, team_id: str) -> None:
        self.jobs = jobs
        self.team_id = team_id
        self.scheduler = AsyncIOScheduler(
            timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE}
        )
        self._intervals: dict[str, timedelta] = {}
        self._running: dict[str, asyncio.Task[object]] = {}

    async def start(self) -> None:
        self.scheduler.start()
        await self.reconcile()
        self.scheduler.add_job(
            self.reconcile, IntervalTrigger(seconds=self.jobs.timing.reconcile, timezone=UTC), id=RECONCILE
        )

    def _wall_time(self, due: datetime) -> datetime:
        """When, on the scheduler's wall clock, a job due at `due` on the injected clock should fire."""
        delay = max(timedelta(0), due - self.jobs.clock.now())
        return datetime.now(UTC) + delay

    async def reconcile(self) -> None:
        try:
            plan = {p.name: p for p in await self.jobs.plan(team_id=self.team_id)}
        except Exception as exc:
            log_failure(log, exc, "could not read the job schedules; keeping the current ones")
            return
        for name in [n for n in self._intervals if n not in plan]:
            self.scheduler.remove_job(name)
            del self._intervals[name]
            log.info("job %s switched off", name)
        for name, planned in plan.items():
            at = self._wall_time(planned.due)
            trigger = IntervalTrigger(seconds=planned.interval.total_seconds(), timezone=UTC)
            job = self.scheduler.get_job(name)
            if job is None:
                self.scheduler.add_job(self._fire, trigger, args=[name], id=name, next_run_time=at)
            elif self._intervals.get(name) != planned.interval:
                self.scheduler.reschedule_job(name, trigger=trigger)
                self.scheduler.modify_job(name, next_run_time=at)
                log.info("job %s now runs every %s", name, planned.interval)
            elif name not in self._running and job.next_run_time is not None and job.next_run_time > at + EARLIER_BY:
                self.scheduler.modify_job(name, next_run_time=at)
            self._intervals[name] = planned.interval

    async def _fire(self, name: str) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._running[name] = task
        try:
            await self.jobs.run_scheduled(name, team_id=self.team_id)
        except Exception as exc:
            log_failure(log, exc, "job %s could not be run", name)
        finally:
            self._running.pop(name, None)

    async def stop(self) -> None:
        """No more fires, and the runs in progress stop (each records that it was stopped and frees its lease)."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        running = list(self._running.values())
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)

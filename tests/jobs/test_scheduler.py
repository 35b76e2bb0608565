"""The leader's scheduler (APScheduler 3, memory store) with an injected clock: first runs when due by the last
recorded runs, each job once per interval, schedule edits picked up, running jobs stopped with the leadership; and the
PostgreSQL advisory-lock leadership itself."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from bot.jobs.leader import LOCK_KEY, PostgresLeader
from bot.jobs.names import DEFAULT_MINUTES, JOB_NAMES
from bot.jobs.service import JobTiming
from bot.scheduler import JobScheduler
from db.engine import make_engine, make_session_factory
from db.jobs import advisory_lock_holder, save_schedule, start_run
from db.models import JobRun
from tests.conftest import PG_ADMIN_URL
from tests.jobs.conftest import TEAM, World, eventually


async def run_counts(world: World) -> dict[str, int]:
    async with world.container.sessions() as session:
        rows = (await session.scalars(select(JobRun).where(JobRun.team_id == TEAM))).all()
    counts = dict.fromkeys(JOB_NAMES, 0)
    for row in rows:
        counts[row.name] += 1
    return counts


@pytest.fixture
async def scheduler(world: World) -> AsyncIterator[JobScheduler]:
    js = JobScheduler(jobs=world.container.jobs, team_id=TEAM)
    yield js
    await js.stop()


async def test_every_job_runs_when_first_due_then_once_per_interval(world: World, scheduler: JobScheduler) -> None:
    await scheduler.start()

    async def all_ran() -> bool:
        async with world.container.sessions() as session:
            rows = (await session.scalars(select(JobRun).where(JobRun.outcome != "running"))).all()
        return {r.name for r in rows} == set(JOB_NAMES)

    await eventually(all_ran, what="a first run of every job")
    assert set((await run_counts(world)).values()) == {1}

    world.clock.advance(seconds=61)  # send_reminders' interval; every other job's is longer

    async def reminders_again() -> bool:
        async with world.container.sessions() as session:
            stmt = select(JobRun).where(JobRun.name == "send_reminders", JobRun.outcome != "running")
            return len((await session.scalars(stmt)).all()) == 2

    await eventually(reminders_again, what="send_reminders run and finished a second time")
    counts = await run_counts(world)
    assert counts == {**dict.fromkeys(JOB_NAMES, 1), "send_reminders": 2}
    async with world.container.sessions() as session:
        runs = (await session.scalars(select(JobRun).where(JobRun.name != "sync_pagerduty"))).all()
    assert {r.outcome for r in runs} == {"ok"} and {r.trigger for r in runs} == {"schedule"}


async def test_a_new_leader_plans_from_the_last_recorded_runs(world: World, scheduler: JobScheduler) -> None:
    now = world.clock.now()
    async with world.container.sessions() as session, session.begin():
        for name in JOB_NAMES:
            if name != "send_reminders":  # every job but one ran an hour ago under an earlier leader
                run = await start_run(
                    session, team_id=TEAM, name=name, trigger="schedule", holder="old:1:x", now=now - timedelta(hours=1)
                )
                run.outcome = "ok"
    await scheduler.start()

    async def reminders_ran() -> bool:
        return (await run_counts(world))["send_reminders"] == 1

    await eventually(reminders_ran, what="the job that never ran")
    counts = await run_counts(world)
    # Jobs due within the hour (intervals up to an hour) run now; the 4-hourly user sync waits three more hours.
    assert counts["sync_slack_users"] == 1 and counts["sync_slack_usergroups"] in (1, 2)
    job = scheduler.scheduler.get_job("sync_slack_users")
    assert job is not None
    expected = datetime.now(UTC) + timedelta(hours=3)
    assert abs((job.next_run_time - expected).total_seconds()) < 5


async def test_schedule_edits_from_any_replica_reach_the_leader(world: World, scheduler: JobScheduler) -> None:
    await scheduler.start()
    async with world.container.sessions() as session, session.begin():
        await save_schedule(
            session,
            team_id=TEAM,
            name="sync_slack_users",
            interval_minutes=5,
            options={},
            by="U0ALICE",
            now=world.clock.now(),
        )
        await save_schedule(
            session, team_id=TEAM, name="purge_logs", interval_minutes=None, options={}, by="U0ALICE", now=world.clock.now()
        )

    def interval_of(name: str) -> Callable[[], object]:
        job = scheduler.scheduler.get_job(name)
        return lambda: job.trigger.interval if job else None

    async def picked_up() -> bool:
        return scheduler.scheduler.get_job("purge_logs") is None and interval_of("sync_slack_users")() == timedelta(
            minutes=5
        )

    await eventually(picked_up, what="the edited schedules")
    assert interval_of("purge_rotated_secrets")() == timedelta(minutes=DEFAULT_MINUTES["purge_rotated_secrets"])


async def test_stopping_the_scheduler_stops_a_running_job_and_frees_its_lease(world: World, scheduler: JobScheduler) -> None:
    world.emu.hold("users.list")
    await scheduler.start()
    await world.emu.wait_until(lambda: world.emu.held("users.list") > 0, what="the user sync waiting on Slack")
    await scheduler.stop()
    world.emu.release("users.list")
    async with world.container.sessions() as session:
        [run] = (await session.scalars(select(JobRun).where(JobRun.name == "sync_slack_users"))).all()
    assert run.outcome == "failed" and (run.error or "").startswith("stopped before the end")
    assert (await world.run("sync_slack_users")).outcome == "ok"  # the lease was given back


# ---------------------------------------------------------------- PostgreSQL leadership


class Seat:
    """One replica's leadership, with what it was told."""

    def __init__(self, url: str, timing: JobTiming) -> None:
        self.events: list[str] = []
        self.leader = PostgresLeader(url=make_url(url), timing=timing, on_elected=self._elected, on_lost=self._lost)
        self.task: asyncio.Task[None] | None = None

    async def _elected(self) -> None:
        self.events.append("elected")

    async def _lost(self) -> None:
        self.events.append("lost")

    def start(self) -> None:
        self.task = asyncio.create_task(self.leader.run())

    async def stop(self) -> None:
        self.leader.stop()
        if self.task is not None:
            await asyncio.wait_for(self.task, 10)


async def until(check: Callable[[], bool], what: str) -> None:
    async def holds() -> bool:
        return check()

    await eventually(holds, what=what)


@pytest.mark.postgres
async def test_one_replica_leads_and_another_takes_over_when_it_stops(postgresql_url: str) -> None:
    timing = JobTiming(leader_poll=0.05, heartbeat=0.05, heartbeat_timeout=2.0)
    first, second = Seat(postgresql_url, timing), Seat(postgresql_url, timing)
    first.start()
    await until(lambda: first.leader.leading, "the first replica leading")
    second.start()
    await until(lambda: second.leader.tries >= 3, "the second replica trying the lock a few times")
    assert not second.leader.leading and second.events == []

    engine = make_engine(postgresql_url)
    try:
        async with make_session_factory(engine)() as session:
            holder = await advisory_lock_holder(session, key=LOCK_KEY)
        assert holder is not None and holder.name.startswith("vigil-leader ")
        await first.stop()
        assert first.events == ["elected", "lost"]
        await until(lambda: second.leader.leading, "the second replica taking over")
    finally:
        await second.stop()
        await engine.dispose()
    assert second.events == ["elected", "lost"]


@pytest.mark.postgres
async def test_a_leader_whose_lock_connection_dies_stops_its_jobs(postgresql_url: str) -> None:
    timing = JobTiming(leader_poll=0.05, heartbeat=0.05, heartbeat_timeout=2.0)
    seat = Seat(postgresql_url, timing)
    seat.start()
    await until(lambda: seat.leader.leading, "leading")
    dsn = make_url(postgresql_url).set(drivername="postgresql").render_as_string(hide_password=False)
    admin = await asyncpg.connect(dsn)
    try:
        # The server ends the leader's session (as it does for a dead peer once keepalive gives up): lock gone.
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name LIKE 'vigil-leader %' AND datname = current_database()"  # not a neighbour test's
        )
        await until(lambda: "lost" in seat.events, "the jobs stopped")
        await until(lambda: seat.events.count("elected") == 2, "leading again on a new connection")
    finally:
        await seat.stop()
        await admin.close()


@pytest.mark.postgres
async def test_the_leader_shown_is_this_databases_not_another_on_the_same_server(postgresql_url: str) -> None:
    other_database = make_url(PG_ADMIN_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    this_database = make_url(postgresql_url).set(drivername="postgresql").render_as_string(hide_password=False)
    engine = make_engine(postgresql_url)
    other = await asyncpg.connect(other_database, server_settings={"application_name": "vigil-leader elsewhere"})
    try:
        await other.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
        async with make_session_factory(engine)() as session:
            assert await advisory_lock_holder(session, key=LOCK_KEY) is None
        here = await asyncpg.connect(this_database, server_settings={"application_name": "vigil-leader here"})
        try:
            await here.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)  # not blocked: the lock is per database
            async with make_session_factory(engine)() as session:
                holder = await advisory_lock_holder(session, key=LOCK_KEY)
            assert holder is not None and holder.name == "vigil-leader here"
        finally:
            await here.close()
    finally:
        await other.close()
        await engine.dispose()

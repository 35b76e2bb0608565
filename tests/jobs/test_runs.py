"""Every run takes the job's lease first and is recorded: never twice at once (a second run refuses or waits), never
twice in one interval when scheduled, and a run whose runner died is taken over once its lease has run out."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.emulator import SlackEmulator
from bot.incidents.errors import InvalidInput
from bot.jobs.service import Busy, describe_error, early_allowance, next_due
from db.engine import make_engine
from db.jobs import lease_of, live_leases, start_run, take_lease
from db.models import JobLease, JobRun
from tests.app.test_hardening_database import pg_table_locked
from tests.jobs.conftest import TEAM, World, eventually, make_world


async def runs_of(world: World, name: str) -> list[JobRun]:
    async with world.container.sessions() as session:
        stmt = select(JobRun).where(JobRun.team_id == TEAM, JobRun.name == name).order_by(JobRun.id)
        return list((await session.scalars(stmt)).all())


async def held(world: World, method: str) -> None:
    await world.emu.wait_until(lambda: world.emu.held(method) > 0, what=f"a {method} call waiting")


async def test_a_run_is_recorded_with_start_end_outcome_and_counts(world: World) -> None:
    started = world.clock.now()
    run = await world.run("sync_slack_users")
    [row] = await runs_of(world, "sync_slack_users")
    assert row.id == run.id and row.outcome == "ok" and row.trigger == "cli"
    assert row.started_at == started and row.finished_at == started
    assert row.counts["users"] == 4 and row.error is None
    async with world.container.sessions() as session:
        assert await lease_of(session, team_id=TEAM, name="sync_slack_users") is None  # given back


async def test_an_unknown_job_is_bad_input_naming_the_jobs(world: World) -> None:
    with pytest.raises(InvalidInput, match="no job called nosuch; the jobs are: sync_slack_users, "):
        await world.run("nosuch")


async def test_a_run_beside_a_running_job_refuses_or_waits(world: World) -> None:
    world.emu.hold("users.list")
    first = asyncio.create_task(world.run("sync_slack_users"))
    await held(world, "users.list")

    with pytest.raises(Busy, match="sync_slack_users is already running"):
        await world.run("sync_slack_users")
    with pytest.raises(Busy):
        await world.run("sync_slack_users", wait=0.1)  # waited, still running: refused
    waiting = asyncio.create_task(world.run("sync_slack_users", wait=30))
    await asyncio.sleep(0)
    assert not waiting.done()
    world.emu.release("users.list")
    one, two = await first, await waiting

    assert one.outcome == two.outcome == "ok"
    runs = await runs_of(world, "sync_slack_users")
    assert [r.id for r in runs] == [one.id, two.id]  # one after the other, never side by side
    assert world.emu.calls_to("users.list")[0].ok and len(world.emu.calls_to("users.list")) == 2


async def test_a_scheduled_run_happens_once_per_interval_whoever_ran_the_last(world: World) -> None:
    jobs = world.container.jobs
    first = await jobs.run_scheduled("send_reminders", team_id=TEAM)
    assert first is not None and first.trigger == "schedule"
    assert await jobs.run_scheduled("send_reminders", team_id=TEAM) is None  # not due again yet
    world.clock.advance(seconds=50)
    assert await jobs.run_scheduled("send_reminders", team_id=TEAM) is None
    world.clock.advance(seconds=10)
    assert await jobs.run_scheduled("send_reminders", team_id=TEAM) is not None
    # A run by hand counts as the interval's run: the schedule goes on from it.
    world.clock.advance(seconds=30)
    await world.run("send_reminders")
    world.clock.advance(seconds=40)
    assert await jobs.run_scheduled("send_reminders", team_id=TEAM) is None
    world.clock.advance(seconds=20)
    assert await jobs.run_scheduled("send_reminders", team_id=TEAM) is not None
    assert len(await runs_of(world, "send_reminders")) == 4


async def test_a_dead_runners_lease_is_taken_over_once_it_runs_out(world: World) -> None:
    now = world.clock.now()
    async with world.container.sessions() as session, session.begin():
        assert await take_lease(
            session, team_id=TEAM, name="purge_logs", holder="gone:1:x", now=now, until=now + timedelta(minutes=2)
        )
        await start_run(session, team_id=TEAM, name="purge_logs", trigger="schedule", holder="gone:1:x", now=now)
    with pytest.raises(Busy, match=r"\(gone:1:x, since"):
        await world.run("purge_logs")
    # The next scheduled fire is due at once (the dead run never finished) but must wait for the lease.
    [planned] = [p for p in await world.container.jobs.plan(team_id=TEAM) if p.name == "purge_logs"]
    assert planned.due == now + timedelta(hours=1)  # its lease is live: as if it ran
    world.clock.advance(minutes=2)
    [planned] = [p for p in await world.container.jobs.plan(team_id=TEAM) if p.name == "purge_logs"]
    assert planned.due == world.clock.now()
    run = await world.container.jobs.run_scheduled("purge_logs", team_id=TEAM)
    assert run is not None and run.outcome == "ok"
    dead, mine = await runs_of(world, "purge_logs")
    assert dead.outcome == "abandoned" and "lease ran out" in (dead.error or "")
    assert mine.id == run.id


async def test_racing_takers_get_one_lease(world: World) -> None:
    now = world.clock.now()

    async def take(holder: str) -> bool:
        async with world.container.sessions() as session, session.begin():
            return await take_lease(
                session, team_id=TEAM, name="purge_logs", holder=holder, now=now, until=now + timedelta(minutes=1)
            )

    results = await asyncio.gather(*(take(f"h{i}") for i in range(8)))
    assert sorted(results) == [False] * 7 + [True]


async def test_a_run_that_loses_its_lease_stops(world: World) -> None:
    world.emu.hold("users.list")
    running = asyncio.create_task(world.run("sync_slack_users"))
    await held(world, "users.list")
    async with world.container.sessions() as session, session.begin():
        lease = await session.get(JobLease, (TEAM, "sync_slack_users"))
        assert lease is not None
        lease.holder = "someone-else:1:x"  # as if its lease had run out and another runner had taken it
    run = await asyncio.wait_for(running, 10)
    world.emu.release("users.list")
    assert run.outcome == "failed" and run.error == "stopped: its lease was lost (another runner took the job over)"


async def test_a_long_run_keeps_its_lease_and_shows_progress(world: World) -> None:
    world.emu.seed_users(600)
    world.emu.hold("users.list")
    running = asyncio.create_task(world.run("sync_slack_users"))
    await held(world, "users.list")
    world.clock.advance(minutes=10)  # far past the first expiry: the renewals (on the clock) keep it

    async def renewed() -> bool:
        async with world.container.sessions() as session:
            return "sync_slack_users" in await live_leases(session, team_id=TEAM, now=world.clock.now())

    await eventually(renewed, what="the lease renewed past the clock's jump")
    world.emu.release("users.list")
    assert (await running).outcome == "ok"


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_a_job_the_database_fails_is_recorded_and_logged_in_one_line(
    emulator: SlackEmulator, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with make_world(emulator, db_url, engine=make_engine(db_url, statement_timeout=0.5)) as world:
        async with pg_table_locked(db_url, "slack_user"):  # the sync's statements wait, then time out
            run = await world.run("sync_slack_users")
        [row] = await runs_of(world, "sync_slack_users")
    assert run.outcome == row.outcome == "failed"
    assert row.error == "database unavailable: TimeoutError"  # asyncpg's statement timeout says no more
    [failed] = [r for r in caplog.records if r.getMessage().startswith("job sync_slack_users failed")]
    assert failed.levelno == logging.WARNING and not failed.exc_info  # an outage is no bug: no traceback
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_errors_are_one_line_without_secrets() -> None:
    error = describe_error(RuntimeError("token xoxb-1234-abcd refused\nsecond line"))
    assert error == "RuntimeError: token [redacted] refused"
    assert len(describe_error(ValueError("x" * 2000))) == 500


def test_due_times() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    hour = timedelta(hours=1)
    assert next_due(None, hour, now=now, lease_live=False) == now
    ran = JobRun(started_at=now - timedelta(minutes=20), outcome="ok")
    assert next_due(ran, hour, now=now, lease_live=False) == now + timedelta(minutes=40)
    failed = JobRun(started_at=now - timedelta(minutes=20), outcome="failed")
    assert next_due(failed, hour, now=now, lease_live=False) == now + timedelta(minutes=40)
    running = JobRun(started_at=now - timedelta(minutes=20), outcome="running")
    assert next_due(running, hour, now=now, lease_live=True) == now + timedelta(minutes=40)
    assert next_due(running, hour, now=now, lease_live=False) == now
    assert early_allowance(timedelta(minutes=1)) == timedelta(seconds=3)
    assert early_allowance(timedelta(days=1)) == timedelta(minutes=1)
